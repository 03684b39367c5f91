//! Pages read while the writer is held: with one connection behind a mutex
//! every page waited for the sampler's inserts and backup bookkeeping.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use rusqlite::TransactionBehavior;

use super::web_with;

const HOLD: Duration = Duration::from_secs(5);
/// Far below HOLD, far above a page on a loaded machine.
const DEADLINE: Duration = Duration::from_secs(2);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_write_does_not_hold_up_the_pages() {
    let dir = tempfile::tempdir().unwrap();
    let w = web_with(dir.path(), Some("berth.db"), |_| {}, |o| o).await;
    let (cookie, _) = w.admin().await;
    // A committed change first, so no page is served from a read cache.
    super::seed_client(&w.ops, "Acme", "").await;

    let (held, written) = tokio::sync::oneshot::channel();
    let store = w.ops.shared().store;
    let holder = tokio::task::spawn_blocking(move || {
        store.call_blocking(|conn| {
            let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO metrics_state (key, value) VALUES ('held', 1)",
                [],
            )?;
            let _ = held.send(());
            std::thread::sleep(HOLD);
            tx.commit()?;
            Ok(())
        })
    });
    written.await.unwrap();
    let started = Instant::now();
    for path in ["/", "/clients", "/clients/acme", "/plans", "/usage"] {
        let res = tokio::time::timeout(DEADLINE, w.get(path, &cookie))
            .await
            .unwrap_or_else(|_| panic!("GET {path} waited for the writer"));
        assert_eq!(res.status, StatusCode::OK, "GET {path}: {}", res.body);
    }
    assert!(started.elapsed() < HOLD, "{:?}", started.elapsed());
    holder.await.unwrap().unwrap();
}
