//! The admin UI under load, reproducibly. Seeds a throwaway store (clients,
//! instances, varied phases), serves the UI in this process without a
//! reconciler (no Docker needed), signs in, and runs `wrk` (Debian package
//! `wrk`) against the dashboard and the clients list, then as a client user
//! (4 per client) against the portal's pages. Prints wrk's latency
//! percentiles and this process's resident memory.
//!
//!     cargo bench --bench ui                                   # 500 clients, 1,000 instances, 32 connections, 10 s
//!     cargo bench --bench ui -- --clients 50 --duration 2s     # a quick look
//!
//! A config file in `BERTH_CONFIG` and `BERTH_*` variables apply as for
//! `berth`; the data dir, listen address and port range are the bench's own.

#[path = "support/portal.rs"]
mod portal;
#[path = "support/results.rs"]
mod results;
mod support;

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{anyhow, bail, Context, Result};
use berth::audit::Actor;
use berth::config::Config;
use berth::domain::size::SizeInput;
use berth::ops::{NewClientInput, NewInstanceInput, Ops, PlanInput};
use berth::store::Store;
use clap::Parser;
use results::{Row, Target};

const USER: &str = "bench";
const PASSWORD: &str = "bench-password-1";

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 500)]
    clients: u32,
    /// Instances per client (the first comes with the client).
    #[arg(long, default_value_t = 2)]
    instances_per_client: u32,
    /// Portal users per client (the figure: 2,000 at 500 clients).
    #[arg(long, default_value_t = 4)]
    users_per_client: u32,
    #[arg(long, default_value_t = 32)]
    connections: u32,
    #[arg(long, default_value = "10s")]
    duration: String,
    /// Measure only these pages (repeatable, e.g. `--only /portal/usage`):
    /// a before/after of one page without the other pages' minutes.
    #[arg(long)]
    only: Vec<String>,
    /// Keep the generated data directory here instead of a temp dir.
    #[arg(long)]
    dir: Option<PathBuf>,
    /// `cargo bench` passes this to every benchmark; nothing to do with it.
    #[arg(long, hide = true)]
    bench: bool,
}

/// On berth's own runtime, so the RSS printed is the daemon's, not that of
/// tokio's defaults.
fn main() -> Result<()> {
    berth::cli::runtime()?.block_on(run())
}

async fn run() -> Result<()> {
    berth::tls::install_crypto_provider();
    let args = Args::parse();
    let (dir, temporary) = match &args.dir {
        Some(d) => (d.clone(), false),
        None => (
            std::env::temp_dir().join(format!("berth-bench-{}", std::process::id())),
            true,
        ),
    };
    let file = std::env::var_os("BERTH_CONFIG").map(PathBuf::from);
    let mut config = Config::load(file.as_deref(), |k| std::env::var(k).ok())?;
    config.data_dir = dir.clone();
    config.listen = "127.0.0.1:0".parse()?;
    config.port_range = "10000-19999".parse().map_err(|e| anyhow!("{e}"))?;
    let result = bench(config, &args).await;
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

async fn bench(config: Config, args: &Args) -> Result<()> {
    let (clients, per_client) = (args.clients, args.instances_per_client);
    let (connections, duration) = (args.connections, &args.duration);
    // A second handle on the same database, for the phases no operation sets.
    let store = Store::open(&config.db_path())?;
    let ops = berth::cli::open_ops(config)?;
    let started = Instant::now();
    seed(&ops, &store, clients, per_client).await?;
    eprintln!(
        "seeded {clients} clients, {} instances in {:.1?}",
        clients * per_client,
        started.elapsed()
    );

    let portal_link = portal::seed_users(&ops, clients, args.users_per_client).await?;
    let server = support::serve_web(ops, Default::default()).await?;
    let cookie = sign_in(&server.base).await?;
    let wanted = |path: &str| args.only.is_empty() || args.only.iter().any(|p| p == path);
    for (path, page) in [("/", "dashboard"), ("/clients", "clients list")] {
        if !wanted(path) {
            continue;
        }
        let label = format!("{page} p99, {clients} clients, {connections} conns");
        measure(&server.base, path, &cookie, &label, connections, duration).await?;
    }
    let portal_cookie = portal::sign_in(&server.base, &portal_link).await?;
    let users = clients * args.users_per_client;
    for path in portal::PAGES.into_iter().filter(|p| wanted(p)) {
        let label = format!(
            "portal {path} p99, {clients} clients, {users} client users, {connections} conns"
        );
        measure(
            &server.base,
            path,
            &portal_cookie,
            &label,
            connections,
            duration,
        )
        .await?;
    }
    println!("berth RSS: {}", rss());
    Row::new(
        "RSS after the UI bench",
        Target::Below(40.0),
        rss_kib("VmRSS:") as f64 / 1024.0,
        "MiB",
    )
    .record();
    server.stop().await;
    Ok(())
}

/// Runs wrk against one page with `cookie`; records its p99 as `label`.
async fn measure(
    base: &str,
    path: &str,
    cookie: &str,
    label: &str,
    connections: u32,
    duration: &str,
) -> Result<()> {
    let args = [
        "-t2".to_owned(),
        format!("-c{connections}"),
        format!("-d{duration}"),
        "--latency".to_owned(),
        "-H".to_owned(),
        format!("Cookie: {cookie}"),
        format!("{base}{path}"),
    ];
    let out = tokio::process::Command::new("wrk")
        .args(&args)
        .output()
        .await
        .context("running wrk (Debian package wrk)")?;
    let text = String::from_utf8_lossy(&out.stdout);
    println!("== GET {path} ({connections} connections, {duration})");
    match p99_ms(&text) {
        Some(p99) => Row::new(label, Target::Below(20.0), p99, "ms").record(),
        None => eprintln!("no 99% line in wrk's output for {path}"),
    }
    for line in text.lines() {
        let l = line.trim_start();
        if l.starts_with("50%")
            || l.starts_with("90%")
            || l.starts_with("99%")
            || l.starts_with("Requests/sec")
            || l.starts_with("Latency")
            || l.contains("Non-2xx")
            || l.contains("requests in")
        {
            println!("   {l}");
        }
    }
    Ok(())
}

async fn seed(ops: &Ops, store: &Store, clients: u32, per_client: u32) -> Result<()> {
    let cli = Actor::cli();
    for (name, cpus, memory) in [
        ("small", 0.5, "512MiB"),
        ("medium", 1.0, "1GiB"),
        ("large", 2.0, "4GiB"),
    ] {
        let input = PlanInput {
            name: name.into(),
            cpus,
            memory: SizeInput::Text(memory.into()),
            memory_reservation: None,
            storage: None,
            max_instances: None,
            approval: Default::default(),
            portal_restore: false,
            blueprints: None,
            image_tag: None,
        };
        ops.create_plan(&cli, input).await?;
    }
    for n in 0..clients {
        let plan = ["small", "medium", "large"][n as usize % 3];
        // No blueprint named: every instance gets the default one.
        let input = NewClientInput {
            name: format!("Client {n:04} <b>GmbH</b>"),
            email: format!("ops{n}@example.com"),
            plan: plan.into(),
            notes: String::new(),
            blueprint: None,
            domain: None,
            env: None,
        };
        let view = ops.create_client(&cli, input).await?;
        for i in 1..per_client {
            let extra = NewInstanceInput {
                name: Some(format!("extra{i}")),
                blueprint: None,
                domain: None,
                env: None,
            };
            ops.add_instance(&cli, &view.client.slug, extra).await?;
        }
    }
    // A realistic mix of phases: mostly running, some stopped or failing.
    store
        .call(|conn| {
            conn.execute_batch(
                "UPDATE instances SET phase = CASE id % 20 WHEN 0 THEN 'error' WHEN 1 THEN 'stopped' WHEN 2 THEN 'unhealthy' ELSE 'running' END,
                 message = CASE id % 20 WHEN 0 THEN 'container exited with code 1' ELSE '' END,
                 observed_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')",
            )?;
            Ok(())
        })
        .await?;
    ops.create_user(&cli, USER, PASSWORD).await?;
    Ok(())
}

/// GET /login for the CSRF token, POST it; returns the session cookie.
async fn sign_in(base: &str) -> Result<String> {
    let http = berth::tls::client_builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let page = http.get(format!("{base}/login")).send().await?;
    let cookie = cookie_named(&page, "berth_csrf").context("no CSRF cookie from /login")?;
    let html = page.text().await?;
    let token = html
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("no CSRF field on /login")?;
    let body = format!("_csrf={token}&name={USER}&password={PASSWORD}");
    let res = http
        .post(format!("{base}/login"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await?;
    if !res.status().is_redirection() {
        bail!("sign-in answered {}", res.status());
    }
    cookie_named(&res, "berth_session").context("no session cookie after sign-in")
}

fn cookie_named(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

/// wrk's 99th percentile ("99%  12.34ms", also "us" and "s") in ms.
fn p99_ms(wrk_output: &str) -> Option<f64> {
    let value = wrk_output
        .lines()
        .find_map(|l| l.trim_start().strip_prefix("99%"))?
        .trim();
    let (number, scale) = if let Some(v) = value.strip_suffix("us") {
        (v, 1e-3)
    } else if let Some(v) = value.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = value.strip_suffix("m") {
        (v, 60e3)
    } else {
        (value.strip_suffix('s')?, 1e3)
    };
    Some(number.parse::<f64>().ok()? * scale)
}

/// A `/proc/self/status` field in KiB (VmRSS: now, VmHWM: peak).
fn rss_kib(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let pick = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .map(|l| l[key.len()..].trim().to_owned())
            .unwrap_or_default()
    };
    format!("{} now, {} peak", pick("VmRSS:"), pick("VmHWM:"))
}
