//! How long a backup freezes its tenant. Runs a whole berth (the integration
//! tests' `TestApp`: a private Caddy, the real Docker engine under a
//! throwaway owner label, a temp data dir), gives one static-site instance
//! (`backup_consistency = "pause"`) a data directory of the given size,
//! keeps rewriting pages of a file in it from this process (a tenant that
//! writes while it is backed up), then runs backups one after another through the
//! API and reads the freeze time each one recorded in the history.
//!
//!     cargo bench --bench freeze                          # ~800 MB, 10 backups
//!     cargo bench --bench freeze -- --mb 20 --backups 3   # a quick look

#[path = "../tests/harness/mod.rs"]
mod harness;
#[path = "support/results.rs"]
mod results;

use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::Parser;
use harness::{eventually, TestApp};
use reqwest::StatusCode;
use results::{Row, Target};
use serde_json::{json, Value};

#[derive(Parser)]
struct Args {
    /// Size of the tenant's data directory, in MB.
    #[arg(long, default_value_t = 800)]
    mb: u64,
    /// Backups run one after another.
    #[arg(long, default_value_t = 10)]
    backups: usize,
    /// `cargo bench` passes this to every benchmark; nothing to do with it.
    #[arg(long, hide = true)]
    bench: bool,
}

#[tokio::main]
async fn main() -> Result<()> {
    berth::tls::install_crypto_provider();
    let args = Args::parse();
    let app = TestApp::spawn().await;
    app.create_plan("bench", 0.5, "64MiB").await;
    let client = app.create_client("Freeze bench", "bench").await;
    let inst = &client["instances"][0];
    let id = inst["id"].as_i64().context("instance id")?;
    app.wait_phase(id, &["running"], Duration::from_secs(120))
        .await;
    let dir = app.config.instance_data_dir(
        inst["client_slug"].as_str().context("client slug")?,
        inst["name"].as_str().context("instance name")?,
    );
    let written = fill(&dir, args.mb * 1_000_000)?;
    println!("data dir {}: {:.0} MB", dir.display(), written as f64 / 1e6);

    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let (stop, log) = (stop.clone(), dir.join("live.db"));
        std::thread::spawn(move || keep_writing(&log, &stop))
    };
    let mut freezes = Vec::new();
    let mut durations = Vec::new();
    for n in 1..=args.backups {
        let backup = backup_now(&app, id).await?;
        let freeze = backup["freeze_ms"].as_u64().context("no freeze_ms")?;
        let took = backup["duration_ms"].as_u64().unwrap_or(0);
        println!("backup {n}: frozen {freeze} ms, took {took} ms");
        freezes.push(freeze as f64);
        durations.push(took as f64);
    }
    stop.store(true, Ordering::Relaxed);
    let appended = writer.join().unwrap_or(0);
    println!(
        "{:.1} MB rewritten in the tenant's live.db during the backups",
        appended as f64 / 1e6
    );

    freezes.sort_by(f64::total_cmp);
    durations.sort_by(f64::total_cmp);
    let n = freezes.len();
    // Nearest rank: with fewer than 100 backups the p99 is the maximum.
    let rank = |p: f64| freezes[((p * n as f64).ceil() as usize).clamp(1, n) - 1];
    let (p50, p99, max) = (rank(0.50), rank(0.99), freezes[n - 1]);
    println!(
        "freeze over {n} backups of {} MB: p50 {p50} ms, p99 {p99} ms, max {max} ms (target < 250 ms); backup median {} ms",
        args.mb,
        durations[n / 2]
    );
    for (what, value) in [("p50", p50), ("p99", p99), ("max", max)] {
        Row::new(
            format!("tenant frozen per backup, {what} ({n} x {} MB)", args.mb),
            Target::Below(250.0),
            value,
            "ms",
        )
        .record();
    }
    Ok(())
}

async fn backup_now(app: &TestApp, instance: i64) -> Result<Value> {
    let (status, body) = app
        .post(&format!("/api/v1/instances/{instance}/backups"), json!({}))
        .await;
    if status != StatusCode::ACCEPTED {
        bail!("backup request answered {status}: {body}");
    }
    let id = body["id"].as_i64().context("backup id")?;
    let done = eventually(
        &format!("backup {id} finishes"),
        Duration::from_secs(600),
        || async move {
            let (_, b) = app.get(&format!("/api/v1/backups/{id}")).await;
            matches!(b["status"].as_str(), Some("ok" | "failed")).then_some(b)
        },
    )
    .await;
    if done["status"] != "ok" {
        bail!("backup {id} failed: {}", done["message"]);
    }
    Ok(done)
}

/// Half compressible text (a database-like file), a quarter random blobs, a
/// quarter 4 KiB files: the mix of an Open WebUI data dir. Returns bytes written.
fn fill(dir: &Path, bytes: u64) -> Result<u64> {
    let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut written = 0;
    let mut db = std::io::BufWriter::new(std::fs::File::create(dir.join("app.db"))?);
    while written < bytes / 2 {
        let r = next();
        let line = format!(
            "{}|user {}|assistant message {}\n",
            written,
            r % 1000,
            r >> 40
        );
        db.write_all(line.as_bytes())?;
        written += line.len() as u64;
    }
    db.flush()?;
    let blobs = dir.join("uploads");
    std::fs::create_dir_all(&blobs)?;
    let mut buf = vec![0u8; 1 << 20];
    let mut i = 0;
    while written < bytes * 3 / 4 {
        buf.chunks_mut(8)
            .for_each(|c| c.copy_from_slice(&next().to_le_bytes()[..c.len()]));
        std::fs::write(blobs.join(format!("blob-{i}.bin")), &buf)?;
        written += buf.len() as u64;
        i += 1;
    }
    let cache = dir.join("cache");
    let mut i = 0;
    while written < bytes {
        let sub = cache.join(format!("{:02}", i / 500));
        std::fs::create_dir_all(&sub)?;
        std::fs::write(sub.join(format!("{i}.dat")), &buf[..4096])?;
        written += 4096;
        i += 1;
    }
    Ok(written)
}

/// Rewrites 4 KiB pages of a 16 MiB file at varying offsets every 5 ms,
/// synced like a database commit, until told to stop: the data changes
/// during every backup but does not grow. Returns the bytes written.
fn keep_writing(file: &Path, stop: &AtomicBool) -> u64 {
    use std::os::unix::fs::FileExt;
    const PAGES: u64 = 4096;
    let Ok(file) = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(file)
    else {
        return 0;
    };
    if file.set_len(PAGES * 4096).is_err() {
        return 0;
    }
    let mut page = vec![b'w'; 4096];
    let mut total = 0;
    let mut n: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        page[..8].copy_from_slice(&n.to_le_bytes());
        let offset = (n * 2_654_435_761 % PAGES) * 4096;
        if file
            .write_all_at(&page, offset)
            .and_then(|_| file.sync_data())
            .is_err()
        {
            break;
        }
        total += page.len() as u64;
        std::thread::sleep(Duration::from_millis(5));
    }
    total
}
