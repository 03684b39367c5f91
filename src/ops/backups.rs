//! Backup operations: queue backups and verifications (the backup runner
//! does them), list and show them. Each records one audit entry in the
//! transaction that queues its work.

use std::path::PathBuf;

use serde_json::json;

use super::{Ops, OpsError};
use crate::audit::{self, Actor};
use crate::domain::{BackupStatus, DesiredState, Trigger};
use crate::store::backups::{self as rows, BackupRow};
use crate::store::{instances, Conn, InstanceRow};

impl Ops {
    /// Seconds since each live instance's newest good backup (None: never), for `/metrics`.
    pub async fn backup_ages(&self) -> Result<Vec<(String, String, Option<f64>)>, OpsError> {
        let rows = self.store.read(rows::newest_ok_by_name).await?;
        let now = time::OffsetDateTime::now_utc();
        let age = |at: &str| {
            time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                .ok()
                .map(|t| (now - t).as_seconds_f64().max(0.0).round())
        };
        Ok(rows
            .into_iter()
            .map(|(c, i, at)| {
                let a = at.as_deref().and_then(age);
                (c, i, a)
            })
            .collect())
    }

    /// Queues one backup; a second one while one is queued or running is a conflict.
    pub async fn request_backup(
        &self,
        actor: &Actor,
        instance_id: i64,
        trigger: Trigger,
    ) -> Result<BackupRow, OpsError> {
        let actor = actor.clone();
        self.write(move |tx| {
            let inst = live_instance(tx, instance_id)?;
            if let Some(other) = rows::active_for(tx, instance_id)? {
                return Err(OpsError::Conflict(format!(
                    "backup {other} of this instance is already queued or running"
                )));
            }
            let id = rows::enqueue(tx, instance_id, &inst.client_slug, &inst.name, trigger)?;
            let target = format!("{}/{}", inst.client_slug, inst.name);
            audit::record(
                tx,
                &actor,
                "backup.request",
                &target,
                Some(&inst.client_slug),
                json!({ "backup": id, "trigger": trigger.as_str() }),
            )?;
            Ok(rows::get(tx, id)?)
        })
        .await
    }

    /// Queues backups of many instances (schedule, `backup run --all`),
    /// skipping those with one already queued or running; returns the new ids.
    pub async fn queue_backups(
        &self,
        actor: &Actor,
        instance_ids: &[i64],
        trigger: Trigger,
    ) -> Result<Vec<i64>, OpsError> {
        let (actor, ids) = (actor.clone(), instance_ids.to_vec());
        self.write(move |tx| {
            let queued = rows::enqueue_many(tx, &ids, trigger)?;
            if !queued.is_empty() {
                audit::record(
                    tx,
                    &actor,
                    "backup.request",
                    "instances",
                    None,
                    json!({ "backups": queued, "trigger": trigger.as_str() }),
                )?;
            }
            Ok(queued)
        })
        .await
    }

    /// Queued backups of these instances (e.g. left by a CLI that died before
    /// running them), oldest first.
    pub async fn pending_backups(&self, instance_ids: &[i64]) -> Result<Vec<i64>, OpsError> {
        let ids = instance_ids.to_vec();
        let queued = self
            .store
            .read(|conn| rows::list_by_status(conn, BackupStatus::Queued))
            .await?;
        Ok(queued
            .into_iter()
            .filter(|b| b.instance_id.is_some_and(|i| ids.contains(&i)))
            .map(|b| b.id)
            .collect())
    }

    pub async fn list_backups(&self, instance_id: i64) -> Result<Vec<BackupRow>, OpsError> {
        Ok(self
            .store
            .read(move |conn| {
                instances::get(conn, instance_id)?;
                rows::list_for_instance(conn, instance_id)
            })
            .await?)
    }

    pub async fn get_backup(&self, id: i64) -> Result<BackupRow, OpsError> {
        Ok(self.store.read(move |conn| rows::get(conn, id)).await?)
    }

    /// The archive of a good backup, for download.
    pub async fn backup_file(&self, id: i64) -> Result<PathBuf, OpsError> {
        let row = self.get_backup(id).await?;
        match (row.status, row.path) {
            (BackupStatus::Ok, Some(p)) => Ok(self.config.backup_dir().join(p)),
            _ => Err(OpsError::Refused(format!(
                "backup {id} has no archive (status {})",
                row.status
            ))),
        }
    }

    pub async fn request_verify(&self, actor: &Actor, id: i64) -> Result<BackupRow, OpsError> {
        let actor = actor.clone();
        self.write(move |tx| {
            let row = rows::get(tx, id)?;
            if row.status != BackupStatus::Ok {
                return Err(OpsError::Refused(format!(
                    "backup {id} is {}; only finished backups can be verified",
                    row.status
                )));
            }
            if rows::request_verify(tx, id)? {
                let target = format!("{}/{}", row.client_slug, row.instance_name);
                audit::record(
                    tx,
                    &actor,
                    "backup.verify",
                    &target,
                    Some(&row.client_slug),
                    json!({ "backup": id }),
                )?;
            }
            Ok(rows::get(tx, id)?)
        })
        .await
    }

    /// Queues verification of every instance's newest good backup.
    pub async fn verify_newest(&self, actor: &Actor) -> Result<Vec<i64>, OpsError> {
        let actor = actor.clone();
        self.write(move |tx| {
            let queued = rows::request_verify_newest(tx)?;
            if !queued.is_empty() {
                audit::record(
                    tx,
                    &actor,
                    "backup.verify",
                    "backups",
                    None,
                    json!({ "backups": queued }),
                )?;
            }
            Ok(queued)
        })
        .await
    }
}

pub(super) fn live_instance(conn: &Conn, id: i64) -> Result<InstanceRow, OpsError> {
    let inst = instances::get(conn, id)?;
    if inst.desired == DesiredState::Absent {
        return Err(OpsError::NotFound(format!(
            "instance {id} is being removed"
        )));
    }
    Ok(inst)
}
