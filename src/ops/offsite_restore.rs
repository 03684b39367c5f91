//! Restores from offsite as the admin asks for them: in place, or as a
//! clone (a new instance of the source's client, or of any client once the
//! source instance is gone), plus what the admin pages show: an instance's
//! snapshots per target and one restore's progress through its two halves
//! (the download, then the local restore with its swap and rollback).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::backups::live_instance;
use super::instances::{self as new_instance, NewInstanceInput};
use super::{Ops, OpsError};
use crate::audit::{self, Actor};
use crate::domain::{BackupStatus, DesiredState, RestoreMode};
use crate::offsite::Snapshot;
use crate::store::offsite::{self as rows, OffsiteRestoreRow};
use crate::store::{backup_jobs, clients, instances, Conn, InstanceRow, RestoreRow};

/// `POST /api/v1/instances/{id}/offsite-restore`: in place, or with `into`
/// as a new instance of the same client with the source's app and settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OffsiteRestoreInput {
    pub target: String,
    /// Default: the instance's newest snapshot on the target.
    pub snapshot: Option<String>,
    pub into: Option<String>,
}

/// `POST /api/v1/clients/{slug}/offsite-restore`: any instance snapshot,
/// also of an instance deleted since, into a new instance of this client.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OffsiteCloneInput {
    pub target: String,
    pub snapshot: String,
    pub into: String,
    /// Default: the source instance's while it exists; required once it is gone.
    pub blueprint: Option<String>,
}

/// Where an offsite restore is, for its status page and the CLI.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OffsiteRestoreStage {
    Queued,
    Downloading,
    /// Downloaded; the local restore (swap, health check, rollback) runs.
    Restoring,
    Done,
    Failed,
}

impl OffsiteRestoreStage {
    /// The stage from the offsite row and, once queued, its local restore.
    pub fn of(row: &OffsiteRestoreRow, local: Option<&RestoreRow>) -> Self {
        match (row.status, local.map(|l| l.status)) {
            (BackupStatus::Queued, _) => Self::Queued,
            (BackupStatus::Running, _) => Self::Downloading,
            (BackupStatus::Failed, _) | (_, Some(BackupStatus::Failed)) => Self::Failed,
            (BackupStatus::Ok, Some(BackupStatus::Ok)) => Self::Done,
            (BackupStatus::Ok, _) => Self::Restoring,
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(self, Self::Done | Self::Failed)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Downloading => "downloading",
            Self::Restoring => "restoring",
            Self::Done => "done",
            Self::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct OffsiteRestoreProgress {
    #[serde(flatten)]
    pub row: OffsiteRestoreRow,
    /// "client/instance" restored into; None once that instance is deleted.
    pub into: Option<String>,
    pub stage: OffsiteRestoreStage,
    /// The failure or the outcome, in the words of whichever half said it.
    pub detail: String,
    pub local: Option<RestoreRow>,
}

/// How long the snapshots page waits for one target's list.
const LIST_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// One target's snapshots of an instance (newest first), or why they
/// could not be listed (unreachable, not initialised, wrong password).
#[derive(Debug, Clone)]
pub struct TargetSnapshots {
    pub target: String,
    pub snapshots: Result<Vec<Snapshot>, String>,
}

/// Where a queued restore puts the snapshot.
enum Destination {
    InPlace(i64),
    Clone {
        client: String,
        name: String,
        blueprint: Option<String>,
    },
}

impl Ops {
    /// Queues a restore of `instance_id` from a snapshot on `input.target`
    /// (default: its newest there): in place, or into a new instance.
    pub async fn request_offsite_restore_as(
        &self,
        actor: &Actor,
        instance_id: i64,
        input: OffsiteRestoreInput,
    ) -> Result<OffsiteRestoreRow, OpsError> {
        let snapshots = self
            .offsite_snapshots(&input.target, Some(instance_id))
            .await?;
        let target = &input.target;
        let chosen = match &input.snapshot {
            Some(want) => snapshots
                .iter()
                .find(|s| &s.id == want || &s.short_id == want)
                .ok_or_else(|| {
                    OpsError::NotFound(format!(
                        "no snapshot {want} of instance {instance_id} on target {target}"
                    ))
                })?,
            None => snapshots.last().ok_or_else(|| {
                OpsError::NotFound(format!(
                    "instance {instance_id} has no snapshot on target {target}"
                ))
            })?,
        };
        let into = match input.into {
            None => Destination::InPlace(instance_id),
            Some(name) => {
                let iid = instance_id;
                let source = self.store.read(move |c| instances::get(c, iid)).await?;
                Destination::Clone {
                    client: source.client_slug,
                    name,
                    blueprint: None,
                }
            }
        };
        self.queue_offsite_restore(actor, target, chosen, into)
            .await
    }

    /// Queues a restore of any instance snapshot on the target, also of an
    /// instance deleted since, into a new instance of client `slug`.
    pub async fn request_offsite_clone(
        &self,
        actor: &Actor,
        slug: &str,
        input: OffsiteCloneInput,
    ) -> Result<OffsiteRestoreRow, OpsError> {
        let owned = slug.to_owned();
        self.store.read(move |c| clients::get(c, &owned)).await?;
        let all = self.offsite_snapshots(&input.target, None).await?;
        let want = &input.snapshot;
        let chosen = all
            .iter()
            .find(|s| &s.id == want || &s.short_id == want)
            .ok_or_else(|| {
                OpsError::NotFound(format!("no snapshot {want} on target {}", input.target))
            })?;
        let into = Destination::Clone {
            client: slug.to_owned(),
            name: input.into.clone(),
            blueprint: input.blueprint.clone(),
        };
        self.queue_offsite_restore(actor, &input.target, chosen, into)
            .await
    }

    /// One transaction: the clone (if any), the offsite restore row, the audit entry.
    async fn queue_offsite_restore(
        &self,
        actor: &Actor,
        target: &str,
        snapshot: &Snapshot,
        into: Destination,
    ) -> Result<OffsiteRestoreRow, OpsError> {
        let source = match (snapshot.tag("client"), snapshot.tag("instance")) {
            (Some(c), Some(i)) if snapshot.content().is_some() => format!("{c}/{i}"),
            _ => {
                return Err(OpsError::Refused(format!(
                    "snapshot {} is not a copy of an instance (berth's state or foreign)",
                    snapshot.short_id
                )))
            }
        };
        let (ops, actor) = (self.clone(), actor.clone());
        let (target, snap) = (target.to_owned(), snapshot.id.clone());
        let row = self
            .write(move |tx| {
                let (iid, mode) = match into {
                    Destination::InPlace(iid) => {
                        let inst = live_instance(tx, iid)?;
                        not_busy(tx, &inst)?;
                        (iid, RestoreMode::InPlace)
                    }
                    Destination::Clone {
                        client,
                        name,
                        blueprint,
                    } => {
                        let id = insert_clone(tx, &ops, &client, &name, &source, blueprint)?;
                        (id, RestoreMode::Clone)
                    }
                };
                let inst = instances::get(tx, iid)?;
                let what = format!("{}/{}", inst.client_slug, inst.name);
                let id = rows::enqueue_restore_as(tx, &target, &snap, iid, mode, &source)?;
                audit::record(
                    tx,
                    &actor,
                    "offsite.restore",
                    &what,
                    Some(&inst.client_slug),
                    json!({ "target": target, "snapshot": snap, "offsite_restore": id,
                            "mode": mode, "from": source }),
                )?;
                Ok(rows::get_restore(tx, id)?)
            })
            .await?;
        self.wake();
        Ok(row)
    }

    /// An instance and, per configured target, its snapshots there, newest
    /// first; a target that cannot be read says why instead.
    pub async fn instance_offsite_snapshots(
        &self,
        instance_id: i64,
    ) -> Result<(InstanceRow, Vec<TargetSnapshots>), OpsError> {
        let inst = self
            .store
            .read(move |c| instances::get(c, instance_id))
            .await?;
        let mut out = Vec::new();
        for t in &self.config.offsite {
            let listed = self.offsite_snapshots(&t.name, Some(instance_id));
            // A storage box that swallows packets would hold the page for
            // restic's whole retry time; restic itself ends on its own.
            let snapshots = match tokio::time::timeout(LIST_TIMEOUT, listed).await {
                Ok(Ok(mut list)) => {
                    list.reverse();
                    Ok(list)
                }
                Ok(Err(e @ (OpsError::Refused(_) | OpsError::Io(_)))) => Err(e.to_string()),
                Ok(Err(e)) => return Err(e),
                Err(_) => Err(format!(
                    "no answer within {} s; is the target reachable?",
                    LIST_TIMEOUT.as_secs()
                )),
            };
            out.push(TargetSnapshots {
                target: t.name.clone(),
                snapshots,
            });
        }
        Ok((inst, out))
    }

    /// An offsite restore with its local restore and the stage it is at.
    pub async fn offsite_restore_progress(
        &self,
        id: i64,
    ) -> Result<OffsiteRestoreProgress, OpsError> {
        let (row, local, into) = self
            .store
            .read(move |c| {
                let row = rows::get_restore(c, id)?;
                let local = match row.restore_id {
                    Some(r) => Some(backup_jobs::get_restore(c, r)?),
                    None => None,
                };
                let into = instances::get(c, row.instance_id)
                    .ok()
                    .map(|i| format!("{}/{}", i.client_slug, i.name));
                Ok((row, local, into))
            })
            .await?;
        let stage = OffsiteRestoreStage::of(&row, local.as_ref());
        let detail = match &local {
            Some(l) if !l.message.is_empty() => l.message.clone(),
            _ => row.message.clone(),
        };
        Ok(OffsiteRestoreProgress {
            row,
            into,
            stage,
            detail,
            local,
        })
    }

    /// A target's offsite restores, newest first.
    pub async fn offsite_restores(
        &self,
        target: &str,
        limit: u32,
    ) -> Result<Vec<OffsiteRestoreRow>, OpsError> {
        if self.config.offsite_target(target).is_none() {
            return Err(OpsError::NotFound(format!("no offsite target {target:?}")));
        }
        let target = target.to_owned();
        Ok(self
            .store
            .read(move |c| rows::list_restores(c, &target, limit))
            .await?)
    }
}

/// Two swaps of one data dir at once would interleave.
fn not_busy(tx: &Conn, inst: &InstanceRow) -> Result<(), OpsError> {
    let busy = match rows::active_restore(tx, inst.id)? {
        Some(id) => Some(format!("offsite restore {id}")),
        None => backup_jobs::active_restore(tx, inst.id)?.map(|id| format!("restore {id}")),
    };
    match busy {
        Some(busy) => Err(OpsError::Conflict(format!(
            "{}/{} already has {busy} in progress; wait for it to finish",
            inst.client_slug, inst.name
        ))),
        None => Ok(()),
    }
}

/// The new instance a clone restores into, stopped until its data is in
/// (the local restore starts it). It runs the source's app with the
/// source's settings while the source exists, else the blueprint named;
/// the plan's instance cap applies.
fn insert_clone(
    tx: &Conn,
    ops: &Ops,
    client: &str,
    name: &str,
    source: &str,
    blueprint: Option<String>,
) -> Result<i64, OpsError> {
    let (src_client, src_name) = source.split_once('/').unwrap_or_default();
    let existing = instances::id_by_name(tx, src_client, src_name)
        .map(|id| instances::get(tx, id))
        .transpose()?;
    let (blueprint, env) = match (blueprint, existing) {
        (Some(b), _) => (Some(b), BTreeMap::new()),
        (None, Some(src)) => (Some(src.blueprint), src.env),
        // Guessing the app would start the data under the wrong one.
        (None, None) => {
            return Err(OpsError::Refused(format!(
            "{source} no longer exists, so its app is unknown: name the blueprint to run it with"
        )))
        }
    };
    let input = NewInstanceInput {
        name: Some(name.to_owned()),
        blueprint,
        domain: None,
        env: Some(env).filter(|e| !e.is_empty()),
    };
    let plan = input.parse(&ops.blueprints, false)?;
    let client = clients::get(tx, client)?;
    let id = new_instance::insert(tx, &ops.config, &ops.blueprints, &client, plan)?;
    // The clone's data brings the source's users: its app makes no admin
    // account, so berth has no password to show for it.
    crate::store::llm::forget_admin(tx, id)?;
    instances::set_desired(tx, id, DesiredState::Stopped)?;
    Ok(id)
}

#[cfg(test)]
#[path = "offsite_restore_tests.rs"]
mod tests;
