//! Probing that two instances' networks cannot reach each other.

use std::process::Command;

/// `docker exec <from> timeout 2 wget <url>`'s exit code and stderr: 0 when
/// it got the page, 143 when `timeout` killed a wget that got no answer
/// (dropped packets). A failing exec or a refused connection exit 1, so
/// neither can pass for "unreachable".
pub fn probe(from: &str, url: &str) -> (Option<i32>, String) {
    let out = Command::new("docker")
        .args([
            "exec",
            from,
            "timeout",
            "2",
            "wget",
            "-q",
            "-O",
            "/dev/null",
            url,
        ])
        .output()
        .unwrap_or_else(|e| panic!("cannot run docker exec: {e}"));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code(), err)
}

/// Asserts that `from` (a container) gets no answer from `url` on another
/// instance's network. Debian's Docker 20.10 deletes and re-inserts the
/// FORWARD jump to its isolation chain whenever any network is created, so
/// a probe that lands in another test's network create can get through
/// once (measured: 1 of 40 probes during 30 creates); an isolation that is
/// missing gets through every time. So: three probes, at most one answer.
pub fn assert_unreachable(from: &str, url: &str, what: &str) {
    let answered: Vec<_> = (0..3)
        .map(|_| probe(from, url))
        .filter(|(code, _)| *code != Some(143))
        .collect();
    assert!(answered.len() <= 1, "{what}: {answered:?}");
}
