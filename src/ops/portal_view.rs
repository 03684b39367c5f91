//! What the portal shows of a client's own things: narrow views that carry
//! no secret, no environment and no host detail (port, image, container),
//! always read within the signed-in user's client.

use serde::Serialize;

use super::{Ops, OpsError};
use crate::domain::{DesiredState, Phase};
use crate::store::{instances, PortalIdentity};

/// One instance as its client sees it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PortalInstance {
    pub id: i64,
    pub name: String,
    pub desired: DesiredState,
    pub phase: Phase,
    pub message: String,
    pub domains: Vec<String>,
    pub plan: String,
    pub cpus: f64,
    pub memory: u64,
    pub storage: Option<u64>,
}

impl Ops {
    /// The live instances of the user's own client.
    pub async fn portal_instances(
        &self,
        me: &PortalIdentity,
    ) -> Result<Vec<PortalInstance>, OpsError> {
        let client_id = me.client_id;
        let rows = self
            .store
            .read(move |conn| instances::list_for_client(conn, client_id))
            .await?;
        Ok(rows
            .into_iter()
            .filter(|i| i.desired.is_live())
            .map(|i| PortalInstance {
                id: i.id,
                name: i.name,
                desired: i.desired,
                phase: i.phase,
                message: i.message,
                domains: i.domains,
                plan: i.plan,
                cpus: i.cpus,
                memory: i.memory,
                storage: i.storage,
            })
            .collect())
    }
}
