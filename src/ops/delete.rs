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

    pub async fn get_deletion(&self, id: i64) -> Result<DeletionJob, OpsError> {
        Ok(self
            .store
            .call(move |conn| deletions::get(conn, id))
            .await?
            .into())
    }
}
