//! What a rollout looks like to the API, the CLI and the admin pages.

use serde::Serialize;

use crate::domain::{RolloutKind, RolloutStatus, StepState};
use crate::store::rollouts::{RolloutRow, StepRow};

/// A rollout with its steps, for the API, the CLI and the admin pages.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RolloutView {
    pub id: i64,
    pub kind: RolloutKind,
    pub blueprint: String,
    pub tag: Option<String>,
    pub waves: String,
    pub keep_going: bool,
    pub status: RolloutStatus,
    /// Pull progress, or why it halted or failed.
    pub message: String,
    /// Who started it.
    pub actor: String,
    pub created_at: String,
    pub finished_at: Option<String>,
    /// Steps by state, for a summary line: (state, count), in step order of first appearance.
    pub counts: Vec<(StepState, usize)>,
    /// The wave running now (or next), when it is not finished.
    pub current_wave: Option<u32>,
    pub steps: Vec<RolloutStepView>,
}

/// One instance's part of a rollout.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct RolloutStepView {
    pub id: i64,
    pub instance_id: i64,
    /// "client/instance".
    pub instance: String,
    pub wave: u32,
    pub state: StepState,
    pub message: String,
    /// The image reference before and after, and their IDs.
    pub from_image: Option<String>,
    pub from_image_id: Option<String>,
    pub to_image: String,
    pub to_image_id: Option<String>,
    /// The backup taken before the update (what a rollback restores).
    pub backup_id: Option<i64>,
    /// The restore job of a rollback, when one ran.
    pub restore_id: Option<i64>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

impl RolloutView {
    pub(super) fn new(r: RolloutRow, steps: Vec<StepRow>) -> Self {
        let mut counts: Vec<(StepState, usize)> = Vec::new();
        for s in &steps {
            match counts.iter_mut().find(|(st, _)| *st == s.state) {
                Some((_, n)) => *n += 1,
                None => counts.push((s.state, 1)),
            }
        }
        let current_wave = (!r.status.is_finished())
            .then(|| steps.iter().find(|s| !s.state.is_final()).map(|s| s.wave))
            .flatten();
        Self {
            id: r.id,
            kind: r.kind,
            blueprint: r.blueprint,
            tag: r.tag,
            waves: r.waves,
            keep_going: r.keep_going,
            status: r.status,
            message: r.message,
            actor: r.actor,
            created_at: r.created_at,
            finished_at: r.finished_at,
            counts,
            current_wave,
            steps: steps.into_iter().map(RolloutStepView::from).collect(),
        }
    }
}

impl From<StepRow> for RolloutStepView {
    fn from(s: StepRow) -> Self {
        Self {
            id: s.id,
            instance_id: s.instance_id,
            instance: s.instance_label,
            wave: s.wave,
            state: s.state,
            message: s.message,
            from_image: s.from_ref,
            from_image_id: s.from_image_id,
            to_image: s.target_ref,
            to_image_id: s.to_image_id,
            backup_id: s.backup_id,
            restore_id: s.restore_id,
            started_at: s.started_at,
            finished_at: s.finished_at,
        }
    }
}
