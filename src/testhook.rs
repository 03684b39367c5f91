//! Named pause points for crash tests. Compiled in always, inert unless
//! `BERTH_TEST_PAUSE_AT` names the step being reached.
//!
//! A kill -9 test must land between two exact steps (after a directory swap,
//! between removing a container and creating its successor); racing a timer
//! against the daemon makes such a test flaky or vacuous. With
//! `BERTH_TEST_PAUSE_AT=<step>` set, reaching [`pause_at`]`("<step>")` writes
//! the step's name to `$BERTH_TEST_PAUSE_FILE` (when set) and then waits
//! forever, so the test sees the file and kills the process right there.
//!
//! Steps: `restore-staged` (archive extracted, container stopped, nothing
//! swapped), `restore-swapped` (restored data in place, previous data beside
//! it, not yet committed), `restore-committed` (kept, previous data not yet
//! removed), `delete-data` (containers gone, data not yet removed),
//! `delete-rows` (data removed, rows not yet deleted), `recreate-removed`
//! (an outdated container removed, its successor not yet created),
//! `backup-frozen` (a `pause` backup's tenant paused, its staging copy not
//! yet brought up to date), `pool-taken` (pool networks taken for new
//! instances, not yet recorded), `pool-adopted` (recorded, no container
//! created on them yet), `llm-created` (an LLM key made at the provider,
//! its answer not yet stored), `rollout-updating` (a rollout step pinned
//! its instance's new image, its health not yet seen), `rollout-rolling-back`
//! (a failed step pinned the old image again, the backup not yet restored),
//! `recover-instance-restored` (`berth recover` put one instance's data in
//! place and has not started the next).

/// Pauses forever at `step` when the test environment asks for it.
pub async fn pause_at(step: &str) {
    if std::env::var("BERTH_TEST_PAUSE_AT").as_deref() != Ok(step) {
        return;
    }
    tracing::warn!(step, "BERTH_TEST_PAUSE_AT: paused here until killed");
    if let Ok(file) = std::env::var("BERTH_TEST_PAUSE_FILE") {
        if let Err(e) = std::fs::write(&file, step) {
            tracing::error!(file, error = %e, "cannot signal the pause");
        }
    }
    std::future::pending::<()>().await;
}
