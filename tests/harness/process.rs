//! berth as a real child process (for crash tests): the same config as a
//! `TestApp`, passed through `BERTH_*` variables.

use std::process::{Child, Command, Stdio};

use std::time::Duration;

use berth::config::Config;
use tempfile::TempDir;

use super::{free_port, test_config, unique, CaddyProcess, DockerGuard};

pub struct BerthProcess {
    pub child: Child,
    pub api: String,
}

/// The variables that make `berth` run with `config`.
pub fn env_for(config: &Config) -> Vec<(&'static str, String)> {
    vec![
        ("BERTH_LISTEN", config.listen.to_string()),
        ("BERTH_DATA_DIR", config.data_dir.display().to_string()),
        (
            "BERTH_BLUEPRINT_DIR",
            config.blueprint_dir.as_ref().unwrap().display().to_string(),
        ),
        ("BERTH_PORT_RANGE", config.port_range.to_string()),
        ("BERTH_BASE_DOMAIN", config.base_domain.clone()),
        (
            "BERTH_RECONCILE_INTERVAL",
            format!("{}s", config.reconcile_interval.as_secs()),
        ),
        ("BERTH_DOCKER_OWNER", config.docker.owner.clone()),
        (
            "BERTH_DOCKER_NAME_PREFIX",
            config.docker.name_prefix.clone(),
        ),
        (
            "BERTH_DOCKER_NETWORK_POOL",
            config.docker.network_pool.to_string(),
        ),
        ("BERTH_CADDY_ADMIN", config.caddy.admin.clone()),
        ("BERTH_CADDY_MANAGE", "false".into()),
        ("BERTH_CADDY_HTTP_PORT", config.caddy.http_port.to_string()),
        ("BERTH_CADDY_LISTEN_HOST", config.caddy.listen_host.clone()),
    ]
}

/// Runs `berth <args>` to completion with `config`: (exit code, stdout, stderr).
pub fn berth_cli(config: &Config, args: &[&str]) -> (i32, String, String) {
    run_cli(Command::new(env!("CARGO_BIN_EXE_berth")), config, args)
}

/// Runs `cmd` (the berth binary, maybe behind a wrapper) with `args` and
/// `config`'s variables, and no config file: (exit code, stdout, stderr).
fn run_cli(mut cmd: Command, config: &Config, args: &[&str]) -> (i32, String, String) {
    let out = cmd
        .args(args)
        .envs(env_for(config))
        .env_remove("BERTH_CONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("run berth");
    outcome(&out)
}

/// A finished CLI run as (exit code, stdout, stderr).
fn outcome(out: &std::process::Output) -> (i32, String, String) {
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Starts `cmd serve` with `config`'s variables plus `extra`; the log goes
/// to `berth.log` beside the data dir.
fn spawn_serve(mut cmd: Command, config: &Config, extra: &[(&str, String)]) -> BerthProcess {
    let log = std::fs::File::options()
        .create(true)
        .append(true)
        .open(config.data_dir.join("../berth.log"))
        .unwrap();
    let child = cmd
        .arg("serve")
        .envs(env_for(config))
        .env_remove("BERTH_CONFIG")
        .env("RUST_LOG", "info")
        .envs(extra.iter().map(|(k, v)| (*k, v.as_str())))
        .stdout(log.try_clone().unwrap())
        .stderr(log)
        .spawn()
        .expect("start berth serve");
    BerthProcess {
        child,
        api: format!("http://{}", config.listen),
    }
}

impl BerthProcess {
    /// Starts `berth serve`; `config.listen` must be a concrete port.
    pub fn start(config: &Config) -> BerthProcess {
        Self::start_with_env(config, &[])
    }

    /// [`BerthProcess::start`] with extra variables, e.g. a crash test's
    /// `BERTH_TEST_PAUSE_AT` (see `berth::testhook`).
    pub fn start_with_env(config: &Config, extra: &[(&str, String)]) -> BerthProcess {
        spawn_serve(Command::new(env!("CARGO_BIN_EXE_berth")), config, extra)
    }

    /// Waits until `GET /api/v1/health` answers 2xx; panics with the log
    /// (`berth.log` beside `config`'s data dir) if the daemon exits first.
    pub async fn wait_healthy(&mut self, http: &reqwest::Client, config: &Config) {
        let url = format!("{}/api/v1/health", self.api);
        let log = config.data_dir.join("../berth.log");
        super::eventually("the daemon answers", Duration::from_secs(30), || {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "berth serve exited {status}: {}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            let (http, url) = (http.clone(), url.clone());
            async move {
                let r = http.get(&url).send().await.ok()?;
                r.status().is_success().then_some(())
            }
        })
        .await;
    }

    /// SIGKILL: no shutdown code runs, like a power cut of the daemon.
    pub fn kill9(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for BerthProcess {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// What a test that runs berth as a child process stands on: a temp dir,
/// a Docker owner label with its guard, a private Caddy, the static-site
/// image name (tracked for removal) and a config on a concrete free port.
/// Callers keep the parts in their own struct, in the drop order they need.
pub struct ChildSetup {
    pub dir: TempDir,
    pub owner: String,
    pub guard: DockerGuard,
    pub caddy: CaddyProcess,
    pub image: String,
    pub config: Config,
}

impl ChildSetup {
    /// `prefix` names the temp dir (`berth-<prefix>-`) and the owner label.
    pub async fn new(prefix: &str) -> ChildSetup {
        let dir = tempfile::Builder::new()
            .prefix(&format!("berth-{prefix}-"))
            .tempdir()
            .unwrap();
        let owner = unique(prefix);
        let guard = DockerGuard::new(&owner);
        let caddy = tokio::task::spawn_blocking(CaddyProcess::start)
            .await
            .unwrap();
        let image = format!("berth-test/static-site:{}", unique("img"));
        guard.track_image(&image);
        let config = test_config(&dir, &owner, &caddy, &image, |c| {
            c.listen = format!("127.0.0.1:{}", free_port()).parse().unwrap()
        });
        ChildSetup {
            dir,
            owner,
            guard,
            caddy,
            image,
            config,
        }
    }

    /// Creates the data dir and an API token named `name` with the CLI.
    pub fn create_token(&self, name: &str) -> String {
        std::fs::create_dir_all(&self.config.data_dir).unwrap();
        let (code, token, err) = berth_cli(&self.config, &["token", "create", name]);
        assert_eq!(code, 0, "{err}");
        token.trim().to_owned()
    }
}

/// The HTTP client a test talks to a child daemon's API with.
pub fn api_client(timeout: Duration) -> reqwest::Client {
    berth::tls::client_builder()
        .no_proxy()
        .timeout(timeout)
        .build()
        .unwrap()
}

/// `berth serve` as an operator starts it: in `cwd`, with no config file and
/// only the given `BERTH_*` variables (any others in the test's environment
/// are removed), optionally under a wrapper such as `setpriv ... --`. Its
/// log goes to `<cwd>/berth.log`. SIGKILLed on drop; a managed Caddy dies
/// with it (berth sets its parent-death signal).
pub struct BerthServe {
    pub child: Child,
    pub cwd: std::path::PathBuf,
    pub env: Vec<(&'static str, String)>,
    /// "127.0.0.1:<port>", from `BERTH_LISTEN`.
    pub listen: String,
}

impl BerthServe {
    pub fn start(
        cwd: &std::path::Path,
        env: Vec<(&'static str, String)>,
        wrapper: &[&str],
    ) -> BerthServe {
        let listen = env
            .iter()
            .find(|(k, _)| *k == "BERTH_LISTEN")
            .map(|(_, v)| v.clone())
            .expect("BERTH_LISTEN is set: the default 7070 could be taken");
        let log = std::fs::File::create(cwd.join("berth.log")).unwrap();
        let berth = env!("CARGO_BIN_EXE_berth");
        let mut cmd = match wrapper.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(berth);
                c
            }
            None => Command::new(berth),
        };
        clean_env(&mut cmd, &env);
        let child = cmd
            .arg("serve")
            .current_dir(cwd)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start berth serve");
        BerthServe {
            child,
            cwd: cwd.to_owned(),
            env,
            listen,
        }
    }

    /// `berth <args>` in the same directory with the same variables.
    pub fn cli(&self, args: &[&str]) -> (i32, String, String) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
        clean_env(&mut cmd, &self.env);
        let out = cmd
            .args(args)
            .current_dir(&self.cwd)
            .stdin(Stdio::null())
            .output()
            .expect("run berth");
        outcome(&out)
    }

    /// `GET /api/v1/health`, or None while nothing answers.
    pub fn health(&self) -> Option<serde_json::Value> {
        let (status, body) =
            super::try_http_get(&self.listen, &self.listen, "/api/v1/health").ok()?;
        assert_eq!(status, 200, "health answers 200: {body}");
        Some(serde_json::from_str(&body).expect("health is JSON"))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.cwd.join("berth.log")).unwrap_or_default()
    }

    /// SIGTERM, as systemd stops it, and wait for the exit.
    pub fn terminate(&mut self, deadline: std::time::Duration) -> std::process::ExitStatus {
        let pid = libc::pid_t::try_from(self.child.id()).unwrap();
        // SAFETY: kill(2) on our own unreaped child.
        unsafe {
            libc::kill(pid, libc::SIGTERM);
        }
        let end = std::time::Instant::now() + deadline;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(
                std::time::Instant::now() < end,
                "berth did not stop within {deadline:?} of SIGTERM"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }

    /// Child processes of berth named `comm` (e.g. "caddy"), from /proc.
    pub fn children_named(&self, comm: &str) -> Vec<u32> {
        let parent = self.child.id();
        let mut out = Vec::new();
        for entry in std::fs::read_dir("/proc").unwrap().flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            // "pid (comm) state ppid ...": comm may hold spaces, so split at the last ')'.
            let Some((head, tail)) = stat.rsplit_once(')') else {
                continue;
            };
            let name = head.split_once('(').map(|(_, n)| n).unwrap_or("");
            let ppid = tail.split_whitespace().nth(1).and_then(|p| p.parse().ok());
            if name == comm && ppid == Some(parent) {
                out.push(pid);
            }
        }
        out
    }
}

/// Every `BERTH_*` variable the test runner may have is dropped, so only
/// `env` (and the built-in defaults) configure berth.
fn clean_env(cmd: &mut Command, env: &[(&'static str, String)]) {
    cmd.env_remove("BERTH_CONFIG");
    cmd.env_remove(berth::config::MANAGEMENT_KEY_ENV);
    for (var, _) in berth::config::ENV_KEYS {
        cmd.env_remove(var);
    }
    cmd.envs(env.iter().map(|(k, v)| (*k, v.as_str())));
}

impl Drop for BerthServe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A field of `/proc/<pid>/status`, e.g. "CapAmb".
pub fn proc_status_field(pid: u32, field: &str) -> Option<String> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| {
        l.strip_prefix(field)?
            .strip_prefix(':')
            .map(|v| v.trim().to_owned())
    })
}

/// A non-root identity to run berth as, the way the package runs it: its
/// own uid and gid (no passwd entry needed), the Docker socket's group as
/// the one supplementary group, and exactly the capabilities given, as
/// ambient ones (what systemd's AmbientCapabilities= does), via `setpriv`.
pub struct ServiceUser {
    pub uid: u32,
    pub gid: u32,
    pub docker_gid: u32,
    /// Capability names as in a unit file (CAP_CHOWN, ...).
    pub caps: Vec<String>,
}

impl ServiceUser {
    pub fn new(uid: u32, caps: &[String]) -> ServiceUser {
        use std::os::unix::fs::MetadataExt;
        let socket = std::fs::metadata("/var/run/docker.sock").expect("docker socket");
        ServiceUser {
            uid,
            gid: uid,
            docker_gid: socket.gid(),
            caps: caps.to_vec(),
        }
    }

    /// The capabilities `AmbientCapabilities=` grants in `systemd/<unit>`,
    /// so a test runs with what the package ships, not a copy of it.
    pub fn unit_caps(unit: &str) -> Vec<String> {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("systemd")
            .join(unit);
        let text = std::fs::read_to_string(&path).expect("unit file");
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix("AmbientCapabilities="))
            .unwrap_or_else(|| panic!("no AmbientCapabilities= in {}", path.display()));
        line.split_whitespace().map(str::to_owned).collect()
    }

    /// `program` run through setpriv as this user with these capabilities.
    pub fn command(&self, program: &std::path::Path) -> Command {
        let caps: String = self
            .caps
            .iter()
            .map(|c| format!(",+{}", c.trim_start_matches("CAP_").to_lowercase()))
            .collect();
        let set = format!("-all{caps}");
        let mut cmd = Command::new("setpriv");
        cmd.arg(format!("--reuid={}", self.uid))
            .arg(format!("--regid={}", self.gid))
            .arg(format!("--groups={}", self.docker_gid))
            .arg(format!("--inh-caps={set}"))
            .arg(format!("--ambient-caps={set}"))
            .arg(format!("--bounding-set={set}"))
            .arg("--")
            .arg(program);
        cmd
    }

    /// Hands `path` and everything under it to this user (`chown -R`).
    pub fn own(&self, path: &std::path::Path) {
        let status = Command::new("chown")
            .arg("-R")
            .arg(format!("{}:{}", self.uid, self.gid))
            .arg(path)
            .status()
            .expect("chown");
        assert!(status.success(), "chown -R {}", path.display());
    }

    /// The test binary, reachable by this user: hard-linked (or copied)
    /// into `dir`, which the user owns, in case the build directory is not
    /// searchable by other users. Call it after [`ServiceUser::own`]: a
    /// hard link shares its owner with the build's file.
    pub fn binary_in(&self, dir: &std::path::Path) -> std::path::PathBuf {
        let target = dir.join("berth");
        let source = env!("CARGO_BIN_EXE_berth");
        if std::fs::hard_link(source, &target).is_err() {
            std::fs::copy(source, &target).expect("copy the berth binary");
        }
        target
    }
}

/// Runs `berth <args>` as `user` with `config`: (exit code, stdout, stderr).
pub fn berth_cli_as(
    user: &ServiceUser,
    bin: &std::path::Path,
    config: &Config,
    args: &[&str],
) -> (i32, String, String) {
    run_cli(user.command(bin), config, args)
}

impl BerthProcess {
    /// Starts `berth serve` as `user` (see [`ServiceUser`]); the log goes to
    /// `berth.log` beside the data dir.
    pub fn start_as(user: &ServiceUser, bin: &std::path::Path, config: &Config) -> BerthProcess {
        spawn_serve(user.command(bin), config, &[])
    }
}
