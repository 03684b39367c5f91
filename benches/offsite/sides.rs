//! The two sides of the offsite bench: berth's worker code and restic
//! from the shell, each timed (wall and CPU, children included) after a
//! `sync`, so one step's writeback is not charged to the next.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use berth::backup::archive;
use berth::backup::mirror::{self, Mirror};
use berth::offsite::copy::{self, InstanceSource};
use berth::offsite::download::{self, Download};
use berth::offsite::restic::{parse_line, BackupLine};
use berth::offsite::Restic;
use berth::store::offsite::CopyDone;

use super::harness::{RestServer, Sshd};

/// One timed step.
#[derive(Default, Clone, Copy)]
pub struct Took {
    pub wall: f64,
    /// user + system seconds of this process and the children it waited for.
    pub cpu: f64,
}

impl fmt::Display for Took {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.2} s (cpu {:.2} s)", self.wall, self.cpu)
    }
}

pub fn timed<T>(step: impl FnOnce() -> T) -> (Took, T) {
    sh("sync");
    let cpu = cpu_seconds();
    let start = Instant::now();
    let out = step();
    let took = Took {
        wall: start.elapsed().as_secs_f64(),
        cpu: cpu_seconds() - cpu,
    };
    (took, out)
}

fn cpu_seconds() -> f64 {
    let secs = |who| {
        // SAFETY: rusage is plain data, filled by the call.
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        unsafe { libc::getrusage(who, &mut u) };
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        tv(u.ru_utime) + tv(u.ru_stime)
    };
    secs(libc::RUSAGE_SELF) + secs(libc::RUSAGE_CHILDREN)
}

pub fn sh(script: &str) {
    let status = Command::new("bash")
        .arg("-c")
        .arg(format!("set -eo pipefail; {script}"))
        .status()
        .unwrap();
    assert!(status.success(), "{script}");
}

/// The repository server both sides use: one process, a repository per name.
pub enum Server {
    Rest(RestServer),
    Sftp(Sshd),
}

impl Server {
    pub fn start(kind: &str) -> Server {
        match kind {
            "rest" => Server::Rest(RestServer::start()),
            "sftp" => Server::Sftp(Sshd::start()),
            other => panic!("--kind is rest or sftp, not {other:?}"),
        }
    }

    /// A restic for repository `name` on this server (not yet initialised).
    pub fn repo(&self, name: &str, cache: &Path) -> Restic {
        let mut t = match self {
            Server::Rest(s) => s.target("bench"),
            Server::Sftp(s) => s.target("bench"),
        };
        t.repository = format!("{}/{name}", t.repository.trim_end_matches('/'));
        Restic::new(t, cache.to_path_buf())
    }

    fn dir(&self, repo: &Restic) -> PathBuf {
        let root = match self {
            Server::Rest(s) => s.dir.path().join("repo"),
            Server::Sftp(s) => s.dir.path().join("repo"),
        };
        let name = repo.target.repository.rsplit('/').next().unwrap();
        root.join(name)
    }

    /// What the repository holds on disk.
    pub fn repo_bytes(&self, repo: &Restic) -> u64 {
        berth::fsutil::dir_usage(&self.dir(repo)).0
    }

    pub fn remove(&self, repo: &Restic) {
        let _ = berth::fsutil::remove_tree(&self.dir(repo));
    }
}

/// A finished local archive, as the backup worker leaves it.
pub struct Archive {
    pub path: PathBuf,
    pub sha256: String,
    pub backup_id: i64,
}

/// Archives `src` the way the backup worker does with an offsite target
/// configured (default level and threads, the instance's `mirror` brought
/// up to date on the way), untimed: it is the local backup, made whether
/// or not a copy follows. Prints how long it took and what the mirror
/// wrote, for scale.
pub fn local_backup(src: &Path, path: &Path, mirror: &Mirror, backup_id: i64) -> (Archive, Took) {
    let partial = archive::partial_path(path);
    let total = berth::fsutil::dir_usage(src).0;
    let (took, stats) = timed(|| {
        mirror::alongside(Some(mirror), backup_id, total, |m| {
            archive_as_worker(src, &partial, m)
        })
        .unwrap()
    });
    std::fs::rename(&partial, path).unwrap();
    let index = mirror.read_index().expect("the backup updated the mirror");
    assert_eq!(index.backup_id, backup_id);
    println!(
        "  local backup (archive + mirror, not part of the copy): {took}, {:.0} MB archive",
        stats.size as f64 / 1e6,
    );
    let archive = Archive {
        path: path.to_path_buf(),
        sha256: stats.sha256,
        backup_id,
    };
    (archive, took)
}

/// `archive::create` with the worker's default level and threads.
fn archive_as_worker(
    src: &Path,
    partial: &Path,
    mirror: Option<&mut mirror::Update>,
) -> std::io::Result<archive::ArchiveStats> {
    let config = berth::config::Config::default();
    let (level, threads) = (config.backup.level, config.backup.threads);
    archive::create(src, partial, level, threads, &AtomicU64::new(0), mirror)
}

/// The same local backup without a mirror (no offsite target configured),
/// to show what keeping the mirror costs the backup.
pub fn archive_only(src: &Path, path: &Path) -> Took {
    let partial = archive::partial_path(path);
    let (took, _) = timed(|| archive_as_worker(src, &partial, None).unwrap());
    std::fs::remove_file(&partial).unwrap();
    took
}

/// berth's copy: the worker's `copy_instance` of the backup's mirror.
pub fn berth_copy(restic: &Restic, a: &Archive, mirror: &Mirror) -> (Took, CopyDone) {
    let src = InstanceSource {
        archive: a.path.clone(),
        sha256: a.sha256.clone(),
        client: "bench".into(),
        instance: "main".into(),
        backup_id: a.backup_id,
        mirror: mirror.clone(),
    };
    let (took, done) = timed(|| copy::copy_instance(restic, &src, |_| {}));
    (took, done.unwrap())
}

/// berth's restore minus the swap: the download into a local archive,
/// then the local restore's checked unpack into `staging`.
pub fn berth_restore(restic: &Restic, snapshot: &str, dl: &Path, staging: &Path) -> Took {
    let level = berth::config::Config::default().backup.level;
    let d = Download {
        partial: dl.join(".partial"),
        archive: dl.join("offsite.tar.zst"),
        client: "bench".into(),
        instance: "main".into(),
        instance_id: 1,
        level,
    };
    timed(|| {
        let snap = restic
            .snapshots(None)
            .unwrap()
            .into_iter()
            .find(|s| s.id.starts_with(snapshot) || s.short_id == snapshot)
            .expect("the second copy's snapshot");
        let manifest = download::download(restic, &snap, &d).unwrap();
        assert_eq!(archive::file_sha256(&d.archive).unwrap(), manifest.sha256);
        assert!(archive::extract_tree(&d.archive, staging).unwrap());
    })
    .0
}

/// restic from the shell, with the same repository flags as berth's side.
pub struct Cli(pub Restic);

impl Cli {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("restic")
            .args(self.0.global_args())
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "restic {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// `restic backup DIR`: its time and the bytes it says it added.
    pub fn backup(&self, dir: &Path) -> (Took, u64) {
        let (took, out) = timed(|| self.run(&["backup", "--json", &dir.display().to_string()]));
        let added = out
            .lines()
            .find_map(|l| match parse_line(l) {
                Some(BackupLine::Summary { data_added, .. }) => Some(data_added),
                _ => None,
            })
            .expect("restic backup printed a summary");
        (took, added)
    }

    /// `restic restore latest --target DIR`.
    pub fn restore(&self, target: &Path) -> Took {
        let target = target.display().to_string();
        timed(|| self.run(&["restore", "latest", "--target", &target])).0
    }
}
