//! `[caddy] manage = true`: berth runs Caddy as its own child so one command
//! brings up the whole appliance.
//!
//! The child starts from a generated bootstrap config (so its admin API
//! listens where berth expects) and never with `--resume`: after any restart
//! the reconciler sees a hash mismatch and loads the routes from SQLite, which
//! is the single source of truth. `on_ready` lets it do that at once instead of
//! on its next timer tick.
//!
//! A child that keeps failing must say why where an operator looks: its last
//! error goes to berth's log at ERROR and into [`CaddyStatus`], which the
//! health endpoint, the dashboard and `berth doctor` show.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::Notify;

use super::child::{spawn, stop};
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
    /// Where the supervisor reports whether Caddy is up and why it is not.
    pub status: CaddyStatus,
}

/// The managed Caddy as the rest of berth sees it; cheap to clone, shared
/// between the supervisor (writer) and the web edge (readers).
#[derive(Clone, Debug, Default)]
pub struct CaddyStatus(Arc<Mutex<CaddyState>>);

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CaddyState {
    /// true while berth runs Caddy as its child (false: an external Caddy, or none asked for).
    pub managed: bool,
    /// The child's admin API answered since its last start.
    pub up: bool,
    /// Failed starts since the last one that came up.
    pub failures: u32,
    /// Why the last start failed, e.g. Caddy's own "Error: ..." line.
    pub last_error: Option<String>,
    /// When that was (UTC, RFC 3339).
    pub last_error_at: Option<String>,
}

impl CaddyStatus {
    pub fn get(&self) -> CaddyState {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CaddyState> {
        // A panic elsewhere must not hide Caddy's state from the health check.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn managing(&self) {
        self.lock().managed = true;
    }

    fn up(&self) {
        let mut s = self.lock();
        s.up = true;
        s.failures = 0;
    }

    fn failed(&self, why: String) {
        let at = time::OffsetDateTime::now_utc()
            .replace_nanosecond(0)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            });
        let mut s = self.lock();
        s.up = false;
        s.failures += 1;
        s.last_error = Some(why);
        s.last_error_at = at;
    }
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
            status: CaddyStatus::default(),
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

    let status = opts.status.clone();
    status.managing();
    // Absolute, whatever the caller passed: the child runs in `dir`, so a
    // relative config path would be looked up below it a second time.
    let dir =
        std::path::absolute(opts.state_dir.join("caddy")).map_err(|source| CaddyError::Io {
            action: "resolving",
            path: opts.state_dir.clone(),
            source,
        })?;
    let config_path = write_bootstrap(&dir, &opts.bootstrap)
        .await
        .inspect_err(|e| status.failed(e.to_string()))?;
    let mut backoff = opts.min_backoff;
    loop {
        let mut child = match spawn(&opts.caddy_bin, &dir, &config_path) {
            Ok(child) => child,
            Err(e) => {
                tracing::error!(error = %e, "cannot start the managed Caddy");
                status.failed(e.to_string());
                return Err(e);
            }
        };
        let pid = child.process.id();
        let started = Instant::now();

        let ready = tokio::select! {
            _ = &mut shutdown => return stop(child.process, opts.stop_timeout).await,
            exit = child.process.wait() => Err(exit),
            ready = wait_ready(&opts.admin, opts.ready_timeout) => Ok(ready),
        };
        match ready {
            Ok(true) => {
                tracing::info!(?pid, %admin_url, elapsed_ms = started.elapsed().as_millis() as u64, "managed Caddy is up");
                status.up();
                if let Some(notify) = &opts.on_ready {
                    notify.notify_one();
                }
                tokio::select! {
                    _ = &mut shutdown => return stop(child.process, opts.stop_timeout).await,
                    exit = child.process.wait() => status.failed(child.exited(exit).await),
                }
                if started.elapsed() >= HEALTHY_RUN {
                    backoff = opts.min_backoff;
                }
            }
            Ok(false) => {
                let why = format!(
                    "did not answer at {admin_url} within {:?}{}",
                    opts.ready_timeout,
                    child
                        .last_error()
                        .map(|e| format!(": {e}"))
                        .unwrap_or_default()
                );
                tracing::error!(?pid, "managed Caddy {why}; restarting it");
                status.failed(why);
                stop(child.process, opts.stop_timeout).await?;
            }
            Err(exit) => status.failed(child.exited(exit).await),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_counts_failures_until_up() {
        let s = CaddyStatus::default();
        s.managing();
        s.failed("exited (exit status: 1): Error: x".into());
        s.failed("exited (exit status: 1): Error: y".into());
        let got = s.get();
        assert!(got.managed && !got.up);
        assert_eq!(got.failures, 2);
        assert_eq!(
            got.last_error.as_deref(),
            Some("exited (exit status: 1): Error: y")
        );
        assert!(got.last_error_at.is_some());
        s.up();
        let got = s.get();
        assert!(got.up);
        assert_eq!(got.failures, 0);
        // Kept for the operator: the last failure is still worth seeing.
        assert!(got.last_error.is_some());
    }
}
