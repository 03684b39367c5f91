//! Core benchmark: time from `POST /api/v1/clients` to the first 200 through
//! Caddy, for 1 client and for 20 created concurrently, against the status
//! quo (one docker-compose project per client plus a Caddy reload); then
//! berth's RSS with 200 idle instances.
//!
//!     cargo bench --bench core            # needs Docker, caddy, docker-compose
//!     BENCH_IDLE=0 cargo bench --bench core   # skip the 200-instance RSS part
//!     cargo bench --bench core -- --runs 1 --concurrent 5 --idle 0   # a quick look
//!     cargo bench --bench core -- --network-pool 0   # every create makes its network
//!
//! The daemon logs the reconciler's `timing` lines (debug); after each
//! create figure the bench prints where that create spent its time.

#[path = "support/daemon.rs"]
mod daemon;
#[path = "../tests/harness/mod.rs"]
mod harness;
#[path = "support/results.rs"]
mod results;

use std::time::{Duration, Instant};

use clap::Parser;
use results::{Row, Target};

use harness::{free_port_block, unique, wait_pool_full};
use serde_json::json;

#[path = "core/trace.rs"]
mod trace;

use daemon::Daemon as Bench;

/// berth with `ports` host ports and the daemon's default warm network
/// pool unless asked; reconciler timings logged for the trace.
async fn start(ports: u16, network_pool: Option<usize>) -> Bench {
    let image = format!("berth-bench/static-site:{}", unique("img"));
    // The daemon's own default unless asked: the tests' config is smaller.
    let pool = network_pool.unwrap_or(berth::config::Config::default().docker.network_pool);
    let env = [("RUST_LOG", "info,berth::reconcile=debug".to_owned())];
    daemon::start(image, ports, pool, &env).await
}

impl Bench {
    async fn create(&self, name: String) -> String {
        let r = self
            .http
            .post(format!("{}/api/v1/clients", self.daemon.api))
            .bearer_auth(&self.token)
            .json(&json!({ "name": name, "email": "a@b.example", "plan": "p", "blueprint": "static-site" }))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let v: serde_json::Value = r.json().await.unwrap();
        v["instances"][0]["domains"][0].as_str().unwrap().to_owned()
    }

    async fn wait_200(&self, host: &str) {
        let addr = format!("127.0.0.1:{}", self.caddy.http_port);
        let start = Instant::now();
        while probe(&addr, host, "/") != Some(200) {
            assert!(
                start.elapsed() < Duration::from_secs(120),
                "{host} never answered"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// The reconciler's timing lines logged since `since`.
    fn trace_since(&self, since: std::time::SystemTime) -> trace::Trace {
        let log = std::fs::read_to_string(self.dir.path().join("berth.log")).unwrap_or_default();
        trace::Trace::parse(&log, since)
    }

    fn rss_kib(&self) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.daemon.child.id())).unwrap();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap()
            .parse()
            .unwrap()
    }
}

/// The status quo: a compose file per client, `docker-compose up -d`, then
/// the whole Caddy config loaded again with the new route.
fn compose_baseline(
    bench: &Bench,
    clients: usize,
    routes: &mut Vec<serde_json::Value>,
) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let (first, _) = free_port_block(clients as u16);
    let start = Instant::now();
    let mut hosts = Vec::new();
    for i in 0..clients {
        let project = format!("{}-c{i}", bench.guard.owner());
        let port = first + i as u16;
        let file = dir.path().join(format!("{project}.yml"));
        std::fs::write(
            &file,
            format!(
                "services:\n  web:\n    image: {}\n    command: [\"/bin/httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/etc\"]\n    ports: [\"127.0.0.1:{port}:8080\"]\n    mem_limit: 32m\n    cpus: 0.1\n    restart: unless-stopped\n",
                bench.image
            ),
        )
        .unwrap();
        let out = std::process::Command::new("docker-compose")
            .args(["-f", file.to_str().unwrap(), "-p", &project, "up", "-d"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "docker-compose up failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let host = format!("{project}.compose.test");
        routes.push(json!({ "match": [{ "host": [host] }], "handle": [{ "handler": "reverse_proxy", "upstreams": [{ "dial": format!("127.0.0.1:{port}") }] }] }));
        let config = json!({ "admin": { "listen": bench.caddy.admin_addr }, "apps": { "http": { "servers": { "s": {
            "listen": [format!("127.0.0.1:{}", bench.caddy.http_port)], "routes": routes, "automatic_https": { "disable": true } } } } } });
        let ok = std::process::Command::new("curl")
            .args([
                "-sf",
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "-d",
                &config.to_string(),
                &format!("{}/load", bench.caddy.admin_url),
            ])
            .status()
            .unwrap()
            .success();
        assert!(ok, "caddy load failed");
        hosts.push(host);
    }
    let addr = format!("127.0.0.1:{}", bench.caddy.http_port);
    for host in &hosts {
        while probe(&addr, host, "/passwd") != Some(200) {
            assert!(
                start.elapsed() < Duration::from_secs(300),
                "{host} never answered"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let took = start.elapsed();
    for i in 0..clients {
        let project = format!("{}-c{i}", bench.guard.owner());
        let file = dir.path().join(format!("{project}.yml"));
        let _ = std::process::Command::new("docker-compose")
            .args(["-f", file.to_str().unwrap(), "-p", &project, "down"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status();
    }
    took
}

/// One readiness probe with short timeouts, as a load balancer's would be: a
/// request sent while the container's network is still coming up can lose
/// its SYN and wait a whole retransmit (1 s); a probe gives up and asks
/// again instead. Both berth and the status quo are measured with it.
fn probe(addr: &str, host: &str, path: &str) -> Option<u16> {
    use std::io::{Read, Write};
    let timeout = Duration::from_millis(100);
    let mut stream = std::net::TcpStream::connect_timeout(&addr.parse().ok()?, timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[derive(Parser)]
struct Args {
    /// Single creates timed one after another (the median is reported).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Clients created at once.
    #[arg(long, default_value_t = 20)]
    concurrent: usize,
    /// Instances running when the idle RSS is read; 0 skips that part.
    #[arg(long, default_value_t = 200)]
    idle: usize,
    /// `[docker] network_pool` of the daemon (default: the config's); 0
    /// makes every create wait for its own network, as before the pool.
    #[arg(long)]
    network_pool: Option<usize>,
    /// Skip the docker-compose status quo (minutes on a loaded machine), to
    /// compare berth with itself, e.g. across `--network-pool` sizes.
    #[arg(long)]
    no_status_quo: bool,
    /// `cargo bench` passes this to every benchmark; nothing to do with it.
    #[arg(long, hide = true)]
    bench: bool,
    /// `cargo test --benches` asks for a list; there is none.
    #[arg(long, hide = true)]
    list: bool,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    if args.list {
        return;
    }
    let idle = match std::env::var("BENCH_IDLE").as_deref() {
        Ok("0") => 0,
        _ => args.idle,
    };
    let before_idle = 1 + args.runs + args.concurrent;
    let bench = start((before_idle.max(idle) + 60) as u16, args.network_pool).await;
    let pool = args
        .network_pool
        .unwrap_or(berth::config::Config::default().docker.network_pool);
    // Warm-up: the first create also builds the static-site image.
    let host = bench.create("Warmup".into()).await;
    bench.wait_200(&host).await;
    // A server takes creates long after it started: its pool is full. The
    // pool filling here, during the single runs, would time the engine
    // making networks, not a create.
    wait_pool_full(&bench.guard, pool, Duration::from_secs(60)).await;

    let mut one = Vec::new();
    let mut last_trace = None;
    for i in 0..args.runs.max(1) {
        // Let the passes that follow the last create's events settle, so
        // each run starts from an idle reconciler as a lone create would.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let (t, wall) = (Instant::now(), std::time::SystemTime::now());
        let host = bench.create(format!("One {i}")).await;
        bench.wait_200(&host).await;
        one.push(t.elapsed());
        last_trace = Some(bench.trace_since(wall).until(t.elapsed()));
    }
    let one_median = median(one.clone());
    println!("berth: 1 client, POST -> first 200 via Caddy: median {one_median:?} (runs {one:?})");
    if let Some(trace) = last_trace {
        println!("trace of the last 1-client run (ms after the POST):\n{trace}");
    }

    let n = args.concurrent;
    tokio::time::sleep(Duration::from_millis(500)).await;
    // A server between bursts has a full pool: the singles above used some.
    wait_pool_full(&bench.guard, pool, Duration::from_secs(60)).await;
    let (t, wall) = (Instant::now(), std::time::SystemTime::now());
    let hosts =
        futures_util::future::join_all((0..n).map(|i| bench.create(format!("Batch {i}")))).await;
    let posted = t.elapsed();
    for h in &hosts {
        bench.wait_200(h).await;
    }
    let many = t.elapsed();
    println!("berth: {n} clients concurrently, all answering 200: {many:?} (all POSTs answered after {posted:?})");
    println!(
        "trace of the {n}-client run (ms after the first POST):\n{}",
        bench.trace_since(wall).until(many).summary()
    );

    let (base1, base_n) = if args.no_status_quo {
        (None, None)
    } else {
        let mut routes = Vec::new();
        let base1 = tokio::task::block_in_place(|| compose_baseline(&bench, 1, &mut routes));
        let mut routes = Vec::new();
        let base_n = tokio::task::block_in_place(|| compose_baseline(&bench, n, &mut routes));
        println!(
            "status quo (docker-compose + caddy load): 1 client {base1:?}, {n} clients {base_n:?}"
        );
        (Some(base1), Some(base_n))
    };
    let versus = |row: Row, base: Option<Duration>| match base {
        Some(b) => row.versus("compose", b.as_secs_f64()),
        None => row,
    };
    println!(
        "berth RSS with {before_idle} instances: {} KiB",
        bench.rss_kib()
    );
    let runs = one.len();
    versus(
        Row::new(
            format!("1 client -> 200 via Caddy (median of {runs})"),
            Target::AtMost(0.5),
            one_median.as_secs_f64(),
            "s",
        ),
        base1,
    )
    .record();
    versus(
        Row::new(
            format!("{n} clients at once -> all 200 via Caddy"),
            Target::AtMost(3.0),
            many.as_secs_f64(),
            "s",
        ),
        base_n,
    )
    .record();

    if idle > 0 {
        let t = Instant::now();
        let more = idle.saturating_sub(before_idle);
        for chunk in (0..more).collect::<Vec<_>>().chunks(20) {
            let hosts = futures_util::future::join_all(
                chunk.iter().map(|i| bench.create(format!("Idle {i}"))),
            )
            .await;
            for h in &hosts {
                bench.wait_200(h).await;
            }
        }
        println!(
            "berth: {} instances running and routed after {:?}",
            before_idle.max(idle),
            t.elapsed()
        );
        // Let the reconciler settle into idle passes.
        tokio::time::sleep(Duration::from_secs(35)).await;
        let rss = bench.rss_kib();
        let total = before_idle.max(idle);
        println!("berth RSS with {total} idle instances: {rss} KiB");
        Row::new(
            format!("daemon RSS, {total} idle instances"),
            Target::Below(40.0),
            rss as f64 / 1024.0,
            "MiB",
        )
        .record();
    }
}
