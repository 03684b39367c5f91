//! Restores, backup status, per-plan policies and manifest import: the
//! rarer backup operations, each recording one audit entry.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::backups::live_instance;
use super::instances::{self as new_instance, NewInstanceInput};
use super::{Ops, OpsError};
use crate::audit::{self, Actor};
use crate::domain::{BackupStatus, DesiredState, RestoreMode};
use crate::store::backups as rows;
use crate::store::{backup_jobs, clients, instances, plans, BackupPolicy, RestoreRow};

/// Restore into the backup's own instance, or (with `into`) into a new
/// instance of the same client with that name.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RestoreInput {
    pub into: Option<String>,
}

/// An instance's backup health, for the dashboard: a schedule that silently
/// stopped shows up as `stale`.
#[derive(Debug, Clone, Serialize)]
pub struct BackupHealth {
    pub instance_id: i64,
    pub client: String,
    pub instance: String,
    pub last_ok_at: Option<String>,
    pub last_failed_at: Option<String>,
    pub stale: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    pub imported: Vec<String>,
    pub already_known: usize,
    pub problems: Vec<String>,
}

impl Ops {
    /// Queues a restore. In place needs nothing else; a clone creates the new
    /// instance now, stopped, and the restore starts it once its data is in.
    pub async fn request_restore(
        &self,
        actor: &Actor,
        backup_id: i64,
        input: RestoreInput,
    ) -> Result<RestoreRow, OpsError> {
        let clone_plan = input.into.as_ref().map(|name| NewInstanceInput {
            name: Some(name.clone()),
            blueprint: None,
            domain: None,
            env: None,
        });
        let (ops, actor) = (self.clone(), actor.clone());
        let row = self
            .write(move |tx| {
                let backup = rows::get(tx, backup_id)?;
                if backup.status != BackupStatus::Ok {
                    return Err(OpsError::Refused(format!("backup {backup_id} is {}; only finished backups can be restored", backup.status)));
                }
                let source_id = backup.instance_id.ok_or_else(|| OpsError::Refused(format!("backup {backup_id} belongs to no instance; restore it into a new one with `into`")))?;
                let source = live_instance(tx, source_id)?;
                let (target, mode) = match clone_plan {
                    None => {
                        // Two swaps of one data dir at once would interleave.
                        if let Some(running) = backup_jobs::active_restore(tx, source_id)? {
                            return Err(OpsError::Conflict(format!("{}/{} already has restore {running} in progress; wait for it to finish", source.client_slug, source.name)));
                        }
                        (source_id, RestoreMode::InPlace)
                    }
                    Some(mut input) => {
                        // The clone runs the same app with the same settings.
                        input.blueprint = Some(source.blueprint.clone());
                        input.env = Some(source.env.clone()).filter(|e| !e.is_empty());
                        let plan = input.parse(&ops.blueprints, false).map_err(|e| OpsError::Refused(e.to_string()))?;
                        let client = clients::get(tx, &source.client_slug)?;
                        let id = new_instance::insert(tx, &ops.config, &ops.blueprints, &client, plan)?;
                        // The clone's data brings the source's users: its app makes no
                        // admin account, so berth has no password to show for it.
                        crate::store::llm::forget_admin(tx, id)?;
                        instances::set_desired(tx, id, DesiredState::Stopped)?;
                        (id, RestoreMode::Clone)
                    }
                };
                let id = backup_jobs::enqueue_restore(tx, backup_id, target, mode)?;
                let target_row = instances::get(tx, target)?;
                audit::record(tx, &actor, "backup.restore", &format!("{}/{}", target_row.client_slug, target_row.name), Some(&source.client_slug),
                    json!({ "backup": backup_id, "restore": id, "mode": mode, "from": format!("{}/{}", source.client_slug, source.name) }))?;
                Ok(backup_jobs::get_restore(tx, id)?)
            })
            .await?;
        self.wake();
        Ok(row)
    }

    pub async fn get_restore(&self, id: i64) -> Result<RestoreRow, OpsError> {
        Ok(self
            .store
            .read(move |conn| backup_jobs::get_restore(conn, id))
            .await?)
    }

    pub async fn get_backup_policy(&self, plan: &str) -> Result<BackupPolicy, OpsError> {
        let plan = plan.to_owned();
        Ok(self
            .store
            .read(move |conn| backup_jobs::policy(conn, plans::get(conn, &plan)?.id))
            .await?)
    }

    pub async fn set_backup_policy(
        &self,
        actor: &Actor,
        plan: &str,
        policy: BackupPolicy,
    ) -> Result<BackupPolicy, OpsError> {
        if let Some(expr) = &policy.schedule {
            // Invalid, not Refused: the admin page shows it beside the field.
            crate::domain::schedule::parse_optional(expr)
                .map_err(|e| crate::domain::DomainError::new("schedule", e))?;
        }
        let (plan, actor) = (plan.to_owned(), actor.clone());
        self.write(move |tx| {
            let row = plans::get(tx, &plan)?;
            backup_jobs::set_policy(tx, row.id, &policy)?;
            audit::record(
                tx,
                &actor,
                "plan.backup_policy",
                &plan,
                None,
                serde_json::to_value(&policy).unwrap_or_default(),
            )?;
            Ok(policy)
        })
        .await
    }

    /// Rebuilds backup rows from the manifests beside the archives, matching
    /// instances by client slug and name (unmatched ones stay restorable as clones later).
    pub async fn import_manifests(&self, actor: &Actor) -> Result<ImportReport, OpsError> {
        let root = self.config.backup_dir();
        let (found, problems) =
            tokio::task::spawn_blocking(move || crate::backup::manifest::scan(&root))
                .await
                .map_err(|e| OpsError::Io(e.to_string()))?;
        let actor = actor.clone();
        self.write(move |tx| {
                let (mut imported, mut already_known) = (Vec::new(), 0);
                for (path, m) in &found {
                    if rows::path_known(tx, path)? {
                        already_known += 1;
                        continue;
                    }
                    let instance_id = instances::id_by_name(tx, &m.client, &m.instance);
                    rows::insert_imported(tx, instance_id, m, path)?;
                    imported.push(path.clone());
                }
                audit::record(tx, &actor, "backup.import", "manifests", None, json!({ "imported": imported.len(), "already_known": already_known, "problems": problems.len() }))?;
                Ok(ImportReport { imported, already_known, problems })
            })
            .await
    }
}
