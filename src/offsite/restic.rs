//! The `restic` binary as berth drives it (Debian's 0.14): how a target
//! becomes a command line and environment, what its JSON lines and exit
//! codes mean. Building and parsing are pure; running is in `run_*`.
//!
//! restic 0.14 documents exit codes 0, 1 and 3 only; 10 (no repository),
//! 11 (lock failed) and 12 (wrong password) arrived in 0.17 and are mapped
//! too, while 0.14's exit 1 is told apart by its stderr line.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde::Deserialize;

use crate::config::{OffsiteTarget, RepoKind};

/// The variables restic would otherwise take from berth's own environment.
const RESTIC_ENV: &[&str] = &[
    "RESTIC_REPOSITORY",
    "RESTIC_REPOSITORY_FILE",
    "RESTIC_PASSWORD",
    "RESTIC_PASSWORD_FILE",
    "RESTIC_PASSWORD_COMMAND",
    "RESTIC_KEY_HINT",
    "RESTIC_CACHE_DIR",
    "RESTIC_PACK_SIZE",
];

/// One target's restic: repository, password, cache, limits, ssh options.
#[derive(Clone)]
pub struct Restic {
    pub bin: PathBuf,
    pub target: OffsiteTarget,
    pub cache_dir: PathBuf,
}

impl Restic {
    pub fn new(target: OffsiteTarget, cache_dir: PathBuf) -> Self {
        Self {
            bin: PathBuf::from("restic"),
            target,
            cache_dir,
        }
    }

    /// The global flags every invocation gets, before the subcommand's.
    pub fn global_args(&self) -> Vec<String> {
        let t = &self.target;
        let mut args = vec![
            "--repo".into(),
            t.repository.clone(),
            "--cache-dir".into(),
            self.cache_dir.display().to_string(),
        ];
        if let Some(file) = &t.password_file {
            args.extend(["--password-file".into(), file.display().to_string()]);
        }
        if let Some(kib) = t.limit_upload {
            args.extend(["--limit-upload".into(), kib.to_string()]);
        }
        if let Some(kib) = t.limit_download {
            args.extend(["--limit-download".into(), kib.to_string()]);
        }
        if let Some(cmd) = self.sftp_command() {
            args.extend(["-o".into(), format!("sftp.command={cmd}")]);
        }
        args
    }

    /// restic's own ssh call with the port, key and known_hosts the target
    /// names; never a password prompt (BatchMode), so a missing key fails
    /// at once instead of hanging the copy.
    pub fn sftp_command(&self) -> Option<String> {
        let t = &self.target;
        if t.kind() != RepoKind::Sftp {
            return None;
        }
        let host = t.sftp_host()?;
        let mut cmd = vec!["ssh".to_owned()];
        if let Some(port) = t.sftp_port {
            cmd.extend(["-p".into(), port.to_string()]);
        }
        if let Some(key) = &t.sftp_key_file {
            cmd.extend([
                "-i".into(),
                key.display().to_string(),
                "-o".into(),
                "IdentitiesOnly=yes".into(),
            ]);
        }
        if let Some(kh) = &t.sftp_known_hosts {
            cmd.extend([
                "-o".into(),
                format!("UserKnownHostsFile={}", kh.display()),
                "-o".into(),
                "StrictHostKeyChecking=yes".into(),
            ]);
        }
        cmd.extend([
            "-o".into(),
            "BatchMode=yes".into(),
            host.to_owned(),
            "-s".into(),
            "sftp".into(),
        ]);
        Some(cmd.join(" "))
    }

    /// A ready command: global flags, then `args`; stdin closed, output piped.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        for var in RESTIC_ENV {
            cmd.env_remove(var);
        }
        if let Some(pw) = &self.target.password {
            cmd.env("RESTIC_PASSWORD", pw.expose());
        }
        cmd.args(self.global_args())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        die_with_parent(&mut cmd);
        cmd
    }

    /// Runs a short command to its end: stdout on success, else the mapped error.
    pub fn run(&self, args: &[&str]) -> Result<Vec<u8>, String> {
        let out = self
            .command(args)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", self.bin.display()))?;
        if out.status.success() {
            return Ok(out.stdout);
        }
        Err(exit_error(
            out.status.code(),
            &String::from_utf8_lossy(&out.stderr),
        ))
    }

    pub fn init(&self) -> Result<(), String> {
        self.run(&["init"]).map(|_| ())
    }

    /// Snapshots, oldest first, optionally only those carrying `tag`.
    pub fn snapshots(&self, tag: Option<&str>) -> Result<Vec<Snapshot>, String> {
        let mut args = vec!["snapshots", "--json"];
        if let Some(t) = tag {
            args.extend(["--tag", t]);
        }
        let out = self.run(&args)?;
        serde_json::from_slice(&out).map_err(|e| format!("restic snapshots: unreadable JSON: {e}"))
    }

    /// `restic check`, reading `read_data` ("all" or a subset like "10%").
    pub fn check(&self, read_data: Option<&str>) -> Result<String, String> {
        let subset;
        let mut args = vec!["check"];
        match read_data {
            Some("all") => args.push("--read-data"),
            Some(s) => {
                subset = format!("--read-data-subset={s}");
                args.push(&subset);
            }
            None => {}
        }
        let out = self.run(&args)?;
        Ok(last_line(&String::from_utf8_lossy(&out)))
    }
}

/// Ends restic with berth: a copy restic reads from a pipe must never see
/// the end of its input because berth died (it would save what it read as
/// a complete snapshot), so the kernel kills it first.
fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe and touches only the child.
    unsafe {
        cmd.pre_exec(|| {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

/// A snapshot as `restic snapshots --json` lists it.
#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq)]
pub struct Snapshot {
    pub id: String,
    pub short_id: String,
    pub time: String,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub hostname: String,
}

/// How an instance snapshot holds its backup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Content {
    /// A mirror directory with its index (`dir-bytes=` tag).
    Mirror,
    /// One tar on stdin (`tar-bytes=`), as berth copied before mirrors.
    TarStream,
}

impl Snapshot {
    /// What an instance copy holds and the bytes its copy read; `None`
    /// for any other snapshot (berth's state, someone else's).
    pub fn content(&self) -> Option<(Content, u64)> {
        let bytes = |key| self.tag(key).and_then(|v| v.parse().ok());
        bytes("dir-bytes")
            .map(|b| (Content::Mirror, b))
            .or_else(|| bytes("tar-bytes").map(|b| (Content::TarStream, b)))
    }

    /// The value of a `key=value` tag berth set.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find_map(|t| t.strip_prefix(key)?.strip_prefix('='))
    }
}

/// One line of `restic backup --json`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "message_type", rename_all = "snake_case")]
pub enum BackupLine {
    Status {
        #[serde(default)]
        bytes_done: u64,
        #[serde(default)]
        total_bytes: u64,
    },
    Summary {
        snapshot_id: String,
        data_added: u64,
        total_bytes_processed: u64,
    },
    #[serde(other)]
    Other,
}

pub fn parse_line(line: &str) -> Option<BackupLine> {
    serde_json::from_str(line.trim()).ok()
}

/// Reads `restic backup --json` output to its end: calls `progress` with
/// bytes read so far, returns the summary if one came.
pub fn follow_backup(
    out: impl std::io::Read,
    mut progress: impl FnMut(u64),
) -> std::io::Result<Option<(String, u64, u64)>> {
    let mut summary = None;
    for line in BufReader::new(out).lines() {
        match parse_line(&line?) {
            Some(BackupLine::Status { bytes_done, .. }) => progress(bytes_done),
            Some(BackupLine::Summary {
                snapshot_id,
                data_added,
                total_bytes_processed,
            }) => summary = Some((snapshot_id, data_added, total_bytes_processed)),
            _ => {}
        }
    }
    Ok(summary)
}

/// What a failed restic run means, in words an operator can act on.
pub fn exit_error(code: Option<i32>, stderr: &str) -> String {
    let detail = last_line(stderr);
    let lower = stderr.to_lowercase();
    let why = match code {
        None => "restic was killed by a signal".to_owned(),
        Some(3) => "some source data could not be read; the snapshot is incomplete".to_owned(),
        Some(10) => "the repository does not exist; run `berth offsite init TARGET`".to_owned(),
        Some(11) => "the repository is locked by another restic".to_owned(),
        Some(12) => "wrong repository password".to_owned(),
        Some(130) => "restic was interrupted".to_owned(),
        Some(_) if lower.contains("wrong password") => "wrong repository password".to_owned(),
        Some(_)
            if lower.contains("repository does not exist")
                || lower.contains("unable to open config file") =>
        {
            "the repository does not exist; run `berth offsite init TARGET`".to_owned()
        }
        Some(_)
            if lower.contains("unable to create lock")
                || lower.contains("repository is already locked") =>
        {
            "the repository is locked by another restic".to_owned()
        }
        Some(c) => format!("restic failed (exit {c})"),
    };
    if detail.is_empty() {
        why
    } else {
        format!("{why}: {detail}")
    }
}

fn last_line(text: &str) -> String {
    let line = text
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    line.trim().chars().take(300).collect()
}

#[cfg(test)]
#[path = "restic_tests.rs"]
mod tests;
