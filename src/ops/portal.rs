//! The client portal's operations: what a client user may see and do, and
//! nothing of any other client. Every function takes the signed-in user's
//! [`PortalIdentity`] (from their session, never a client named in a URL)
//! and looks instances up *within* its client, so another client's
//! instance answers exactly like a missing one.
//!
//! The views here carry no secrets and nothing of the host: no env values
//! (the provider's per-client keys live there), no ports, images or
//! container ids.

use serde::Serialize;

use super::instances::{act, InstanceAction};
use super::{Ops, OpsError};
use crate::audit::Actor;
use crate::domain::{DesiredState, Phase};
use crate::store::{clients, instances, plans, ClientRow, Conn, InstanceRow, PortalIdentity};

/// An instance as its client sees it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PortalInstance {
    pub id: i64,
    pub name: String,
    pub blueprint: String,
    pub desired: DesiredState,
    pub phase: Phase,
    pub message: String,
    pub domains: Vec<String>,
    pub cpus: f64,
    pub memory: u64,
    pub storage: Option<u64>,
    pub created_at: String,
    pub observed_at: Option<String>,
    /// A restart was asked for and has not happened yet.
    pub restarting: bool,
}

impl From<&InstanceRow> for PortalInstance {
    fn from(r: &InstanceRow) -> Self {
        Self {
            id: r.id,
            name: r.name.clone(),
            blueprint: r.blueprint.clone(),
            desired: r.desired,
            phase: r.phase,
            message: r.message.clone(),
            domains: r.domains.clone(),
            cpus: r.cpus,
            memory: r.memory,
            storage: r.storage,
            created_at: r.created_at.clone(),
            observed_at: r.observed_at.clone(),
            restarting: r.restart_gen > r.restart_done_gen,
        }
    }
}

/// The client's plan: the limits each instance gets and how many it may have.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PortalPlan {
    pub name: String,
    pub cpus: f64,
    pub memory: u64,
    pub storage: Option<u64>,
    pub max_instances: Option<u32>,
}

/// The portal's home: the client's plan and live instances.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PortalHome {
    pub client_name: String,
    pub plan: PortalPlan,
    pub instances: Vec<PortalInstance>,
}

/// The user's client row; a slug now naming another client (deleted and
/// made again) is the user's client gone.
pub(crate) fn scoped_client(conn: &Conn, me: &PortalIdentity) -> Result<ClientRow, OpsError> {
    match clients::get(conn, &me.client_slug) {
        Ok(c) if c.id == me.client_id => Ok(c),
        Ok(_) => Err(OpsError::NotFound(format!(
            "client {} not found",
            me.client_slug
        ))),
        Err(e) => Err(e.into()),
    }
}

/// The user's client's live instance called `name`; anything else (another
/// client's, one being removed, none) is the same "not found".
pub(crate) fn owned(conn: &Conn, me: &PortalIdentity, name: &str) -> Result<InstanceRow, OpsError> {
    instances::list_for_client(conn, me.client_id)?
        .into_iter()
        .find(|i| i.name == name && i.desired.is_live())
        .ok_or_else(|| OpsError::NotFound(format!("instance {name} not found")))
}

impl Ops {
    /// A read that speaks `OpsError` (a scope check fails as NotFound).
    pub(crate) async fn read_scoped<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Conn) -> Result<T, OpsError> + Send + 'static,
    ) -> Result<T, OpsError> {
        self.store.read(move |conn| Ok(f(conn))).await?
    }

    pub async fn portal_home(&self, me: &PortalIdentity) -> Result<PortalHome, OpsError> {
        let me = me.clone();
        self.read_scoped(move |conn| {
            let client = scoped_client(conn, &me)?;
            let plan = plans::terms(conn, &client.plan)?;
            let instances = instances::list_for_client(conn, me.client_id)?
                .iter()
                .filter(|i| i.desired.is_live())
                .map(PortalInstance::from)
                .collect();
            Ok(PortalHome {
                client_name: client.name,
                plan: PortalPlan {
                    name: plan.name,
                    cpus: plan.cpus,
                    memory: plan.memory,
                    storage: plan.storage,
                    max_instances: plan.max_instances,
                },
                instances,
            })
        })
        .await
    }

    pub async fn portal_instance(
        &self,
        me: &PortalIdentity,
        name: &str,
    ) -> Result<PortalInstance, OpsError> {
        let (me, name) = (me.clone(), name.to_owned());
        self.read_scoped(move |conn| Ok(PortalInstance::from(&owned(conn, &me, &name)?)))
            .await
    }

    /// Start, stop or restart one of the client's instances, audited as
    /// `actor` (the client user, with their address).
    pub async fn portal_action(
        &self,
        actor: &Actor,
        me: &PortalIdentity,
        name: &str,
        action: InstanceAction,
    ) -> Result<PortalInstance, OpsError> {
        let (actor, me, name) = (actor.clone(), me.clone(), name.to_owned());
        let row = self
            .write(move |tx| {
                let row = owned(tx, &me, &name)?;
                act(tx, &actor, &row, action)?;
                Ok(PortalInstance::from(&instances::get(tx, row.id)?))
            })
            .await?;
        self.wake();
        Ok(row)
    }
}
