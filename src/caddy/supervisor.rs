//! `[caddy] manage = true`: berth runs Caddy as its own child so one command
//! brings up the whole appliance.
//!
//! The child starts from a generated bootstrap config (so its admin API
//! listens where berth expects) and never with `--resume`: after any restart
//! the reconciler sees a hash mismatch and loads the routes from SQLite, which
//! is the single source of truth. `on_ready` lets it do that at once instead of
//! on its next timer tick.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Notify;

use super::{CaddyAdmin, CaddyError};

/// Knobs for [`run_managed_with`]; [`ManagedOptions::new`] has the defaults.
#[derive(Clone, Debug)]
pub struct ManagedOptions {
    pub caddy_bin: PathBuf,
    pub admin: CaddyAdmin,
    /// A generated config; written to `<state_dir>/caddy/bootstrap.json`.
    pub bootstrap: Value,
    /// Caddy's certificates and autosave live under `<state_dir>/caddy/`.
    pub state_dir: PathBuf,
    /// How long a fresh child may take until its admin API answers.
    pub ready_timeout: Duration,
    /// Grace between SIGTERM and SIGKILL on shutdown.
    pub stop_timeout: Duration,
    pub min_backoff: Duration,
    pub max_backoff: Duration,
    /// Notified each time a (re)started child is ready.
    pub on_ready: Option<Arc<Notify>>,
}

impl ManagedOptions {
    pub fn new(
        caddy_bin: PathBuf,
        admin: CaddyAdmin,
        bootstrap: Value,
        state_dir: PathBuf,
    ) -> Self {
        Self {
            caddy_bin,
            admin,
            bootstrap,
            state_dir,
            ready_timeout: Duration::from_secs(10),
            stop_timeout: Duration::from_secs(5),
            min_backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(30),
            on_ready: None,
        }
    }
}

/// A child that stayed up this long earns a fresh, short backoff.
const HEALTHY_RUN: Duration = Duration::from_secs(30);
const READY_POLL: Duration = Duration::from_millis(50);

/// [`run_managed_with`] with default timeouts and no ready notification.
pub async fn run_managed(
    caddy_bin: PathBuf,
    admin: CaddyAdmin,
    bootstrap: Value,
    state_dir: PathBuf,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), CaddyError> {
    run_managed_with(
        ManagedOptions::new(caddy_bin, admin, bootstrap, state_dir),
        shutdown,
    )
    .await
}

/// Runs Caddy until `shutdown` resolves, restarting it with backoff when it
/// exits or never becomes ready. Returns an error only when the binary cannot
/// be started at all or the state directory is unusable; a Caddy that
/// crashes is retried forever, since berth is useless without it.
///
/// If something already answers at the admin URL, berth leaves it alone and
/// just waits for shutdown: an operator-run Caddy takes precedence.
pub async fn run_managed_with(
    opts: ManagedOptions,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> Result<(), CaddyError> {
    tokio::pin!(shutdown);
    let admin_url = opts.admin.base_url().to_string();
    if opts.admin.is_up().await {
        tracing::info!(%admin_url, "a Caddy already answers at the admin URL; not starting one");
        shutdown.await;
        return Ok(());
    }

    let dir = opts.state_dir.join("caddy");
    let config_path = write_bootstrap(&dir, &opts.bootstrap).await?;
    let mut backoff = opts.min_backoff;
    loop {
        let mut child = spawn(&opts.caddy_bin, &dir, &config_path)?;
        let pid = child.id();
        let started = Instant::now();

        let ready = tokio::select! {
            _ = &mut shutdown => return stop(child, opts.stop_timeout).await,
            exit = child.wait() => Err(exit),
            ready = wait_ready(&opts.admin, opts.ready_timeout) => Ok(ready),
        };
        match ready {
            Ok(true) => {
                tracing::info!(?pid, %admin_url, elapsed_ms = started.elapsed().as_millis() as u64, "managed Caddy is up");
                if let Some(notify) = &opts.on_ready {
                    notify.notify_one();
                }
                tokio::select! {
                    _ = &mut shutdown => return stop(child, opts.stop_timeout).await,
                    exit = child.wait() => log_exit(exit),
                }
                if started.elapsed() >= HEALTHY_RUN {
                    backoff = opts.min_backoff;
                }
            }
            Ok(false) => {
                tracing::warn!(?pid, %admin_url, timeout = ?opts.ready_timeout, "managed Caddy did not answer in time; restarting it");
                stop(child, opts.stop_timeout).await?;
            }
            Err(exit) => log_exit(exit),
        }

        tracing::info!(?backoff, "restarting managed Caddy");
        tokio::select! {
            _ = &mut shutdown => return Ok(()),
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(opts.max_backoff);
    }
}

async fn write_bootstrap(dir: &Path, bootstrap: &Value) -> Result<PathBuf, CaddyError> {
    let io = |action, path: &Path| {
        let path = path.to_path_buf();
        move |source| CaddyError::Io {
            action,
            path,
            source,
        }
    };
    for sub in ["data", "config"] {
        let d = dir.join(sub);
        tokio::fs::create_dir_all(&d)
            .await
            .map_err(io("creating", &d))?;
    }
    let path = dir.join("bootstrap.json");
    let tmp = dir.join("bootstrap.json.tmp");
    let body = serde_json::to_vec_pretty(bootstrap).expect("a serde_json::Value always serialises");
    tokio::fs::write(&tmp, body)
        .await
        .map_err(io("writing", &tmp))?;
    tokio::fs::rename(&tmp, &path)
        .await
        .map_err(io("renaming", &path))?;
    Ok(path)
}

fn spawn(bin: &Path, dir: &Path, config: &Path) -> Result<Child, CaddyError> {
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
    sys::die_with_parent(&mut cmd);
    let mut child = cmd.spawn().map_err(|source| CaddyError::Io {
        action: "starting",
        path: bin.to_path_buf(),
        source,
    })?;
    if let Some(out) = child.stdout.take() {
        tokio::spawn(forward_logs(out));
    }
    if let Some(err) = child.stderr.take() {
        tokio::spawn(forward_logs(err));
    }
    Ok(child)
}

async fn wait_ready(admin: &CaddyAdmin, timeout: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if admin.is_up().await {
            return true;
        }
        tokio::time::sleep(READY_POLL).await;
    }
    false
}

/// SIGTERM, then SIGKILL after `grace`. Caddy's default HTTP grace period is
/// unbounded, so open websockets could otherwise hold shutdown forever.
async fn stop(mut child: Child, grace: Duration) -> Result<(), CaddyError> {
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

fn log_exit(exit: std::io::Result<ExitStatus>) {
    match exit {
        Ok(status) => tracing::warn!(%status, "managed Caddy exited"),
        Err(error) => tracing::warn!(%error, "lost track of managed Caddy"),
    }
}

/// Caddy logs one JSON object per line; keep its level so its errors show up
/// in berth's log and its chatter stays at debug.
///
/// This must drain the pipe until Caddy closes it: Caddy is a Go program, and
/// a write to a closed stdout/stderr pipe kills it with SIGPIPE. Hence bytes
/// and lossy UTF-8 rather than `lines()`, which gives up on invalid UTF-8.
async fn forward_logs(pipe: impl AsyncRead + Unpin) {
    let mut reader = BufReader::new(pipe);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end();
        let parsed: Option<Value> = serde_json::from_str(line).ok();
        let field = |k: &str| parsed.as_ref()?.get(k)?.as_str().map(str::to_string);
        let logger = field("logger").unwrap_or_default();
        match field("level").as_deref() {
            Some("error" | "fatal" | "panic" | "dpanic") => {
                tracing::error!(target: "berth::caddy::child", %logger, "{line}")
            }
            Some("warn") => tracing::warn!(target: "berth::caddy::child", %logger, "{line}"),
            _ => {
                let msg = field("msg").unwrap_or_else(|| line.to_string());
                tracing::debug!(target: "berth::caddy::child", %logger, "{msg}")
            }
        }
    }
}

/// The two syscalls berth needs and std lacks, declared directly rather than
/// adding the `libc` crate for them (glibc is linked anyway).
mod sys {
    use std::os::raw::c_int;

    extern "C" {
        fn kill(pid: c_int, sig: c_int) -> c_int;
        #[cfg(target_os = "linux")]
        fn prctl(option: c_int, ...) -> c_int;
    }

    const SIGTERM: c_int = 15;

    pub fn terminate(pid: u32) {
        if let Ok(pid) = c_int::try_from(pid) {
            // SAFETY: kill(2) has no memory-safety preconditions; pid is our
            // own not-yet-reaped child, so it cannot name another process.
            unsafe {
                kill(pid, SIGTERM);
            }
        }
    }

    /// PR_SET_PDEATHSIG: the kernel SIGKILLs Caddy if berth dies, even by
    /// SIGKILL, so no orphan keeps the ports. It fires when the *thread*
    /// that spawned the child exits; tokio workers live as long as the
    /// runtime, which is as long as berth. SIGKILL rather than SIGTERM
    /// because a graceful Caddy stop can wait on open connections forever.
    #[cfg(target_os = "linux")]
    pub fn die_with_parent(cmd: &mut tokio::process::Command) {
        const PR_SET_PDEATHSIG: c_int = 1;
        const SIGKILL: c_int = 9;
        const ESRCH: i32 = 3;
        let parent = std::process::id();
        // SAFETY: runs between fork and exec; it only makes two
        // async-signal-safe syscalls and allocates nothing.
        unsafe {
            cmd.pre_exec(move || {
                if prctl(PR_SET_PDEATHSIG, SIGKILL as std::os::raw::c_ulong) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // berth died before prctl took effect: don't start an orphan.
                if std::os::unix::process::parent_id() != parent {
                    return Err(std::io::Error::from_raw_os_error(ESRCH));
                }
                Ok(())
            });
        }
    }
}
