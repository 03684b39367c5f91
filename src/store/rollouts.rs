//! Rollouts and their steps: one row per instance step, so a restarted
//! berth resumes each step from the state it recorded.

use rusqlite::{params, Connection, OptionalExtension};
use serde::Serialize;

use super::rows::{all, by_id, select_row};
use super::{now, StoreError};
use crate::domain::{RolloutKind, RolloutStatus, StepState};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RolloutRow {
    pub id: i64,
    pub kind: RolloutKind,
    pub blueprint: String,
    /// The tag the instances move to; `None`: each keeps its own tag (a fresh pull of it).
    pub tag: Option<String>,
    pub waves: String,
    pub keep_going: bool,
    pub status: RolloutStatus,
    /// Pull progress, why it halted or failed.
    pub message: String,
    pub actor: String,
    pub created_at: String,
    pub finished_at: Option<String>,
}

select_row! {
    RolloutRow from "rollouts" as "rollout" {
        id, kind, blueprint, tag, waves, keep_going, status, message, actor, created_at, finished_at,
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct StepRow {
    pub id: i64,
    pub rollout_id: i64,
    pub instance_id: i64,
    /// "client/instance", kept when the instance is gone.
    pub instance_label: String,
    pub wave: u32,
    pub position: u32,
    pub state: StepState,
    pub message: String,
    /// The image reference this instance moves to.
    pub target_ref: String,
    /// The instance's own tag pin before the step (`None`: none).
    pub from_pin: Option<String>,
    pub from_ref: Option<String>,
    pub from_image_id: Option<String>,
    /// The instance's own tag pin after the step.
    pub to_pin: Option<String>,
    pub to_image_id: Option<String>,
    /// The backup taken before the update: the data a rollback restores.
    pub backup_id: Option<i64>,
    pub restore_id: Option<i64>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

select_row! {
    StepRow from "rollout_steps" as "rollout step" {
        id, rollout_id, instance_id, instance_label, wave, position, state, message, target_ref,
        from_pin, from_ref, from_image_id, to_pin, to_image_id, backup_id, restore_id,
        started_at, finished_at,
    }
}

pub struct NewRollout<'a> {
    pub kind: RolloutKind,
    pub blueprint: &'a str,
    pub tag: Option<&'a str>,
    pub waves: &'a str,
    pub keep_going: bool,
    pub status: RolloutStatus,
    pub actor: &'a str,
}

/// One step to insert: (instance id, label, wave, target reference).
pub struct NewStep {
    pub instance_id: i64,
    pub label: String,
    pub wave: u32,
    pub target_ref: String,
    pub state: StepState,
}

pub fn insert(conn: &Connection, r: &NewRollout, steps: &[NewStep]) -> Result<i64, StoreError> {
    conn.execute(
        "INSERT INTO rollouts (kind, blueprint, tag, waves, keep_going, status, actor, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![
            r.kind,
            r.blueprint,
            r.tag,
            r.waves,
            r.keep_going,
            r.status,
            r.actor,
            now()
        ],
    )?;
    let id = conn.last_insert_rowid();
    for (i, s) in steps.iter().enumerate() {
        conn.execute(
            "INSERT INTO rollout_steps (rollout_id, instance_id, instance_label, wave, position, state, target_ref)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
            params![id, s.instance_id, s.label, s.wave, i as u32, s.state, s.target_ref],
        )?;
    }
    Ok(id)
}

pub fn get(conn: &Connection, id: i64) -> Result<RolloutRow, StoreError> {
    by_id(conn, id)
}

pub fn get_step(conn: &Connection, id: i64) -> Result<StepRow, StoreError> {
    by_id(conn, id)
}

/// Newest first.
pub fn list(conn: &Connection, limit: u32) -> Result<Vec<RolloutRow>, StoreError> {
    let sql = format!(
        "{} ORDER BY id DESC LIMIT ?1",
        <RolloutRow as super::rows::SelectRow>::SELECT
    );
    all(
        conn,
        &sql,
        [limit],
        <RolloutRow as super::rows::SelectRow>::from_row,
    )
}

/// Rollouts a worker has to drive (pulling or running).
pub fn active(conn: &Connection) -> Result<Vec<RolloutRow>, StoreError> {
    let sql = format!(
        "{} WHERE status IN ('pulling', 'running') ORDER BY id",
        <RolloutRow as super::rows::SelectRow>::SELECT
    );
    all(
        conn,
        &sql,
        [],
        <RolloutRow as super::rows::SelectRow>::from_row,
    )
}

pub fn steps(conn: &Connection, rollout_id: i64) -> Result<Vec<StepRow>, StoreError> {
    let sql = format!(
        "{} WHERE rollout_id = ?1 ORDER BY wave, position",
        <StepRow as super::rows::SelectRow>::SELECT
    );
    all(
        conn,
        &sql,
        [rollout_id],
        <StepRow as super::rows::SelectRow>::from_row,
    )
}

/// The pulling or running rollout with a step for this instance that is
/// not final, if any: one rollout per instance at a time. A halted one does
/// not hold its instances (resuming it checks again).
pub fn busy_with(conn: &Connection, instance_id: i64) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT r.id FROM rollout_steps s JOIN rollouts r ON r.id = s.rollout_id
             WHERE s.instance_id = ?1 AND r.status IN ('pulling', 'running')
               AND s.state NOT IN ('succeeded', 'rolled_back', 'failed', 'skipped')
             ORDER BY r.id LIMIT 1",
            [instance_id],
            |r| r.get(0),
        )
        .optional()?)
}

/// The instance's most recent step that changed its image (succeeded, or
/// rolled back), newest first: what a manual rollback undoes.
pub fn last_change(conn: &Connection, instance_id: i64) -> Result<Option<StepRow>, StoreError> {
    let sql = format!(
        "{} WHERE instance_id = ?1 AND state IN ('succeeded', 'rolled_back') ORDER BY id DESC LIMIT 1",
        <StepRow as super::rows::SelectRow>::SELECT
    );
    Ok(all(
        conn,
        &sql,
        [instance_id],
        <StepRow as super::rows::SelectRow>::from_row,
    )?
    .into_iter()
    .next())
}

/// Backups retention must keep for this instance: the one a manual
/// rollback would restore (taken before its latest update that stands) and
/// those of steps of rollouts not finished yet.
pub fn protected_backups(conn: &Connection, instance_id: i64) -> Result<Vec<i64>, StoreError> {
    let mut out: Vec<i64> = last_change(conn, instance_id)?
        .filter(|s| s.state == StepState::Succeeded)
        .and_then(|s| s.backup_id)
        .into_iter()
        .collect();
    let mut stmt = conn.prepare_cached(
        "SELECT s.backup_id FROM rollout_steps s JOIN rollouts r ON r.id = s.rollout_id
         WHERE s.instance_id = ?1 AND s.backup_id IS NOT NULL AND r.status NOT IN ('done', 'failed', 'cancelled')",
    )?;
    for id in stmt.query_map([instance_id], |r| r.get(0))? {
        out.push(id?);
    }
    Ok(out)
}

/// Every image ID a rollout moved an instance from or to (the candidates of
/// image cleanup), and those to keep: each instance's rollback point (the
/// `from` image of its latest update that still stands) and every image of
/// a rollout not finished yet.
pub fn images_seen(conn: &Connection) -> Result<(Vec<String>, Vec<String>), StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT from_image_id FROM rollout_steps WHERE from_image_id IS NOT NULL
         UNION SELECT to_image_id FROM rollout_steps WHERE to_image_id IS NOT NULL",
    )?;
    let seen = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut stmt = conn.prepare_cached(
        "SELECT s.from_image_id FROM rollout_steps s
         WHERE s.state = 'succeeded' AND s.from_image_id IS NOT NULL AND s.id = (
             SELECT MAX(id) FROM rollout_steps t WHERE t.instance_id = s.instance_id
                 AND t.state IN ('succeeded', 'rolled_back'))
         UNION SELECT s.from_image_id FROM rollout_steps s JOIN rollouts r ON r.id = s.rollout_id
             WHERE r.status NOT IN ('done', 'failed', 'cancelled') AND s.from_image_id IS NOT NULL
         UNION SELECT s.to_image_id FROM rollout_steps s JOIN rollouts r ON r.id = s.rollout_id
             WHERE r.status NOT IN ('done', 'failed', 'cancelled') AND s.to_image_id IS NOT NULL",
    )?;
    let points = stmt
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok((seen, points))
}

pub fn set_status(
    conn: &Connection,
    id: i64,
    status: RolloutStatus,
    message: &str,
) -> Result<(), StoreError> {
    let finished = status.is_finished().then(now);
    conn.execute(
        "UPDATE rollouts SET status = ?2, message = ?3, finished_at = COALESCE(?4, finished_at) WHERE id = ?1",
        params![id, status, message, finished],
    )?;
    Ok(())
}

pub fn set_message(conn: &Connection, id: i64, message: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE rollouts SET message = ?2 WHERE id = ?1",
        params![id, message],
    )?;
    Ok(())
}

/// Moves a step to `state` with `message`; a final state stamps its end.
pub fn set_step(
    conn: &Connection,
    id: i64,
    state: StepState,
    message: &str,
) -> Result<(), StoreError> {
    let finished = state.is_final().then(now);
    conn.execute(
        "UPDATE rollout_steps SET state = ?2, message = ?3, finished_at = ?4,
             started_at = COALESCE(started_at, ?5) WHERE id = ?1",
        params![id, state, message, finished, now()],
    )?;
    Ok(())
}

/// Marks every step still pending `skipped`, with `message`; the number marked.
pub fn skip_pending(
    conn: &Connection,
    rollout_id: i64,
    message: &str,
) -> Result<usize, StoreError> {
    Ok(conn.execute(
        "UPDATE rollout_steps SET state = ?2, message = ?3, finished_at = ?4
         WHERE rollout_id = ?1 AND state = ?5",
        params![
            rollout_id,
            StepState::Skipped,
            message,
            now(),
            StepState::Pending
        ],
    )?)
}

/// What the step found before it touched the instance.
pub fn set_step_from(
    conn: &Connection,
    id: i64,
    from_pin: Option<&str>,
    from_ref: &str,
    from_image_id: Option<&str>,
    backup_id: Option<i64>,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE rollout_steps SET from_pin = ?2, from_ref = ?3, from_image_id = ?4, backup_id = ?5 WHERE id = ?1",
        params![id, from_pin, from_ref, from_image_id, backup_id],
    )?;
    Ok(())
}

pub fn set_step_to(
    conn: &Connection,
    id: i64,
    to_pin: Option<&str>,
    to_image_id: &str,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE rollout_steps SET to_pin = ?2, to_image_id = ?3 WHERE id = ?1",
        params![id, to_pin, to_image_id],
    )?;
    Ok(())
}

pub fn set_step_backup(conn: &Connection, id: i64, backup: Option<i64>) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE rollout_steps SET backup_id = ?2 WHERE id = ?1",
        params![id, backup],
    )?;
    Ok(())
}

pub fn set_step_restore(
    conn: &Connection,
    id: i64,
    restore: Option<i64>,
) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE rollout_steps SET restore_id = ?2 WHERE id = ?1",
        params![id, restore],
    )?;
    Ok(())
}
