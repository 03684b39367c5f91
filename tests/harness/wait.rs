use std::future::Future;
use std::time::{Duration, Instant};

const FIRST_PAUSE: Duration = Duration::from_millis(10);
const MAX_PAUSE: Duration = Duration::from_millis(200);

fn next_pause(pause: Duration) -> Duration {
    (pause * 2).min(MAX_PAUSE)
}

/// Calls `f` until it returns true; panics naming `what` when `deadline` has
/// passed. Pauses between calls grow from 10 ms to 200 ms, so a fast condition
/// is seen quickly and a slow one is not hammered. A call to `f` that blocks
/// is not interrupted: give `f` its own timeouts.
pub fn wait_until(what: &str, deadline: Duration, mut f: impl FnMut() -> bool) {
    let end = Instant::now() + deadline;
    let mut pause = FIRST_PAUSE;
    loop {
        if f() {
            return;
        }
        let now = Instant::now();
        if now >= end {
            panic!("timed out after {deadline:?} waiting for {what}");
        }
        std::thread::sleep(pause.min(end - now));
        pause = next_pause(pause);
    }
}

/// [`wait_until`] for async conditions: `f` returns a future resolving to
/// whether the condition holds. A call that hangs past the deadline counts as
/// a timeout too.
pub async fn wait_until_async<F, Fut>(what: &str, deadline: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let end = tokio::time::Instant::now() + deadline;
    let mut pause = FIRST_PAUSE;
    loop {
        if let Ok(true) = tokio::time::timeout_at(end, f()).await {
            return;
        }
        let now = tokio::time::Instant::now();
        if now >= end {
            panic!("timed out after {deadline:?} waiting for {what}");
        }
        tokio::time::sleep(pause.min(end - now)).await;
        pause = next_pause(pause);
    }
}
