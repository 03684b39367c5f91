//! The Caddy child process itself: starting it (with its output drained
//! into berth's log), and stopping it with a bounded grace period.

use std::path::Path;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use super::child_log::forward_logs;
use super::CaddyError;

/// A running child with the tasks draining its output.
pub(super) struct Spawned {
    pub(super) process: Child,
    /// The last error-level line the child printed.
    last_error: Arc<Mutex<Option<String>>>,
    forwarders: Vec<JoinHandle<()>>,
}

impl Spawned {
    pub(super) fn last_error(&self) -> Option<String> {
        self.last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Logs the exit at ERROR with the child's last error line, and returns
    /// that reason. Caddy prints its fatal error just before exiting, so the
    /// pipes are drained first (bounded: a grandchild could hold them open).
    pub(super) async fn exited(self, exit: std::io::Result<ExitStatus>) -> String {
        let drained = futures_util::future::join_all(self.forwarders);
        let _ = tokio::time::timeout(Duration::from_secs(2), drained).await;
        let detail = self
            .last_error
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        let why = match (&exit, detail) {
            (Ok(status), Some(line)) => format!("exited ({status}): {line}"),
            (Ok(status), None) => format!("exited ({status}) without an error message"),
            (Err(error), _) => format!("lost track of it: {error}"),
        };
        tracing::error!("managed Caddy {why}");
        why
    }
}

pub(super) fn spawn(bin: &Path, dir: &Path, config: &Path) -> Result<Spawned, CaddyError> {
    let mut cmd = Command::new(bin);
    cmd.arg("run")
        .arg("--config")
        .arg(config)
        // Keeps certificates, OCSP staples and autosave.json in berth's data
        // dir instead of the service user's home.
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        // If the supervising future is dropped, the child goes with it.
        .kill_on_drop(true);
    #[cfg(target_os = "linux")]
    sys::prepare_child(&mut cmd);
    let mut process = cmd.spawn().map_err(|source| CaddyError::Io {
        action: "starting",
        path: bin.to_path_buf(),
        source,
    })?;
    let last_error = Arc::new(Mutex::new(None));
    let mut forwarders = Vec::new();
    if let Some(out) = process.stdout.take() {
        forwarders.push(tokio::spawn(forward_logs(out, last_error.clone())));
    }
    if let Some(err) = process.stderr.take() {
        forwarders.push(tokio::spawn(forward_logs(err, last_error.clone())));
    }
    Ok(Spawned {
        process,
        last_error,
        forwarders,
    })
}

/// SIGTERM, then SIGKILL after `grace`. Caddy's default HTTP grace period is
/// unbounded, so open websockets could otherwise hold shutdown forever.
pub(super) async fn stop(mut child: Child, grace: Duration) -> Result<(), CaddyError> {
    if let Some(pid) = child.id() {
        sys::terminate(pid);
        if let Ok(exit) = tokio::time::timeout(grace, child.wait()).await {
            tracing::info!(pid, status = ?exit.ok(), "managed Caddy stopped");
            return Ok(());
        }
        tracing::warn!(pid, ?grace, "managed Caddy ignored SIGTERM; killing it");
    }
    // Already reaped, or past the grace period.
    let _ = child.kill().await;
    Ok(())
}

/// What the child needs from the kernel before exec, and SIGTERM.
mod sys {
    pub fn terminate(pid: u32) {
        if let Ok(pid) = libc::pid_t::try_from(pid) {
            // SAFETY: kill(2) has no memory-safety preconditions; pid is our
            // own not-yet-reaped child, so it cannot name another process.
            unsafe {
                libc::kill(pid, libc::SIGTERM);
            }
        }
    }

    /// Two things between fork and exec:
    ///
    /// - PR_SET_PDEATHSIG: the kernel SIGKILLs Caddy if berth dies, even by
    ///   SIGKILL, so no orphan keeps the ports. It fires when the *thread*
    ///   that spawned the child exits; tokio workers live as long as the
    ///   runtime, which is as long as berth. SIGKILL rather than SIGTERM
    ///   because a graceful Caddy stop can wait on open connections forever.
    /// - Clear the ambient capabilities: the packaged unit gives berth
    ///   CAP_CHOWN, CAP_DAC_OVERRIDE, ... for tenant files, and ambient
    ///   capabilities survive exec. Caddy faces the internet and needs none
    ///   of them.
    #[cfg(target_os = "linux")]
    pub fn prepare_child(cmd: &mut tokio::process::Command) {
        let parent = std::process::id();
        // SAFETY: runs between fork and exec; it only makes async-signal-safe
        // syscalls and allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // berth died before prctl took effect: don't start an orphan.
                if std::os::unix::process::parent_id() != parent {
                    return Err(std::io::Error::from_raw_os_error(libc::ESRCH));
                }
                let cleared = libc::prctl(
                    libc::PR_CAP_AMBIENT,
                    libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
                    0 as libc::c_ulong,
                    0 as libc::c_ulong,
                    0 as libc::c_ulong,
                );
                // EINVAL: a kernel before 4.3 has no ambient set to clear.
                if cleared != 0 {
                    let e = std::io::Error::last_os_error();
                    if e.raw_os_error() != Some(libc::EINVAL) {
                        return Err(e);
                    }
                }
                Ok(())
            });
        }
    }
}
