//! Instance requests as a client user sees them in the portal: only their
//! own client's (the client comes from their identity, never from input),
//! only an owner may ask, and a member only reads.

use serde::Serialize;

use super::requests::{RequestInput, Requester};
use super::{Ops, OpsError};
use crate::audit::Actor;
use crate::domain::{ClientRole, InstanceQuota, RequestStatus};
use crate::store::requests;
use crate::store::{clients, instances, plans, PortalIdentity, RequestRow};

/// A request without the provider's bookkeeping (who decided, client ids).
#[derive(Debug, Clone, Serialize)]
pub struct PortalRequest {
    pub id: i64,
    pub instance_name: String,
    pub blueprint: String,
    pub requested_by: String,
    pub status: RequestStatus,
    /// The provider's reason (rejected) or what went wrong (failed).
    pub why: String,
    pub created_at: String,
    pub decided_at: Option<String>,
}

impl From<RequestRow> for PortalRequest {
    fn from(r: RequestRow) -> Self {
        let why = match (r.decision, r.reason.is_empty()) {
            (_, false) => r.reason,
            (RequestStatus::Failed, true) => client_safe(r.error),
            // Failed later: the instance's own message, as the portal's instance list shows it.
            _ => r.error,
        };
        Self {
            id: r.id,
            instance_name: r.instance_name,
            blueprint: r.blueprint,
            requested_by: r.requested_by_label,
            status: r.status,
            why,
            created_at: r.created_at,
            decided_at: r.decided_at,
        }
    }
}

/// Why the instance of a request could not be created, as its client may
/// read it. The plan's limits are the client's own business; anything else
/// (a domain another client holds, the host's ports) is told to the
/// provider only, who sees the full message.
fn client_safe(error: String) -> String {
    if error.starts_with("plan ") {
        error
    } else {
        "the instance could not be created; your provider has the details".into()
    }
}

/// What the request form offers: the plan's blueprints, and whether one
/// more instance fits (the reason when it does not).
#[derive(Debug, Clone)]
pub struct RequestOptions {
    pub plan: String,
    pub blueprints: Vec<(String, String)>,
    pub max_instances: Option<u32>,
    pub instances: u32,
    pub pending: u32,
    /// Why no request can be made right now, worded for the client.
    pub refusal: Option<String>,
    /// Whether requests are granted at once (auto approval).
    pub auto: bool,
}

impl Ops {
    /// The requests of the user's own client, newest first.
    pub async fn portal_requests(
        &self,
        me: &PortalIdentity,
    ) -> Result<Vec<PortalRequest>, OpsError> {
        let client_id = me.client_id;
        let rows = self
            .store
            .read(move |conn| requests::list(conn, Some(client_id)))
            .await?;
        Ok(rows.into_iter().map(PortalRequest::from).collect())
    }

    pub async fn portal_request_options(
        &self,
        me: &PortalIdentity,
    ) -> Result<RequestOptions, OpsError> {
        let (slug, client_id) = (me.client_slug.clone(), me.client_id);
        let (plan, instances, pending) = self
            .store
            .read(move |conn| {
                let client = clients::get(conn, &slug)?;
                let plan = plans::get(conn, &client.plan)?;
                let have = instances::count_for_client(conn, client_id)?;
                let waiting = requests::count_pending(conn, client_id)?;
                Ok((plan, have, waiting))
            })
            .await?;
        let quota = InstanceQuota {
            max: plan.max_instances,
            instances,
            pending,
        };
        let blueprints: Vec<(String, String)> = self
            .blueprint_choices()
            .into_iter()
            .filter(|(name, _)| plan.allows_blueprint(name))
            .collect();
        let refusal = match quota.check(&plan.name) {
            Err(why) => Some(why),
            Ok(()) if blueprints.is_empty() => {
                Some(format!("plan {} offers no app to request", plan.name))
            }
            Ok(()) => None,
        };
        Ok(RequestOptions {
            auto: plan.approval == crate::domain::Approval::Auto,
            plan: plan.name,
            blueprints,
            max_instances: plan.max_instances,
            instances,
            pending,
            refusal,
        })
    }

    /// An owner asks for a new instance for their own client.
    pub async fn portal_request_instance(
        &self,
        actor: &Actor,
        me: &PortalIdentity,
        input: RequestInput,
    ) -> Result<PortalRequest, OpsError> {
        if me.role != ClientRole::Owner {
            return Err(OpsError::Refused(
                "only an owner of your account can request instances".into(),
            ));
        }
        let requester = Requester {
            user_id: me.user_id,
            label: if me.name.is_empty() {
                me.email.clone()
            } else {
                format!("{} <{}>", me.name, me.email)
            },
        };
        let row = self
            .request_instance(actor, &me.client_slug, requester, input)
            .await?;
        Ok(row.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_tells_the_client_only_what_is_theirs() {
        let plan = "plan p allows 2 instance(s) and client acme has 2".to_owned();
        assert_eq!(client_safe(plan.clone()), plan);
        let clash = client_safe("domain acme-web.example.com is already in use".into());
        assert!(
            !clash.contains("acme-web") && clash.contains("provider"),
            "{clash}"
        );
    }
}
