//! Backup and restore throughput against the CLI pipeline on the same data.
//!
//!     cargo run --release --example backup_bench -- [DIR] [LEVEL] [FREEZES]
//!
//! Builds ~800 MB of mixed data in DIR (default /tmp/berth-bench): a large
//! compressible SQLite-like file, random blobs and 20k small files; then
//! times berth's archive::create / extract against
//! `tar -cf - . | zstd -3 -T0` and `zstd -d | tar -x` (best of 3, warm cache).
//! Last, the freeze of a `pause` backup over FREEZES backups (default 20):
//! a live file changes after the staging copy took it, and the catch-up
//! that runs with the tenant paused is timed (p50/p99/max). The
//! freeze_ms in a backup's history adds the engine's unpause call to it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use berth::backup::archive;

fn main() {
    let mut args = std::env::args().skip(1);
    let root = PathBuf::from(args.next().unwrap_or_else(|| "/tmp/berth-bench".into()));
    let level: i32 = args.next().map(|l| l.parse().expect("level")).unwrap_or(3);
    let freezes: usize = args
        .next()
        .map(|n| n.parse().expect("freezes"))
        .unwrap_or(20);
    let src = root.join("src");
    if !src.join("done").exists() {
        make_data(&src);
    }
    let (bytes, files) = berth::fsutil::dir_usage(&src);
    println!(
        "data: {:.0} MB in {files} files, zstd level {level}",
        bytes as f64 / 1e6
    );

    let ours = root.join("berth.tar.zst");
    let theirs = root.join("cli.tar.zst");
    let mut stats = None;
    let (t_ours, t_cli) = duel(
        || {},
        || {
            stats = Some(
                archive::create(
                    &src,
                    &archive::partial_path(&ours),
                    level,
                    0,
                    &AtomicU64::new(0),
                )
                .unwrap(),
            )
        },
        || {
            sh(&format!(
                "tar -C {} -cf - . | zstd -q -{level} -T0 -f -o {}",
                src.display(),
                theirs.display()
            ));
            std::fs::File::open(&theirs).unwrap().sync_all().unwrap();
        },
    );
    let stats = stats.unwrap();
    let cli_size = std::fs::metadata(&theirs).unwrap().len();
    std::fs::rename(archive::partial_path(&ours), &ours).unwrap();

    let (out_ours, out_cli) = (root.join("out-berth"), root.join("out-cli"));
    let (r_ours, r_cli) = duel(
        || {
            let _ = std::fs::remove_dir_all(&out_ours);
            let _ = std::fs::remove_dir_all(&out_cli);
            std::fs::create_dir_all(&out_cli).unwrap();
        },
        || archive::extract(&ours, &out_ours).unwrap(),
        || {
            sh(&format!(
                "zstd -q -d -c {} | tar -C {} -xf -",
                theirs.display(),
                out_cli.display()
            ))
        },
    );
    let mb = bytes as f64 / 1e6;
    println!(
        "backup  berth {:>6.2}s {:>6.0} MB/s  size {:>5.0} MB",
        t_ours.as_secs_f64(),
        mb / t_ours.as_secs_f64(),
        stats.size as f64 / 1e6
    );
    println!(
        "backup  cli   {:>6.2}s {:>6.0} MB/s  size {:>5.0} MB",
        t_cli.as_secs_f64(),
        mb / t_cli.as_secs_f64(),
        cli_size as f64 / 1e6
    );
    println!(
        "restore berth {:>6.2}s {:>6.0} MB/s",
        r_ours.as_secs_f64(),
        mb / r_ours.as_secs_f64()
    );
    println!(
        "restore cli   {:>6.2}s {:>6.0} MB/s",
        r_cli.as_secs_f64(),
        mb / r_cli.as_secs_f64()
    );
    println!(
        "ratios: backup throughput {:.2}x cli (target >= 0.9), size {:.3}x cli (target <= 1.02), restore throughput {:.2}x cli (target >= 0.9)",
        t_cli.as_secs_f64() / t_ours.as_secs_f64(),
        stats.size as f64 / cli_size as f64,
        r_cli.as_secs_f64() / r_ours.as_secs_f64()
    );
    println!(
        "pause window without a staging copy (frozen for the whole archive): {:.2}s",
        t_ours.as_secs_f64()
    );
    freeze_distribution(&src, freezes);
}

/// Times `freezes` staging copies and their paused catch-ups, with a live
/// file changed (64 KiB appended) after the copy took
/// it, as a running app would.
fn freeze_distribution(src: &Path, freezes: usize) {
    use berth::backup::snapshot::{staging_dir, Snapshot};
    let live = src.join("live.db");
    std::fs::write(&live, vec![1u8; 1 << 20]).unwrap();
    let (mut copy_s, mut frozen_ms, mut recopied) = (Vec::new(), Vec::new(), 0u64);
    for n in 0..freezes {
        let staging = staging_dir(src, n as i64);
        sh("sync");
        let start = Instant::now();
        let mut snap = Snapshot::take(src, &staging).unwrap();
        // What the app wrote after the copy passed its file: the catch-up
        // must copy it again while the tenant is paused.
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&live)
            .unwrap();
        f.write_all(&[n as u8; 64 << 10]).unwrap();
        copy_s.push(start.elapsed().as_secs_f64());
        let frozen = Instant::now();
        snap.refresh().unwrap();
        frozen_ms.push(frozen.elapsed().as_secs_f64() * 1e3);
        recopied += snap.copied;
        snap.remove().unwrap();
    }
    std::fs::remove_file(&live).unwrap();
    let pct = |v: &mut Vec<f64>, p: f64| {
        v.sort_by(f64::total_cmp);
        v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1]
    };
    println!(
        "freeze over {freezes} pause backups (catch-up while paused, target < 250 ms): p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; {:.1} MB recopied while paused on average",
        pct(&mut frozen_ms, 0.5),
        pct(&mut frozen_ms, 0.99),
        pct(&mut frozen_ms, 1.0),
        recopied as f64 / freezes.max(1) as f64 / 1e6
    );
    println!(
        "staging copy while running: p50 {:.2}s, max {:.2}s",
        pct(&mut copy_s, 0.5),
        pct(&mut copy_s, 1.0)
    );
}

/// Best of 3 for each, alternating, each run after `prepare` and a sync
/// (so the previous run's writeback is not charged to the next). Also
/// prints the CPU time each used: on a busy machine wall time mostly says
/// how many threads got scheduled, CPU time says how much work it was.
fn duel(
    mut prepare: impl FnMut(),
    mut ours: impl FnMut(),
    mut theirs: impl FnMut(),
) -> (Duration, Duration) {
    let (mut a, mut b) = (Duration::MAX, Duration::MAX);
    let (mut cpu_a, mut cpu_b) = (f64::MAX, f64::MAX);
    for _ in 0..3 {
        for (slot, cpu, run) in [
            (&mut a, &mut cpu_a, &mut ours as &mut dyn FnMut()),
            (&mut b, &mut cpu_b, &mut theirs as &mut dyn FnMut()),
        ] {
            prepare();
            sh("sync");
            let before = cpu_seconds();
            let start = Instant::now();
            run();
            *slot = (*slot).min(start.elapsed());
            *cpu = cpu.min(cpu_seconds() - before);
        }
    }
    println!("  cpu time (user+sys, best): berth {cpu_a:.2}s, cli {cpu_b:.2}s");
    (a, b)
}

/// This process's and its waited-for children's CPU seconds.
fn cpu_seconds() -> f64 {
    let secs = |who| {
        let mut u: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: `u` is a valid rusage to fill.
        unsafe { libc::getrusage(who, &mut u) };
        let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
        tv(u.ru_utime) + tv(u.ru_stime)
    };
    secs(libc::RUSAGE_SELF) + secs(libc::RUSAGE_CHILDREN)
}

fn sh(script: &str) {
    let status = Command::new("bash")
        .arg("-c")
        .arg(format!("set -eo pipefail; {script}"))
        .status()
        .unwrap();
    assert!(status.success(), "{script}");
}

/// xorshift: fast, deterministic, good enough to defeat compression.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

fn make_data(src: &Path) {
    let _ = std::fs::remove_dir_all(src);
    std::fs::create_dir_all(src.join("blobs")).unwrap();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // ~450 MB database-like file: 4 KiB pages of repetitive rows with some entropy.
    let mut db = std::io::BufWriter::new(std::fs::File::create(src.join("webui.db")).unwrap());
    let words = [
        "user",
        "assistant",
        "system",
        "hello",
        "model",
        "gpt",
        "chat",
        "message",
        "the",
        "a",
        "of",
        "and",
    ];
    let mut page = Vec::with_capacity(4096);
    for p in 0..110_000u64 {
        page.clear();
        while page.len() < 4000 {
            let r = rng.next();
            writeln!(
                page,
                "{}|{}|{} {} {}|{}",
                p,
                r % 100_000,
                words[(r >> 8) as usize % 12],
                words[(r >> 16) as usize % 12],
                words[(r >> 24) as usize % 12],
                r >> 40
            )
            .unwrap();
        }
        page.resize(4096, 0);
        db.write_all(&page).unwrap();
    }
    db.flush().unwrap();
    // ~250 MB incompressible blobs (uploads, vector indexes).
    let mut buf = vec![0u8; 10 << 20];
    for i in 0..25 {
        rng.fill(&mut buf);
        std::fs::write(src.join("blobs").join(format!("blob-{i}.bin")), &buf).unwrap();
    }
    // 20k small files (~4 KiB each, half compressible).
    for d in 0..100 {
        let dir = src.join("cache").join(format!("{d:02}"));
        std::fs::create_dir_all(&dir).unwrap();
        for f in 0..200 {
            let mut small = vec![0u8; 1024 + (rng.next() % 6144) as usize];
            if f % 2 == 0 {
                rng.fill(&mut small);
            } else {
                small
                    .iter_mut()
                    .enumerate()
                    .for_each(|(i, b)| *b = b"cached text "[i % 12]);
            }
            std::fs::write(dir.join(format!("{f:03}.dat")), &small).unwrap();
        }
    }
    std::fs::write(src.join("done"), "").unwrap();
}
