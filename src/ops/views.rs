//! What front ends serialise (the JSON API, `berth ... --json`): the fields
//! a caller may see, never a secret or the store's bookkeeping of who runs
//! a job. Store rows are not `Serialize`, so a new column is not published
//! by accident.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::domain::{BackupStatus, ClientStatus, DesiredState, Phase, Trigger};
use crate::store::{BackupRow, InstanceRow};

/// An instance with its client and plan, without its secrets.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InstanceView {
    pub id: i64,
    pub client_id: i64,
    pub client_slug: String,
    pub client_name: String,
    pub client_status: ClientStatus,
    pub name: String,
    pub blueprint: String,
    /// The image its container runs: the blueprint's, with a pinned tag.
    pub image: String,
    /// The tag pinned on the instance (beats the plan's), if any.
    pub image_tag: Option<String>,
    /// The tag pinned on the plan, if any.
    pub plan_image_tag: Option<String>,
    /// The engine's ID of the image its container was created from.
    pub image_id: Option<String>,
    /// The image ID its container must run (pinned by its first container,
    /// a rollout or a rollback); `None` until one is known.
    pub desired_image_id: Option<String>,
    /// Its registry digest (`repo@sha256:…`), when known.
    pub image_digest: Option<String>,
    pub host_port: u16,
    pub desired: DesiredState,
    pub env: BTreeMap<String, String>,
    pub restart_gen: i64,
    pub restart_done_gen: i64,
    pub phase: Phase,
    pub message: String,
    pub container_id: Option<String>,
    pub observed_at: Option<String>,
    pub created_at: String,
    pub domains: Vec<String>,
    pub plan: String,
    pub cpus: f64,
    pub memory: u64,
    pub memory_reservation: Option<u64>,
    pub storage: Option<u64>,
}

impl From<InstanceRow> for InstanceView {
    fn from(r: InstanceRow) -> Self {
        let image = r.resolved_image();
        let desired_image_id = r.pinned_image_id().map(str::to_owned);
        Self {
            id: r.id,
            client_id: r.client_id,
            client_slug: r.client_slug,
            client_name: r.client_name,
            client_status: r.client_status,
            name: r.name,
            blueprint: r.blueprint,
            image,
            image_tag: r.image_tag,
            plan_image_tag: r.plan_image_tag,
            image_id: r.image_id,
            desired_image_id,
            image_digest: r.image_digest,
            host_port: r.host_port,
            desired: r.desired,
            env: r.env,
            restart_gen: r.restart_gen,
            restart_done_gen: r.restart_done_gen,
            phase: r.phase,
            message: r.message,
            container_id: r.container_id,
            observed_at: r.observed_at,
            created_at: r.created_at,
            domains: r.domains,
            plan: r.plan,
            cpus: r.cpus,
            memory: r.memory,
            memory_reservation: r.memory_reservation,
            storage: r.storage,
        }
    }
}

/// A backup job and its result, without the runner's process id.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BackupView {
    pub id: i64,
    pub instance_id: Option<i64>,
    pub client_slug: String,
    pub instance_name: String,
    pub status: BackupStatus,
    pub trigger: Trigger,
    pub path: Option<String>,
    pub consistency: String,
    pub bytes_done: u64,
    pub bytes_total: Option<u64>,
    pub source_bytes: Option<u64>,
    pub size: Option<u64>,
    pub files: Option<u64>,
    pub sha256: Option<String>,
    pub level: Option<i32>,
    pub duration_ms: Option<u64>,
    pub freeze_ms: Option<u64>,
    pub message: String,
    pub verify_state: Option<BackupStatus>,
    pub verified_at: Option<String>,
    pub verify_message: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

impl From<BackupRow> for BackupView {
    fn from(b: BackupRow) -> Self {
        Self {
            id: b.id,
            instance_id: b.instance_id,
            client_slug: b.client_slug,
            instance_name: b.instance_name,
            status: b.status,
            trigger: b.trigger,
            path: b.path,
            consistency: b.consistency,
            bytes_done: b.bytes_done,
            bytes_total: b.bytes_total,
            source_bytes: b.source_bytes,
            size: b.size,
            files: b.files,
            sha256: b.sha256,
            level: b.level,
            duration_ms: b.duration_ms,
            freeze_ms: b.freeze_ms,
            message: b.message,
            verify_state: b.verify_state,
            verified_at: b.verified_at,
            verify_message: b.verify_message,
            created_at: b.created_at,
            started_at: b.started_at,
            finished_at: b.finished_at,
        }
    }
}

/// Serialises rows as their views (for a view that keeps the rows, such as
/// [`super::ClientView`], whose pages read the rows' other fields).
pub(crate) fn as_instance_views<S: serde::Serializer>(
    rows: &[InstanceRow],
    s: S,
) -> Result<S::Ok, S::Error> {
    s.collect_seq(rows.iter().cloned().map(InstanceView::from))
}

/// Many views from many rows.
pub fn views<R, V: From<R>>(rows: Vec<R>) -> Vec<V> {
    rows.into_iter().map(V::from).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_instance_view_never_carries_secrets() {
        let row = InstanceRow {
            id: 1,
            client_id: 2,
            client_slug: "c".into(),
            client_name: "C".into(),
            client_status: ClientStatus::Active,
            name: "main".into(),
            blueprint: "static-site".into(),
            image: "img".into(),
            host_port: 8001,
            desired: DesiredState::Running,
            env: BTreeMap::from([("A".into(), "1".into())]),
            secrets: BTreeMap::from([("KEY".into(), "hunter2".into())]).into(),
            restart_gen: 0,
            restart_done_gen: 0,
            phase: Phase::Running,
            message: String::new(),
            container_id: None,
            observed_at: None,
            created_at: "now".into(),
            domains: vec!["c.example".into()],
            plan: "p".into(),
            cpus: 0.5,
            memory: 64,
            memory_reservation: None,
            storage: None,
            network: None,
            image_tag: None,
            plan_image_tag: None,
            image_id: None,
            desired_image_id: None,
            desired_image_ref: None,
            image_digest: None,
        };
        let json = serde_json::to_string(&InstanceView::from(row)).unwrap();
        assert!(!json.contains("hunter2"), "{json}");
        assert!(!json.contains("secrets"), "{json}");
        assert!(json.contains("\"env\":{\"A\":\"1\"}"), "{json}");
    }
}
