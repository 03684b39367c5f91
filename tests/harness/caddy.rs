use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use super::{free_port, try_http_get, wait_until};

/// Caddy needs well under a second to start; the margin is for a loaded CI box.
const READY_DEADLINE: Duration = Duration::from_secs(30);

/// A private Caddy (`caddy run`) on loopback ports, with its state (autosave,
/// certificates, logs) in a temporary directory. Killed on drop.
///
/// It starts with nothing but the admin endpoint; tests and berth load routes
/// through `admin_url`. `http_port` and `https_port` are reserved for the
/// `apps.http` config a test loads (`"http_port"`, `"https_port"`, listeners).
pub struct CaddyProcess {
    pub admin_url: String,
    /// "127.0.0.1:<port>", the form [`super::http_get`] takes.
    pub admin_addr: String,
    pub admin_port: u16,
    pub http_port: u16,
    pub https_port: u16,
    child: Option<Child>,
    dir: TempDir,
}

impl CaddyProcess {
    /// Starts Caddy and waits until its admin API answers. The binary is
    /// `caddy` from PATH, or `$BERTH_TEST_CADDY`.
    pub fn start() -> CaddyProcess {
        super::refuse_skip_vars();
        let dir = tempfile::Builder::new()
            .prefix("berth-caddy-")
            .tempdir()
            .expect("tempdir for caddy");
        let admin_port = free_port();
        let mut caddy = CaddyProcess {
            admin_url: format!("http://127.0.0.1:{admin_port}"),
            admin_addr: format!("127.0.0.1:{admin_port}"),
            admin_port,
            http_port: free_port(),
            https_port: free_port(),
            child: None,
            dir,
        };
        caddy.spawn();
        caddy
    }

    /// Simulates a crash and a plain restart: SIGKILL, then start again on the
    /// same ports with the bare start-up config (no `--resume`), so every
    /// route loaded before is gone — what berth must repair.
    pub fn restart_empty(&mut self) {
        self.kill();
        self.spawn();
    }

    /// The temporary directory holding config, state and `caddy.log`.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Everything Caddy wrote to stdout/stderr so far (all its runs).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("caddy.log")
    }

    fn spawn(&mut self) {
        let config = self.dir.path().join("caddy.json");
        let body = serde_json::json!({ "admin": { "listen": self.admin_addr } });
        std::fs::write(&config, body.to_string()).expect("write caddy config");

        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path())
            .expect("open caddy log");
        let bin = std::env::var("BERTH_TEST_CADDY").unwrap_or_else(|_| "caddy".to_owned());
        let home = self.dir.path();
        let child = Command::new(&bin)
            .arg("run")
            .arg("--config")
            .arg(&config)
            // Keep autosave.json, certificates and locks out of the real home.
            .env("HOME", home)
            .env("XDG_DATA_HOME", home.join("data"))
            .env("XDG_CONFIG_HOME", home.join("config"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("clone log handle"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {bin:?} (install Debian package caddy): {e}"));
        // Stored before waiting: if the wait panics, drop still kills it.
        self.child = Some(child);

        let what = format!("caddy admin API at {}", self.admin_url);
        let log_path = self.log_path();
        let (child, addr) = (&mut self.child, &self.admin_addr);
        wait_until(&what, READY_DEADLINE, || {
            if let Some(status) = child.as_mut().and_then(|c| c.try_wait().ok().flatten()) {
                let log = std::fs::read_to_string(&log_path).unwrap_or_default();
                panic!("caddy exited with {status} before answering; log:\n{log}");
            }
            // The admin API accepts only its own listen address as Host.
            matches!(try_http_get(addr, addr, "/config/"), Ok((200, _)))
        });
    }

    fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            // Child::kill is SIGKILL on Unix: no graceful shutdown, like a crash.
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for CaddyProcess {
    fn drop(&mut self) {
        self.kill();
    }
}
