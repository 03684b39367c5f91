//! Offsite repositories on loopback for the offsite and recovery tests:
//! [`Sshd`] (a throwaway sshd serving sftp, own host and user keys) and
//! [`RestServer`] (`rclone serve restic`), each giving a ready
//! `[[offsite]]` target; [`digests`] and [`write_mixed`] to fill an
//! instance and prove a restore byte for byte.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use sha2::Digest;

use super::{eventually, free_port, TestApp};

/// A throwaway sshd serving sftp on a free loopback port.
pub struct Sshd {
    child: Child,
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub user: String,
}

impl Sshd {
    pub fn start() -> Sshd {
        let dir = tempfile::Builder::new()
            .prefix("berth-sshd-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        for key in ["host_key", "user_key"] {
            let ok = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(d.join(key))
                .status()
                .unwrap();
            assert!(ok.success(), "ssh-keygen {key}");
        }
        std::fs::copy(d.join("user_key.pub"), d.join("authorized_keys")).unwrap();
        let config = format!(
            "ListenAddress 127.0.0.1\nHostKey {d}/host_key\nPidFile none\n\
             AuthorizedKeysFile {d}/authorized_keys\nPasswordAuthentication no\n\
             KbdInteractiveAuthentication no\nPubkeyAuthentication yes\nUsePAM no\n\
             StrictModes no\nSubsystem sftp internal-sftp\n",
            d = d.display()
        );
        std::fs::write(d.join("sshd_config"), config).unwrap();
        let port = free_port();
        let sshd = format!(
            "/usr/sbin/sshd -f {}/sshd_config -D -e -p {port}",
            d.display()
        );
        let log = std::fs::File::create(d.join("sshd.log")).unwrap();
        // As root sshd wants its privilege-separation dir /run/sshd: give it
        // one in a private mount namespace instead of touching the host's.
        let mut cmd = if is_root() {
            let mut c = Command::new("unshare");
            c.args(["-m", "--propagation", "private", "sh", "-c"])
                .arg(format!(
                    "mount -t tmpfs tmpfs /run && mkdir -m 755 /run/sshd && exec {sshd}"
                ));
            c
        } else {
            let mut c = Command::new("sh");
            c.args(["-c", &format!("exec {sshd}")]);
            c
        };
        let child = cmd.stdout(Stdio::null()).stderr(log).spawn().unwrap();
        let host_key = std::fs::read_to_string(d.join("host_key.pub")).unwrap();
        let host_key: Vec<&str> = host_key.split_whitespace().take(2).collect();
        std::fs::write(
            d.join("known_hosts"),
            format!("[127.0.0.1]:{port} {}\n", host_key.join(" ")),
        )
        .unwrap();
        let user = String::from_utf8(Command::new("id").arg("-un").output().unwrap().stdout)
            .unwrap()
            .trim()
            .to_owned();
        std::fs::create_dir_all(d.join("repo")).unwrap();
        std::fs::write(d.join("password"), "offsite test password\n").unwrap();
        let sshd = Sshd {
            child,
            dir,
            port,
            user,
        };
        let log = sshd.dir.path().join("sshd.log");
        super::wait_until("sshd listens", Duration::from_secs(10), || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains("Server listening"))
        });
        sshd
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn target(&self, name: &str) -> berth::config::OffsiteTarget {
        let toml = format!(
            "name = \"{name}\"\nrepository = \"sftp:{}@127.0.0.1:{}\"\npassword_file = \"{}\"\n\
             sftp_port = {}\nsftp_key_file = \"{}\"\nsftp_known_hosts = \"{}\"\n",
            self.user,
            self.path("repo").display(),
            self.path("password").display(),
            self.port,
            self.path("user_key").display(),
            self.path("known_hosts").display(),
        );
        toml::from_str(&toml).unwrap()
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// sha256 of every regular file under `root`, by relative path.
pub fn digests(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let ty = entry.file_type().unwrap();
            if ty.is_dir() {
                stack.push(entry.path());
            } else if ty.is_file() {
                let bytes = std::fs::read(entry.path()).unwrap();
                let rel = entry
                    .path()
                    .strip_prefix(root)
                    .unwrap()
                    .display()
                    .to_string();
                out.insert(rel, hex::encode(sha2::Sha256::digest(&bytes)));
            }
        }
    }
    out
}

/// ~24 MB of mixed data: incompressible uploads and compressible text.
pub fn write_mixed(dir: &Path) {
    use rand::RngCore;
    let mut rng = rand::rng();
    std::fs::create_dir_all(dir.join("uploads")).unwrap();
    std::fs::create_dir_all(dir.join("notes")).unwrap();
    for i in 0..40 {
        let mut buf = vec![0u8; 512 * 1024];
        rng.fill_bytes(&mut buf);
        std::fs::write(dir.join(format!("uploads/u{i}.bin")), buf).unwrap();
    }
    for i in 0..200 {
        let text = format!("note {i}: the quick brown fox jumps over the lazy dog\n").repeat(400);
        std::fs::write(dir.join(format!("notes/n{i}.txt")), text).unwrap();
    }
}

/// `rclone serve restic` on a free loopback port: restic's REST protocol.
pub struct RestServer {
    child: Child,
    pub dir: tempfile::TempDir,
    pub port: u16,
}

impl RestServer {
    pub fn start() -> RestServer {
        let dir = tempfile::Builder::new()
            .prefix("berth-rest-")
            .tempdir()
            .unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.path().join("rclone.log")).unwrap();
        let child = Command::new("rclone")
            .args(["serve", "restic", "--addr", &format!("127.0.0.1:{port}")])
            .arg(dir.path().join("repo"))
            .env("RCLONE_CONFIG", dir.path().join("rclone.conf"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        std::fs::write(dir.path().join("password"), "rest test password\n").unwrap();
        let log = dir.path().join("rclone.log");
        super::wait_until("rclone serves", Duration::from_secs(10), || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains("Serving restic REST API"))
        });
        RestServer { child, dir, port }
    }

    /// A target on this server, copied on request only (its schedule never fires).
    pub fn target(&self, name: &str) -> berth::config::OffsiteTarget {
        let toml = format!(
            "name = \"{name}\"\nrepository = \"rest:http://127.0.0.1:{}/\"\npassword_file = \"{}\"\n\
             copy_schedule = \"0 0 1 1 *\"\n",
            self.port,
            self.dir.path().join("password").display()
        );
        toml::from_str(&toml).unwrap()
    }
}

impl Drop for RestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Copies `instance`'s newest backup to `target` through the API now and
/// waits until the copy finished ok.
pub async fn copy_now(
    app: &TestApp,
    target: &str,
    instance: i64,
) -> berth::store::offsite::CopyRow {
    let (status, body) = app
        .post(
            &format!("/api/v1/offsite/{target}/copies"),
            serde_json::json!({ "instance": instance }),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::ACCEPTED, "{body}");
    let id = body["id"].as_i64().unwrap();
    let row = eventually("the copy finishes", Duration::from_secs(120), || async {
        let r = app.ops().offsite_copy(id).await.unwrap();
        r.status.is_finished().then_some(r)
    })
    .await;
    assert_eq!(row.status, berth::domain::BackupStatus::Ok, "{row:?}");
    row
}

/// The largest pack file of a restic repository's `data` dir (a test
/// corrupts it).
pub fn largest_pack(data: &Path) -> PathBuf {
    let mut packs = Vec::new();
    for sub in std::fs::read_dir(data).unwrap() {
        for f in std::fs::read_dir(sub.unwrap().path()).unwrap() {
            let p = f.unwrap().path();
            packs.push((std::fs::metadata(&p).unwrap().len(), p));
        }
    }
    packs.sort();
    packs.pop().expect("a pack file").1
}
