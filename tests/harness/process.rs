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
        Self::start_with_env(config, &[])
    }

    /// [`BerthProcess::start`] with extra variables, e.g. a crash test's
    /// `BERTH_TEST_PAUSE_AT` (see `berth::testhook`).
    pub fn start_with_env(config: &Config, extra: &[(&str, String)]) -> BerthProcess {
        let log = std::fs::File::options()
            .create(true)
            .append(true)
            .open(config.data_dir.join("../berth.log"))
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_berth"))
            .arg("serve")
            .envs(env_for(config))
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
