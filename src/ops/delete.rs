//! Confirmed deletion: the only path by which client data leaves the disk.
//! Here the delete is confirmed and recorded: its instances are marked
//! absent, a deletion job and its audit entry are written in one
//! transaction, and the reconciler is woken. The reconciler's deletion
//! worker (`reconcile::deletions`) finishes the job once the containers are
//! gone, so no request waits for Docker and a crash leaves a job to resume.

use serde::Serialize;
use serde_json::json;

use super::{Ops, OpsError};
use crate::audit::{self, Actor};
use crate::domain::{DeletionReport, DeletionStatus};
use crate::store::{deletions, instances, ClientRow, DeletionRow, InstanceRow, NewDeletion};

/// A deletion job as front ends show it; `report` is set once it is done.
#[derive(Debug, Clone, Serialize)]
pub struct DeletionJob {
    pub id: i64,
    pub status: DeletionStatus,
    /// The client's internal id: all an erased client is known by.
    pub client_id: i64,
    /// Its slug, or its pseudonym once erased.
    pub client: String,
    pub client_name: String,
    pub client_deleted: bool,
    pub instance_ids: Vec<i64>,
    pub requested_by: String,
    pub created_at: String,
    pub finished_at: Option<String>,
    /// Why a failed job failed; empty otherwise.
    pub error: String,
    pub report: Option<DeletionReport>,
}

impl DeletionJob {
    /// Where the API answers with this job's status.
    pub fn api_path(&self) -> String {
        format!("/api/v1/deletions/{}", self.id)
    }
}

impl From<DeletionRow> for DeletionJob {
    fn from(r: DeletionRow) -> Self {
        Self {
            id: r.id,
            status: r.status,
            client_id: r.client_id,
            client: r.client_slug,
            client_name: r.client_name,
            client_deleted: r.whole_client,
            instance_ids: r.instance_ids,
            requested_by: r.requested_by,
            created_at: r.created_at,
            finished_at: r.finished_at,
            error: r.error,
            report: r.report,
        }
    }
}

impl Ops {
    /// Records a confirmed delete of `rows` (all of the client's when
    /// `whole_client`) and returns its job. Asking again while a job for the
    /// same instances is unfinished returns that job instead of a second one.
    pub(crate) async fn request_deletion(
        &self,
        actor: &Actor,
        client: &ClientRow,
        rows: Vec<InstanceRow>,
        whole_client: bool,
    ) -> Result<DeletionJob, OpsError> {
        let (client, actor) = (client.clone(), actor.clone());
        let job = self
            .write(move |tx| {
                let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
                let covering = deletions::unfinished(tx)?.into_iter().find(|j| {
                    j.client_id == client.id
                        && (j.whole_client
                            || (!whole_client && ids.iter().all(|i| j.instance_ids.contains(i))))
                });
                if let Some(job) = covering {
                    return Ok(job);
                }
                for id in &ids {
                    instances::mark_absent(tx, *id)?;
                }
                let id = deletions::insert(
                    tx,
                    &NewDeletion {
                        client_id: client.id,
                        client_slug: &client.slug,
                        client_name: &client.name,
                        whole_client,
                        instance_ids: &ids,
                        requested_by: &actor.name,
                    },
                )?;
                let (action, names) = (
                    if whole_client {
                        "client.delete"
                    } else {
                        "instance.remove"
                    },
                    rows.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(),
                );
                audit::record(
                    tx,
                    &actor,
                    action,
                    &client.slug,
                    Some(&client.slug),
                    json!({ "deletion": id, "instances": names }),
                )?;
                Ok(deletions::get(tx, id)?)
            })
            .await?;
        self.wake();
        Ok(job.into())
    }

    /// Every deletion, newest first: the provider's record of what went.
    pub async fn list_deletions(&self) -> Result<Vec<DeletionJob>, OpsError> {
        let rows = self.store.read(deletions::list).await?;
        Ok(rows.into_iter().map(DeletionJob::from).collect())
    }

    /// A finished deletion's report; an unfinished one has none yet.
    pub async fn deletion_report(&self, id: i64) -> Result<DeletionReport, OpsError> {
        let job = self.get_deletion(id).await?;
        job.report.ok_or_else(|| {
            OpsError::Conflict(format!(
                "deletion {id} is {}: its report is written when it is done",
                job.status
            ))
        })
    }

    pub async fn get_deletion(&self, id: i64) -> Result<DeletionJob, OpsError> {
        Ok(self
            .store
            .read(move |conn| deletions::get(conn, id))
            .await?
            .into())
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;

    use crate::audit::Actor;
    use crate::blueprint::Blueprints;
    use crate::config::Config;
    use crate::domain::size::SizeInput;
    use crate::ops::{NewClientInput, NewInstanceInput, Ops, OpsError, PlanInput};
    use crate::store::Store;

    /// Operations over an in-memory store with no daemon: a delete job stays
    /// pending, as it does between the request and the reconciler's pass.
    async fn ops_with_client(dir: &std::path::Path) -> Ops {
        let config = Config {
            data_dir: dir.to_owned(),
            blueprint_dir: Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("templates")),
            ..Config::default()
        };
        let blueprints = Blueprints::load_dir(&config.blueprint_dir()).unwrap();
        let ops = Ops::new(
            Store::open_in_memory().unwrap(),
            Arc::new(config),
            Arc::new(blueprints),
            Arc::default(),
        );
        let plan = PlanInput {
            name: "p".into(),
            cpus: 0.5,
            memory: SizeInput::Text("64MiB".into()),
            memory_reservation: None,
            storage: None,
            max_instances: None,
            approval: Default::default(),
            portal_restore: false,
            blueprints: None,
            image_tag: None,
        };
        ops.create_plan(&Actor::cli(), plan).await.unwrap();
        let client = NewClientInput {
            name: "Gone".into(),
            email: "a@example.com".into(),
            plan: "p".into(),
            notes: String::new(),
            blueprint: Some("static-site".into()),
            domain: None,
            env: None,
        };
        ops.create_client(&Actor::cli(), client).await.unwrap();
        ops
    }

    #[tokio::test]
    async fn no_instance_joins_a_client_whose_delete_is_pending() {
        let dir = tempfile::tempdir().unwrap();
        let ops = ops_with_client(dir.path()).await;
        ops.delete_client(&Actor::cli(), "gone", "gone")
            .await
            .unwrap();
        let added = ops
            .add_instance(
                &Actor::cli(),
                "gone",
                NewInstanceInput {
                    name: Some("late".into()),
                    blueprint: Some("static-site".into()),
                    domain: None,
                    env: None,
                },
            )
            .await;
        match added {
            Err(OpsError::Conflict(m)) => assert!(m.contains("being deleted"), "{m}"),
            other => panic!("expected a conflict, got {other:?}"),
        }
    }
}
