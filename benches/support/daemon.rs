//! A whole berth daemon for the end-to-end benchmarks (`core`, `updates`):
//! its own Caddy, a config from the test harness, an API token and a plan
//! `p`, the `berth serve` process answering its health check. Included by
//! path beside `#[path = "../tests/harness/mod.rs"] mod harness;`.

use std::time::{Duration, Instant};

use crate::harness::{
    berth_cli, free_port, free_port_block, test_config, unique, BerthProcess, CaddyProcess,
    DockerGuard,
};

pub struct Daemon {
    /// Holds the config, data dir and `berth.log`; removed on drop.
    #[allow(dead_code)] // read by `core` only
    pub dir: tempfile::TempDir,
    pub caddy: CaddyProcess,
    pub daemon: BerthProcess,
    pub token: String,
    pub http: reqwest::Client,
    /// The static-site blueprint's image, built by the daemon and removed with `guard`.
    pub image: String,
    pub guard: DockerGuard,
}

/// Starts berth with `ports` host ports, `network_pool` warm networks and
/// `env` for the daemon, serving the static site from `image`.
pub async fn start(
    image: String,
    ports: u16,
    network_pool: usize,
    env: &[(&str, String)],
) -> Daemon {
    let dir = tempfile::Builder::new()
        .prefix("berth-bench-")
        .tempdir()
        .unwrap();
    let owner = unique("bench");
    let guard = DockerGuard::new(&owner);
    let caddy = CaddyProcess::start();
    guard.track_image(&image);
    let config = test_config(&dir, &owner, &caddy, &image, |c| {
        c.listen = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let (first, last) = free_port_block(ports);
        c.port_range = format!("{first}-{last}").parse().unwrap();
        c.reconcile_interval = Duration::from_secs(30);
        c.docker.network_pool = network_pool;
    });
    std::fs::create_dir_all(&config.data_dir).unwrap();
    let token = berth_cli(&config, &["token", "create", "bench"])
        .1
        .trim()
        .to_owned();
    berth_cli(
        &config,
        &["plan", "create", "p", "--cpus", "0.1", "--memory", "32MiB"],
    );
    let daemon = BerthProcess::start_with_env(&config, env);
    let http = berth::tls::client_builder().no_proxy().build().unwrap();
    let up = Instant::now();
    while http
        .get(format!("{}/api/v1/health", daemon.api))
        .send()
        .await
        .is_err()
    {
        assert!(
            up.elapsed() < Duration::from_secs(30),
            "daemon did not start"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Daemon {
        dir,
        caddy,
        daemon,
        token,
        http,
        image,
        guard,
    }
}
