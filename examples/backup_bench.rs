//! Backup and restore throughput against the CLI pipeline on the same data.
//!
//!     cargo run --release --example backup_bench -- [DIR] [LEVEL] [SCALE]
//!
//! Builds ~800 MB (times SCALE, default 1) of mixed data in DIR (default
//! /tmp/berth-bench), kept there for the next run: a large
//! compressible SQLite-like file, random blobs and 20k small files; then
//! times berth's archive::create / extract against
//! `tar -cf - . | zstd -3 -T0` and `zstd -d | tar -x` (best of 3, warm cache).
//! The freeze of a `pause` backup as the daemon records it is
//! `cargo bench --bench freeze`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicU64;
use std::time::{Duration, Instant};

use berth::backup::archive;

#[path = "../benches/support/results.rs"]
mod results;

use results::{Row, Target};

fn main() {
    let mut args = std::env::args().skip(1);
    let root = PathBuf::from(args.next().unwrap_or_else(|| "/tmp/berth-bench".into()));
    let level: i32 = args.next().map(|l| l.parse().expect("level")).unwrap_or(3);
    let scale: f64 = args
        .next()
        .map(|s| s.parse().expect("scale"))
        .unwrap_or(1.0);
    // Each scale keeps its own data, so a quick run does not evict the full set.
    let src = if scale == 1.0 {
        root.join("src")
    } else {
        root.join(format!("src-{scale}"))
    };
    if !src.join("done").exists() {
        make_data(&src, scale);
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
                    None,
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
    let backup_ratio = t_cli.as_secs_f64() / t_ours.as_secs_f64();
    let size_ratio = stats.size as f64 / cli_size as f64;
    let restore_ratio = r_cli.as_secs_f64() / r_ours.as_secs_f64();
    println!(
        "ratios: backup throughput {backup_ratio:.2}x cli (target >= 1.0), size {size_ratio:.3}x cli (target <= 1.02), restore throughput {restore_ratio:.2}x cli (target >= 0.9)"
    );
    println!(
        "archive time for this size (a tenant paused for the whole archive is frozen this long): {:.2}s",
        t_ours.as_secs_f64()
    );
    Row::new(
        format!("backup throughput vs tar|zstd -{level} -T0, {mb:.0} MB"),
        Target::AtLeast(1.0),
        backup_ratio,
        "x",
    )
    .record();
    Row::new(
        "backup size vs tar|zstd",
        Target::AtMost(1.02),
        size_ratio,
        "x",
    )
    .record();
    Row::new(
        "restore throughput vs zstd -d|tar -x",
        Target::AtLeast(0.9),
        restore_ratio,
        "x",
    )
    .record();
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

/// `scale` shrinks every part alike (1.0 is the ~800 MB set).
fn make_data(src: &Path, scale: f64) {
    let part = |n: f64| ((n * scale) as u64).max(1);
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
    for p in 0..part(110_000.0) {
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
    for i in 0..part(25.0) {
        rng.fill(&mut buf);
        std::fs::write(src.join("blobs").join(format!("blob-{i}.bin")), &buf).unwrap();
    }
    // 20k small files (~4 KiB each, half compressible).
    for d in 0..part(100.0) {
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
