use std::collections::hash_map::RandomState;
use std::collections::BTreeSet;
use std::hash::BuildHasher;
use std::net::TcpListener;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;

/// Ports handed out by this process. The OS can return the same ephemeral
/// port to two `bind(0)` calls once the first socket is closed, and tests
/// running in parallel would then fight over it.
static HANDED_OUT: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A loopback TCP port that was free a moment ago and that no other caller in
/// this process has received. The socket is closed before returning, so a
/// process outside the test could still take it; that race is accepted.
pub fn free_port() -> u16 {
    for _ in 0..1000 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("bind 127.0.0.1:0")
            .port();
        if HANDED_OUT
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(port)
        {
            return port;
        }
    }
    panic!("no unused free port after 1000 attempts");
}

/// A name no other test (in this or a concurrent run) will pick: the prefix,
/// the process id, a counter and a random part. Lowercase a-z, 0-9 and single
/// '-', at most 40 characters: a valid slug, DNS label and Docker name.
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);

    let mut clean = String::new();
    for c in prefix.chars() {
        if c.is_ascii_alphanumeric() {
            clean.push(c.to_ascii_lowercase());
        } else if !clean.is_empty() && !clean.ends_with('-') {
            clean.push('-');
        }
    }
    clean.truncate(18);
    let clean = clean.trim_end_matches('-');
    let clean = if clean.is_empty() { "t" } else { clean };

    // RandomState is seeded randomly per process; hashing the counter and the
    // clock gives a short random part without a dependency.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let random = RandomState::new().hash_one((n, nanos)) % 36u64.pow(4);

    format!(
        "{clean}-{}-{n}-{:0>4}",
        base36(u64::from(std::process::id())),
        base36(random)
    )
}

fn base36(mut v: u64) -> String {
    const DIGITS: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut out = Vec::new();
    loop {
        out.push(DIGITS[(v % 36) as usize]);
        v /= 36;
        if v == 0 {
            break;
        }
    }
    out.reverse();
    String::from_utf8(out).expect("ascii")
}
