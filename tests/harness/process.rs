//! berth as a real child process (for crash tests): the same config as a
//! `TestApp`, passed through `BERTH_*` variables.

use std::process::{Child, Command, Stdio};

use berth::config::Config;

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
        ("BERTH_CADDY_ADMIN", config.caddy.admin.clone()),
        ("BERTH_CADDY_MANAGE", "false".into()),
        ("BERTH_CADDY_HTTP_PORT", config.caddy.http_port.to_string()),
        ("BERTH_CADDY_LISTEN_HOST", config.caddy.listen_host.clone()),
    ]
}

/// Runs `berth <args>` to completion with `config`: (exit code, stdout, stderr).
pub fn berth_cli(config: &Config, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .envs(env_for(config))
        .env_remove("BERTH_CONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("run berth");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

impl BerthProcess {
    /// Starts `berth serve`; `config.listen` must be a concrete port.
    pub fn start(config: &Config) -> BerthProcess {
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(config.data_dir.join("../berth.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_berth"))
            .arg("serve")
            .envs(env_for(config))
            .env("RUST_LOG", "info")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start berth serve");
        BerthProcess {
            child,
            api: format!("http://{}", config.listen),
        }
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
    let out = user
        .command(bin)
        .args(args)
        .envs(env_for(config))
        .env_remove("BERTH_CONFIG")
        .stdin(Stdio::null())
        .output()
        .expect("run berth");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

impl BerthProcess {
    /// Starts `berth serve` as `user` (see [`ServiceUser`]); the log goes to
    /// `berth.log` beside the data dir.
    pub fn start_as(user: &ServiceUser, bin: &std::path::Path, config: &Config) -> BerthProcess {
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(config.data_dir.join("../berth.log"))
            .unwrap();
        let child = user
            .command(bin)
            .arg("serve")
            .envs(env_for(config))
            .env_remove("BERTH_CONFIG")
            .env("RUST_LOG", "info")
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start berth serve");
        BerthProcess {
            child,
            api: format!("http://{}", config.listen),
        }
    }
}
