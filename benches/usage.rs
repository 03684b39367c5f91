//! The usage targets measured on this machine with real containers. Runs
//! a whole berth (the integration tests' `TestApp`: a private Caddy, the
//! real Docker engine under a throwaway owner label, a temp data dir),
//! creates N busybox instances, then stops the daemon and drives the
//! sampler alone so its CPU time is what the process spends. The test
//! harness's guard removes every container, network and image it made.
//!
//!     cargo bench --bench usage                                        # 200 instances, 2 min CPU window
//!     cargo bench --bench usage -- --instances 200 --cpu-window 10m

#[path = "../tests/harness/mod.rs"]
mod harness;
#[path = "support/results.rs"]
mod results;
mod support;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use berth::audit::Actor;
use berth::config::Config;
use berth::docker::Docker;
use berth::domain::rollup::{align, Bucket, Tier};
use berth::domain::size::SizeInput;
use berth::metrics::{unix_now, Live, Range, Sampler};
use berth::ops::{NewClientInput, Ops, PlanInput};
use berth::store::{metrics, Store};
use clap::Parser;
use harness::{free_port_block, TestApp};
use results::{Row, Target};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 200)]
    instances: u32,
    /// How long to run the sampler at its normal cadence to measure CPU.
    #[arg(long, default_value = "2m")]
    cpu_window: String,
    /// `cargo bench` passes this to every benchmark; nothing to do with it.
    #[arg(long, hide = true)]
    bench: bool,
}

/// CPU seconds (user + system) this process has used.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(0.0))
        .collect();
    // Linux reports clock ticks; USER_HZ is 100 on every architecture berth targets.
    (f.get(11).copied().unwrap_or(0.0) + f.get(12).copied().unwrap_or(0.0)) / 100.0
}

fn stats(mut v: Vec<f64>) -> String {
    v.sort_by(f64::total_cmp);
    format!(
        "min {:.1} ms, median {:.1} ms, max {:.1} ms",
        v[0] * 1e3,
        v[v.len() / 2] * 1e3,
        v[v.len() - 1] * 1e3
    )
}

#[tokio::main]
async fn main() -> Result<()> {
    berth::tls::install_crypto_provider();
    let args = Args::parse();
    let window = humantime::parse_duration(&args.cpu_window).context("--cpu-window")?;
    let n = args.instances;
    let mut app = TestApp::spawn_with(|c| {
        let (first, last) = free_port_block(n as u16 + 20);
        c.port_range = format!("{first}-{last}").parse().expect("a port block");
        // The daemon's own sampler stays off: the one measured runs alone.
        c.metrics.enabled = false;
        c.reconcile_interval = Duration::from_secs(5);
        add_bench_blueprint(&c.blueprint_dir()).expect("bench blueprint");
    })
    .await;
    println!(
        "owner {}, data dir {}",
        app.config.docker.owner,
        app.config.data_dir.display()
    );
    let ops = app.ops().clone();
    start_instances(&ops, n).await?;
    app.stop().await;
    // The daemon is stopped; from here on the process runs only the sampler.
    let store = Store::open(&app.config.db_path())?;
    let live = measure_sampler(&app.config, &store, window).await?;
    chart_pages(&ops, &store, &app.token, live).await?;
    let year = history_bytes(365 * 24, 0, 0)?;
    let steady = history_bytes(400 * 24, 35 * 288, 48 * 240)?;
    println!("history per instance: one year of hourly rollups {:.2} MiB; steady state (48 h raw + 35 d 5-min + 400 d hourly) {:.2} MiB",
        year / 1048576.0, steady / 1048576.0);
    println!(
        "cleaning up containers and networks of {}",
        app.config.docker.owner
    );
    Ok(())
}

/// `bench`: the static site without its health check, so 200 containers'
/// health probes (an exec each every 5 s) do not load the engine the
/// sampler is measured against.
fn add_bench_blueprint(dir: &Path) -> Result<()> {
    let site = std::fs::read_to_string(dir.join("static-site.toml"))?;
    let mut out = String::new();
    let mut skip = false;
    for line in site.lines() {
        if line.starts_with('[') {
            skip = line.trim() == "[health]";
        }
        if !skip {
            out.push_str(line);
            out.push('\n');
        }
    }
    std::fs::write(dir.join("bench.toml"), out)?;
    Ok(())
}

/// Creates `n` clients on the `bench` blueprint and waits until all run.
async fn start_instances(ops: &Ops, n: u32) -> Result<()> {
    let actor = Actor::cli();
    ops.create_plan(
        &actor,
        PlanInput {
            name: "bench".into(),
            cpus: 0.1,
            memory: SizeInput::Text("32MiB".into()),
            memory_reservation: None,
            storage: Some(SizeInput::Text("1GiB".into())),
            max_instances: None,
            approval: Default::default(),
            portal_restore: false,
            blueprints: None,
            image_tag: None,
        },
    )
    .await?;
    let t = Instant::now();
    for i in 0..n {
        ops.create_client(
            &actor,
            NewClientInput {
                name: format!("bench {i}"),
                email: "bench@example.com".into(),
                plan: "bench".into(),
                notes: String::new(),
                blueprint: Some("bench".into()),
                domain: None,
                env: Default::default(),
            },
        )
        .await?;
    }
    loop {
        let list = ops.list_instances(None).await?;
        let running = list
            .iter()
            .filter(|i| i.phase == berth::domain::Phase::Running)
            .count();
        if running == n as usize {
            break;
        }
        if t.elapsed() > Duration::from_secs(900) {
            bail!("only {running} of {n} instances running after 15 min");
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    println!(
        "{n} instances running after {:.0} s",
        t.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Sweep times, then the sampler at its normal cadence for `window`; the
/// readings it left, for `/metrics`.
async fn measure_sampler(config: &Config, store: &Store, window: Duration) -> Result<Live> {
    let docker = Docker::connect(&config.docker.socket, &config.docker.owner).await?;
    let mut sampling = config.clone();
    sampling.metrics.enabled = true;
    let sampling = Arc::new(sampling);
    let live = Live::default();
    let mut sampler = Sampler::new(
        store.clone(),
        sampling.clone(),
        docker.clone(),
        live.clone(),
    );
    let cold = sampler.sweep().await?;
    println!(
        "first sweep (inspects every container for its pid): {:.1} ms, {} containers, {} fallbacks",
        cold.elapsed.as_secs_f64() * 1e3,
        cold.containers,
        cold.fallbacks
    );
    let mut times = Vec::new();
    for _ in 0..10 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let r = sampler.sweep().await?;
        times.push(r.elapsed.as_secs_f64());
    }
    let mut sorted = times.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "sweep of {} containers (target < 500 ms): {}",
        cold.containers,
        stats(times)
    );
    Row::new(
        format!("sampler sweep, {} containers (median)", cold.containers),
        Target::Below(500.0),
        sorted[sorted.len() / 2] * 1e3,
        "ms",
    )
    .record();

    let (cpu0, t0) = (cpu_secs(), Instant::now());
    let sampler = Sampler::new(store.clone(), sampling.clone(), docker, live.clone());
    sampler.run(tokio::time::sleep(window)).await;
    let (cpu, wall) = (cpu_secs() - cpu0, t0.elapsed().as_secs_f64());
    let snap = live.snapshot();
    println!(
        "sampler at {:?} cadence for {:.0} s: {} sweeps, {:.2} s CPU = {:.3} % of one core (target < 1 %)",
        sampling.metrics.interval, wall, snap.sweeps, cpu, cpu / wall * 100.0
    );
    Row::new(
        format!("sampler CPU, {} containers, {wall:.0} s", cold.containers),
        Target::Below(1.0),
        cpu / wall * 100.0,
        "%",
    )
    .record();

    Ok(live)
}

/// 35 days of 5-minute and hourly rollups for one instance, then its
/// client's 30-day page through the real web server.
async fn chart_pages(ops: &Ops, store: &Store, token: &str, live: Live) -> Result<()> {
    let list = ops.list_instances(None).await?;
    let inst = list.first().context("no instance")?.clone();
    let now = unix_now();
    let id = inst.id;
    store
        .call(move |conn| {
            let marks = metrics::marks(conn)?;
            let tx = conn.transaction()?;
            let fake = |ts: i64, n: u64, secs: f64| Bucket {
                instance_id: id,
                ts,
                n,
                secs,
                up_secs: secs,
                cpu_secs: 0.05 * secs * (1.0 + (ts % 7) as f64 / 7.0),
                cpu_max: 0.1,
                mem_byte_secs: 20e6 * secs,
                mem_max: 24 << 20,
                mem_limit: 32 << 20,
                disk_byte_secs: 1e6 * secs,
                disk_max: 1 << 20,
                rx: 10_000,
                tx: 50_000,
                ..Bucket::default()
            };
            let hours: Vec<Bucket> = (align(now - 35 * 86400, 3600)..marks.hourly)
                .step_by(3600)
                .map(|ts| fake(ts, 240, 3600.0))
                .collect();
            let fives: Vec<Bucket> = (align(now - 35 * 86400, 300)..marks.five_min)
                .step_by(300)
                .map(|ts| fake(ts, 20, 300.0))
                .collect();
            metrics::write_buckets(&tx, Tier::Hourly, &hours)?;
            metrics::write_buckets(&tx, Tier::FiveMin, &fives)?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    let server = support::serve_web(ops.clone(), live).await?;
    // The HTML pages need a signed-in session; time their work (queries
    // plus SVG charts) without the HTTP hop and the layout around it.
    for range in [Range::Month, Range::Week] {
        let mut times = Vec::new();
        let mut size = 0;
        for _ in 0..20 {
            let t = Instant::now();
            let usage = ops.client_usage(&inst.client_slug, range).await?;
            let html: String = usage
                .instances
                .iter()
                .map(|i| berth::web::views::usage::instance_charts(i, range).into_string())
                .collect();
            times.push(t.elapsed().as_secs_f64());
            size = html.len();
        }
        println!(
            "client page charts, {} (queries + 4 SVG charts): {} ({} KiB)",
            range.as_str(),
            stats(times),
            size / 1024
        );
    }
    let http = berth::tls::client_builder().no_proxy().build()?;
    for (what, path) in [
        (
            "client usage API, 30 d",
            format!("/api/v1/clients/{}/usage?range=30d", inst.client_slug),
        ),
        ("/metrics", "/metrics".to_owned()),
    ] {
        let mut times = Vec::new();
        let mut size = 0;
        for _ in 0..20 {
            let t = Instant::now();
            let resp = http
                .get(format!("{}{path}", server.base))
                .bearer_auth(token)
                .send()
                .await?;
            let status = resp.status();
            let body = resp.bytes().await?;
            times.push(t.elapsed().as_secs_f64());
            size = body.len();
            if !status.is_success() {
                bail!("{path}: {status}");
            }
        }
        println!("{what}: {} ({} KiB)", stats(times), size / 1024);
    }
    server.stop().await;
    Ok(())
}

/// Bytes per instance of a history with the given row counts per tier,
/// measured as the growth of a fresh, vacuumed database holding 10 instances.
fn history_bytes(hours: i64, fives: i64, raws: i64) -> Result<f64> {
    let path = std::env::temp_dir().join(format!("berth-bench-size-{}.db", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let store = Store::open(&path)?;
    store.call_blocking(|c| Ok(c.execute_batch("VACUUM")?))?;
    drop(store);
    let base = std::fs::metadata(&path)?.len() as f64;
    let store = Store::open(&path)?;
    let now = unix_now();
    const N: i64 = 10;
    store.call_blocking(|conn| {
        let tx = conn.transaction()?;
        for id in 1..=N {
            let b = |ts: i64, secs: f64| Bucket {
                instance_id: id,
                ts,
                n: 20,
                secs,
                up_secs: secs,
                cpu_secs: 0.123_456 * secs,
                cpu_max: 0.9,
                mem_byte_secs: 123_456_789.0 * secs,
                mem_max: 234_567_890,
                mem_limit: 1 << 30,
                disk_byte_secs: 987_654_321.0 * secs,
                disk_max: 987_654_321,
                rx: 12_345_678,
                tx: 2_345_678,
                blk_read: 345_678,
                blk_write: 456_789,
                pids_max: 12,
                oom_kills: 0,
                mem_hits: 0,
            };
            let hourly: Vec<Bucket> = (0..hours).map(|h| b(now - h * 3600, 3600.0)).collect();
            let five: Vec<Bucket> = (0..fives).map(|i| b(now - i * 300, 300.0)).collect();
            metrics::write_buckets(&tx, Tier::Hourly, &hourly)?;
            metrics::write_buckets(&tx, Tier::FiveMin, &five)?;
            for i in 0..raws {
                metrics::insert_sample(
                    &tx,
                    &berth::domain::rollup::Sample {
                        instance_id: id,
                        ts: now - i * 15,
                        secs: 15.0,
                        up: true,
                        cpu: 0.123_456,
                        mem: 234_567_890,
                        mem_limit: 1 << 30,
                        disk: 987_654_321,
                        rx: 12_345,
                        tx: 2_345,
                        blk_read: 4096,
                        blk_write: 8192,
                        pids: 12,
                        oom_kills: 0,
                        mem_hits: 0,
                    },
                )?;
            }
        }
        tx.commit()?;
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE); VACUUM")?;
        Ok(())
    })?;
    drop(store);
    let size = std::fs::metadata(&path)?.len() as f64 - base;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", path.display()));
    }
    Ok(size / N as f64)
}
