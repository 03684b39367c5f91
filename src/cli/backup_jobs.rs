//! The backup commands that do the work in this process: `run`, `verify`
//! and `restore` queue their job like the API does, then carry it out here
//! (so a system cron or the systemd timer works with or without the daemon)
//! and wait for the result. A job the daemon claimed first finishes there;
//! the wait covers that too.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use super::error::Failure;
use crate::audit::Actor;
use crate::backup::Runner;
use crate::docker::Docker;
use crate::domain::{BackupStatus, Trigger};
use crate::ops::{Ops, OpsError, RestoreInput};
use crate::store::{BackupRow, RestoreRow};

/// Backs up the instances `ids` now; their finished rows.
pub async fn back_up(ops: &Ops, actor: &Actor, ids: &[i64]) -> Result<Vec<BackupRow>, Failure> {
    let runner = runner(ops).await?;
    // Without a daemon (systemd timer) nobody else finishes what a
    // killed run left behind.
    runner.sweep().await.map_err(runner_failure)?;
    ops.queue_backups(actor, ids, Trigger::Cli).await?;
    let queued = ops.pending_backups(ids).await?;
    let permits = Arc::new(tokio::sync::Semaphore::new(ops.config().backup.concurrency));
    let jobs = queued.iter().map(|id| {
        let (runner, permits, id) = (runner.clone(), permits.clone(), *id);
        async move {
            let _p = permits.acquire().await;
            runner.run_backup(id).await
        }
    });
    for r in futures_util::future::join_all(jobs).await {
        r.map_err(runner_failure)?;
    }
    let mut rows = Vec::new();
    for id in &queued {
        rows.push(
            wait(|| async {
                ops.get_backup(*id)
                    .await
                    .map(|r| r.status.is_finished().then_some(r))
            })
            .await?,
        );
    }
    Ok(rows)
}

/// Re-reads backup `id`'s archive; its row once verified or failed.
pub async fn verify(ops: &Ops, actor: &Actor, id: i64) -> Result<BackupRow, Failure> {
    ops.request_verify(actor, id).await?;
    runner(ops)
        .await?
        .run_verify(id)
        .await
        .map_err(runner_failure)?;
    wait(|| async {
        ops.get_backup(id).await.map(|r| {
            r.verify_state
                .is_some_and(BackupStatus::is_finished)
                .then_some(r)
        })
    })
    .await
}

/// Restores backup `id`; the restore's row once it is ok or failed.
pub async fn restore(
    ops: &Ops,
    actor: &Actor,
    id: i64,
    into: Option<String>,
) -> Result<RestoreRow, Failure> {
    let job = ops
        .request_restore(actor, id, RestoreInput { into })
        .await?;
    runner(ops)
        .await?
        .run_restore(job.id)
        .await
        .map_err(runner_failure)?;
    wait(|| async {
        ops.get_restore(job.id)
            .await
            .map(|r| r.status.is_finished().then_some(r))
    })
    .await
}

/// Runs already queued restore `id` (an offsite restore queues one) here
/// unless the daemon took it, and waits for its end.
pub async fn run_queued_restore(ops: &Ops, id: i64) -> Result<RestoreRow, Failure> {
    runner(ops)
        .await?
        .run_restore(id)
        .await
        .map_err(runner_failure)?;
    wait(|| async {
        ops.get_restore(id)
            .await
            .map(|r| r.status.is_finished().then_some(r))
    })
    .await
}

async fn runner(ops: &Ops) -> Result<Runner, Failure> {
    // This process runs the jobs itself (a system cron, no daemon needed):
    // a worker beside the operations, on their store.
    let shared = ops.shared();
    let docker = Docker::connect(&shared.config.docker.socket, &shared.config.docker.owner)
        .await
        .map_err(Failure::failed)?;
    Ok(Runner::new(
        shared.store,
        shared.config,
        shared.blueprints,
        docker,
        shared.wake,
    ))
}

/// The runner's errors read the way the API reports them.
fn runner_failure(e: impl Into<OpsError>) -> Failure {
    Failure::from(e.into())
}

/// Polls `f` until it yields a value.
async fn wait<T, F, Fut>(mut f: F) -> Result<T, Failure>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Option<T>, OpsError>>,
{
    loop {
        if let Some(v) = f().await? {
            return Ok(v);
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}
