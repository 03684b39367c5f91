//! Offsite maintenance through the one door: runs (forget, prune, check,
//! test-restore) queued as rows the offsite worker carries out, their
//! history, and `check` run at once for the CLI. Each request is audited.

use serde_json::json;

use super::backups::live_instance;
use super::{Ops, OpsError};
use crate::audit::{self, Actor};
use crate::domain::{OffsiteRunKind, ReadData};
use crate::offsite::Worker;
use crate::store::offsite_runs::{self as runs, NewRun, RunRow};

/// What a maintenance request asks for beyond its kind.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Forget only: say what would go, forget nothing.
    pub dry_run: bool,
    /// Test-restore only: this instance instead of the least recently tested.
    pub instance: Option<i64>,
    /// Check only: "all", "10%"… instead of the target's `check_read_data`.
    pub read_data: Option<String>,
}

impl Ops {
    /// Queues a run on `target`; the offsite worker starts it once restic's
    /// locks allow (no copy runs while a forget, prune or check does).
    pub async fn request_offsite_run(
        &self,
        actor: &Actor,
        target: &str,
        kind: OffsiteRunKind,
        opts: RunOptions,
    ) -> Result<RunRow, OpsError> {
        self.config
            .offsite_target(target)
            .ok_or_else(|| OpsError::NotFound(format!("no offsite target {target:?}")))?;
        if opts.dry_run && kind != OffsiteRunKind::Forget {
            return Err(OpsError::Refused(format!(
                "dry_run applies to forget only, not {kind}"
            )));
        }
        if opts.instance.is_some() && kind != OffsiteRunKind::TestRestore {
            return Err(OpsError::Refused(format!(
                "instance applies to test-restore only, not {kind}"
            )));
        }
        if let Some(r) = &opts.read_data {
            if kind != OffsiteRunKind::Check {
                return Err(OpsError::Refused(format!(
                    "read_data applies to check only, not {kind}"
                )));
            }
            ReadData::parse(r).map_err(|e| OpsError::Refused(e.to_string()))?;
        }
        let (target, actor) = (target.to_owned(), actor.clone());
        self.write(move |tx| {
            let what = match opts.instance {
                Some(id) => {
                    let inst = live_instance(tx, id)?;
                    format!("{target}: {}/{}", inst.client_slug, inst.name)
                }
                None => target.clone(),
            };
            let id = runs::enqueue_run(
                tx,
                &NewRun {
                    target: &target,
                    kind,
                    dry_run: opts.dry_run,
                    read_data: opts.read_data.as_deref(),
                    requested_by: &actor.name,
                    instance_id: opts.instance,
                },
            )?;
            audit::record(
                tx,
                &actor,
                &format!("offsite.{kind}"),
                &what,
                None,
                json!({ "target": target, "run": id, "dry_run": opts.dry_run,
                        "read_data": opts.read_data }),
            )?;
            Ok(runs::get_run(tx, id)?)
        })
        .await
    }

    /// A target's runs, newest first.
    pub async fn offsite_runs(&self, target: &str, limit: u32) -> Result<Vec<RunRow>, OpsError> {
        self.config
            .offsite_target(target)
            .ok_or_else(|| OpsError::NotFound(format!("no offsite target {target:?}")))?;
        let target = target.to_owned();
        Ok(self
            .store
            .read(move |c| runs::list_runs(c, &target, limit))
            .await?)
    }

    pub async fn offsite_run(&self, id: i64) -> Result<RunRow, OpsError> {
        Ok(self.store.read(move |c| runs::get_run(c, id)).await?)
    }

    /// Runs queued run `id` in this process (the CLI, no daemon needed)
    /// unless the daemon has it, and waits for its end.
    pub async fn run_offsite_run_here(&self, id: i64) -> Result<RunRow, OpsError> {
        let shared = self.shared();
        let worker = Worker::new(shared.store, shared.config);
        loop {
            worker.run_maintenance(id).await?;
            let row = self.offsite_run(id).await?;
            if row.status.is_finished() {
                return Ok(row);
            }
            // Waiting for a copy to end, or for the daemon running it.
            tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        }
    }

    /// `restic check` now, recorded as a check run: reading all data
    /// (`"all"`), a subset (`"10%"`) or the target's `check_read_data`
    /// (None). A damaged repository is a refusal with restic's words.
    pub async fn offsite_check(
        &self,
        target: &str,
        read_data: Option<String>,
    ) -> Result<String, OpsError> {
        let opts = RunOptions {
            read_data,
            ..RunOptions::default()
        };
        let row = self
            .request_offsite_run(&Actor::cli(), target, OffsiteRunKind::Check, opts)
            .await?;
        let row = self.run_offsite_run_here(row.id).await?;
        match row.status {
            crate::domain::BackupStatus::Ok => Ok(row.message),
            _ => Err(OpsError::Refused(format!("offsite: {}", row.message))),
        }
    }

    /// Per target for `/metrics`: when each kind of run last succeeded.
    pub async fn offsite_maintenance_gauges(
        &self,
    ) -> Result<Vec<crate::metrics::prometheus::MaintenanceGauge>, OpsError> {
        let unix = |at: &Option<String>| {
            at.as_deref().and_then(|at| {
                time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                    .ok()
                    .map(|t| t.unix_timestamp())
            })
        };
        Ok(self
            .offsite_status()
            .await?
            .into_iter()
            .map(|s| {
                let m = &s.maintenance;
                (
                    s.name,
                    [
                        unix(&m.last_forget),
                        unix(&m.last_prune),
                        unix(&m.last_check),
                        unix(&m.last_test_restore),
                    ],
                    m.failing.len() as u64,
                )
            })
            .collect())
    }
}
