//! What the admin pages show about rollouts beside an instance: the step it
//! is in now, and the image a manual rollback would return it to. The rule
//! for "a rollback point exists" lives here once, for the button and for
//! [`Ops::rollback_instance`], so the page never offers what the door refuses.

use std::collections::HashMap;

use serde::Serialize;

use super::{Ops, OpsError};
use crate::domain::{BackupStatus, StepState};
use crate::store::rollouts::{self as rows, StepRow};
use crate::store::{backups, instances, Conn, InstanceRow, StoreError};

/// The update a manual rollback undoes, with what it returns to.
pub(super) struct RollbackPoint {
    pub step: StepRow,
    pub image_id: String,
    pub image_ref: String,
    pub backup_id: i64,
}

/// The instance's rollback point, or why it has none (a sentence that
/// follows the instance's name).
pub(super) fn rollback_point(
    conn: &Conn,
    instance_id: i64,
) -> Result<Result<RollbackPoint, String>, StoreError> {
    let Some(last) = rows::last_change(conn, instance_id)? else {
        return Ok(Err("was never updated by a rollout".into()));
    };
    if last.state == StepState::RolledBack {
        return Ok(Err(format!(
            "was rolled back already (rollout {})",
            last.rollout_id
        )));
    }
    let (Some(image_id), Some(image_ref), Some(backup_id)) = (
        last.from_image_id.clone(),
        last.from_ref.clone(),
        last.backup_id,
    ) else {
        return Ok(Err(
            "has no recorded image or backup from before its last update".into(),
        ));
    };
    let backup = backups::get(conn, backup_id)?;
    if backup.status != BackupStatus::Ok || backup.path.is_none() {
        return Ok(Err(format!(
            "lost backup {backup_id}, taken before its last update"
        )));
    }
    Ok(Ok(RollbackPoint {
        step: last,
        image_id,
        image_ref,
        backup_id,
    }))
}

/// One instance as the rollout pages see it.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct InstanceRollout {
    /// The unfinished rollout the instance is in, and its step's state.
    pub current: Option<(i64, StepState)>,
    /// The image a manual rollback returns to; `None` when there is none
    /// or the instance is in a rollout (a rollback would be refused).
    pub rollback_to: Option<String>,
}

/// A live instance a rollout of its blueprint may pick.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RolloutCandidate {
    pub id: i64,
    /// "client/instance".
    pub label: String,
    /// What it runs now ("repo:tag").
    pub image: String,
}

fn of_instance(conn: &Conn, id: i64) -> Result<InstanceRollout, StoreError> {
    if let Some(rollout) = rows::busy_with(conn, id)? {
        let state = rows::steps(conn, rollout)?
            .into_iter()
            .find(|s| s.instance_id == id)
            .map_or(StepState::Pending, |s| s.state);
        return Ok(InstanceRollout {
            current: Some((rollout, state)),
            rollback_to: None,
        });
    }
    Ok(InstanceRollout {
        current: None,
        rollback_to: rollback_point(conn, id)?.ok().map(|p| p.image_ref),
    })
}

impl Ops {
    /// For each of `ids`: its current rollout step and rollback point.
    pub async fn instance_rollouts(
        &self,
        ids: Vec<i64>,
    ) -> Result<HashMap<i64, InstanceRollout>, OpsError> {
        Ok(self
            .store
            .read(move |conn| {
                ids.into_iter()
                    .map(|id| Ok((id, of_instance(conn, id)?)))
                    .collect()
            })
            .await?)
    }

    /// The live instances of `blueprint`, for the new-rollout form.
    pub async fn rollout_candidates(
        &self,
        blueprint: &str,
    ) -> Result<Vec<RolloutCandidate>, OpsError> {
        let blueprint = blueprint.to_owned();
        Ok(self
            .store
            .read(move |conn| {
                Ok(instances::list_all(conn)?
                    .iter()
                    .filter(|i| i.desired.is_live() && i.blueprint == blueprint)
                    .map(candidate)
                    .collect())
            })
            .await?)
    }
}

fn candidate(i: &InstanceRow) -> RolloutCandidate {
    RolloutCandidate {
        id: i.id,
        label: format!("{}/{}", i.client_slug, i.name),
        image: i.resolved_image(),
    }
}
