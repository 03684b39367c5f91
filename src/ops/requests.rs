//! Clients' requests for a new instance. An owner asks for one (a name and
//! a blueprint the plan allows) within the plan's `max_instances`, counting
//! requests still waiting; the plan's `approval` says whether the instance
//! is created at once (auto) or waits for the provider to approve or
//! reject it (manual). Approving creates the instance through the same
//! insert as `add_instance`, in the same transaction as the decision.

use std::sync::Arc;

use serde::Deserialize;
use serde_json::json;

use super::instances::{insert as insert_instance, InstancePlan};
use super::{Ops, OpsError};
use crate::audit::{self, Actor};
use crate::domain::ClientStatus;
use crate::domain::{
    Approval, DomainError, InstanceName, InstanceQuota, RequestStatus, Transition,
};
use crate::store::requests::{self, Decision, NewRequest};
use crate::store::{clients, instances, plans, Conn, RequestRow, StoreError};

/// Who asks: a client user (by id, kept without a reference so the request
/// outlives them) and how to name them on the provider's pages.
#[derive(Debug, Clone)]
pub struct Requester {
    pub user_id: i64,
    pub label: String,
}

/// What an owner asks for.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestInput {
    pub name: String,
    /// Defaults to the plan's only allowed blueprint, or the installed default.
    pub blueprint: Option<String>,
}

/// Which requests a list shows; empty = all.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestFilter {
    pub status: Option<RequestStatus>,
    /// A client's slug.
    pub client: Option<String>,
}

/// The longest rejection reason kept: it is shown to the client verbatim.
const MAX_REASON: usize = 500;

impl Ops {
    /// A client user's request for a new instance. With `approval = auto`
    /// the instance is created in the same transaction (or the request is
    /// recorded as failed, with the reason, when it cannot be); otherwise it
    /// waits on the provider's dashboard.
    pub async fn request_instance(
        &self,
        actor: &Actor,
        client_slug: &str,
        requester: Requester,
        input: RequestInput,
    ) -> Result<RequestRow, OpsError> {
        let name = InstanceName::parse(input.name.trim())?;
        let (ops, slug, actor) = (self.clone(), client_slug.to_owned(), actor.clone());
        let row = self
            .write(move |tx| {
                let client = clients::get(tx, &slug)?;
                if client.status != ClientStatus::Active {
                    return Err(OpsError::Refused(format!(
                        "{} is suspended; no instance can be requested",
                        client.name
                    )));
                }
                let plan = plans::get(tx, &client.plan)?;
                let blueprint = ops.requested_blueprint(&plan, input.blueprint.as_deref())?;
                if instances::id_by_name(tx, &client.slug, name.as_str()).is_some()
                    || requests::name_pending(tx, client.id, name.as_str())?
                {
                    return Err(DomainError::new(
                        "name",
                        format!("an instance named {name} already exists or is requested"),
                    )
                    .into());
                }
                let quota = InstanceQuota {
                    max: plan.max_instances,
                    instances: instances::count_for_client(tx, client.id)?,
                    pending: requests::count_pending(tx, client.id)?,
                };
                quota.check(&plan.name).map_err(OpsError::Refused)?;
                let id = requests::insert(
                    tx,
                    &NewRequest {
                        client_id: client.id,
                        instance_name: name.as_str(),
                        blueprint: &blueprint,
                        requested_by: requester.user_id,
                        requested_by_label: &requester.label,
                    },
                )?;
                let target = format!("request/{id}");
                let details = json!({ "instance": name.as_str(), "blueprint": blueprint, "approval": plan.approval });
                audit::record(tx, &actor, "request.create", &target, Some(&slug), details)?;
                if plan.approval == Approval::Auto {
                    let auto = Actor {
                        name: format!("auto:plan:{}", plan.name),
                        ip: None,
                    };
                    ops.approve_in(tx, &auto, id)?;
                }
                Ok(requests::get(tx, id)?)
            })
            .await?;
        self.wake();
        Ok(row)
    }

    /// The provider's approval: creates the instance. When it cannot be
    /// created (the plan was lowered, the name's domain is taken, no port is
    /// free) the request becomes failed with that message, which is what
    /// the returned row says.
    pub async fn approve_request(&self, actor: &Actor, id: i64) -> Result<RequestRow, OpsError> {
        let (ops, actor) = (self.clone(), actor.clone());
        let row = self
            .write(move |tx| {
                ops.approve_in(tx, &actor, id)?;
                Ok(requests::get(tx, id)?)
            })
            .await?;
        self.wake();
        Ok(row)
    }

    /// The provider's refusal, with the reason the client will read.
    pub async fn reject_request(
        &self,
        actor: &Actor,
        id: i64,
        reason: &str,
    ) -> Result<RequestRow, OpsError> {
        let reason = reason.trim().to_owned();
        if reason.is_empty() {
            return Err(DomainError::new("reason", "say why, the client reads it").into());
        }
        if reason.chars().count() > MAX_REASON {
            return Err(
                DomainError::new("reason", format!("at most {MAX_REASON} characters")).into(),
            );
        }
        let actor = actor.clone();
        self.write(move |tx| {
            let req = requests::get(tx, id)?;
            let status = req.decision.apply(Transition::Reject).map_err(refusal)?;
            let decision = Decision {
                status,
                reason: &reason,
                error: "",
                instance_id: None,
                decided_by: &actor.name,
            };
            requests::decide(tx, id, &decision)?;
            let details = json!({ "instance": req.instance_name, "reason": reason });
            audit::record(
                tx,
                &actor,
                "request.reject",
                &format!("request/{id}"),
                Some(&req.client_slug),
                details,
            )?;
            Ok(requests::get(tx, id)?)
        })
        .await
    }

    pub async fn get_request(&self, id: i64) -> Result<RequestRow, OpsError> {
        Ok(self.store.read(move |conn| requests::get(conn, id)).await?)
    }

    /// Newest first, narrowed by the filter (status as the requester sees it).
    pub async fn list_requests(&self, filter: RequestFilter) -> Result<Vec<RequestRow>, OpsError> {
        let rows = self
            .store
            .read(move |conn| {
                let client = match &filter.client {
                    Some(slug) => Some(clients::get(conn, slug)?.id),
                    None => None,
                };
                let rows = requests::list(conn, client)?;
                Ok(rows
                    .into_iter()
                    .filter(|r| filter.status.is_none_or(|s| r.status == s))
                    .collect())
            })
            .await?;
        Ok(rows)
    }

    /// Requests waiting for the provider, oldest first. Cached until the
    /// database changes: the dashboard shows them on every load.
    pub async fn pending_requests(&self) -> Result<Arc<Vec<RequestRow>>, OpsError> {
        Ok(self
            .store
            .call_cached(&self.caches.pending_requests, requests::pending)
            .await?)
    }

    /// The blueprints a client on `plan` may ask for (name, description).
    pub async fn requestable_blueprints(
        &self,
        plan: &str,
    ) -> Result<Vec<(String, String)>, OpsError> {
        let plan = self.get_plan(plan).await?;
        Ok(self
            .blueprint_choices()
            .into_iter()
            .filter(|(name, _)| plan.allows_blueprint(name))
            .collect())
    }

    fn requested_blueprint(
        &self,
        plan: &crate::store::PlanRow,
        asked: Option<&str>,
    ) -> Result<String, OpsError> {
        let allowed: Vec<&str> = self
            .blueprints
            .names()
            .filter(|n| plan.allows_blueprint(n))
            .collect();
        let chosen = match asked.map(str::trim).filter(|b| !b.is_empty()) {
            Some(b) => b.to_owned(),
            None if allowed.len() == 1 => allowed[0].to_owned(),
            None => match self.blueprints.default_name() {
                Some(d) if plan.allows_blueprint(d) => d.to_owned(),
                _ => return Err(DomainError::new("blueprint", "choose a blueprint").into()),
            },
        };
        if !allowed.contains(&chosen.as_str()) {
            return Err(DomainError::new(
                "blueprint",
                format!(
                    "{chosen:?} is not offered on plan {} (offered: {})",
                    plan.name,
                    allowed.join(", ")
                ),
            )
            .into());
        }
        Ok(chosen)
    }

    /// Approves request `id` inside the caller's transaction. The instance
    /// insert runs under a savepoint: when it is refused its partial writes
    /// are undone and the request is recorded as failed instead.
    fn approve_in(&self, tx: &Conn, actor: &Actor, id: i64) -> Result<(), OpsError> {
        let req = requests::get(tx, id)?;
        req.decision.apply(Transition::Approve).map_err(refusal)?;
        let client = clients::get(tx, &req.client_slug)?;
        let target = format!("request/{id}");
        let slug = Some(req.client_slug.as_str());
        savepoint(tx, "SAVEPOINT approve_request")?;
        match self.create_for(tx, &client, &req) {
            Ok(instance_id) => {
                savepoint(tx, "RELEASE approve_request")?;
                let decision = Decision {
                    status: RequestStatus::Approved,
                    reason: "",
                    error: "",
                    instance_id: Some(instance_id),
                    decided_by: &actor.name,
                };
                requests::decide(tx, id, &decision)?;
                let row = instances::get(tx, instance_id)?;
                let instance = format!("{}/{}", client.slug, row.name);
                audit::record(
                    tx,
                    actor,
                    "instance.add",
                    &instance,
                    slug,
                    json!({ "blueprint": row.blueprint, "port": row.host_port, "domains": row.domains, "request": id }),
                )?;
                audit::record(
                    tx,
                    actor,
                    "request.approve",
                    &target,
                    slug,
                    json!({ "instance": instance, "instance_id": instance_id }),
                )?;
                Ok(())
            }
            Err(e) => {
                savepoint(tx, "ROLLBACK TO approve_request; RELEASE approve_request")?;
                // Only a refusal is the request's outcome; a database failure
                // aborts the whole transaction and is reported as itself.
                let message = match &e {
                    OpsError::Invalid(d) => d.to_string(),
                    OpsError::Refused(m) | OpsError::Conflict(m) | OpsError::NotFound(m) => {
                        m.clone()
                    }
                    _ => return Err(e),
                };
                let decision = Decision {
                    status: RequestStatus::Failed,
                    reason: "",
                    error: &message,
                    instance_id: None,
                    decided_by: &actor.name,
                };
                requests::decide(tx, id, &decision)?;
                audit::record(
                    tx,
                    actor,
                    "request.fail",
                    &target,
                    slug,
                    json!({ "instance": req.instance_name, "error": message }),
                )?;
                Ok(())
            }
        }
    }

    fn create_for(
        &self,
        tx: &Conn,
        client: &crate::store::ClientRow,
        req: &RequestRow,
    ) -> Result<i64, OpsError> {
        let plan = InstancePlan {
            name: InstanceName::parse(&req.instance_name)?,
            blueprint: req.blueprint.clone(),
            domain: None,
            env: Default::default(),
        };
        if self.blueprints.get(&plan.blueprint).is_none() {
            return Err(OpsError::Refused(format!(
                "blueprint {:?} is no longer installed",
                plan.blueprint
            )));
        }
        insert_instance(tx, &self.config, &self.blueprints, client, plan)
    }
}

fn savepoint(tx: &Conn, sql: &str) -> Result<(), OpsError> {
    tx.execute_batch(sql).map_err(StoreError::from)?;
    Ok(())
}

/// A decision on a request already decided: the caller is out of date.
fn refusal(e: DomainError) -> OpsError {
    OpsError::Conflict(format!("request: {}", e.problem))
}

#[cfg(test)]
#[path = "requests_tests.rs"]
pub(super) mod tests;
