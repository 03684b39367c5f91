use serde::{Deserialize, Serialize};
use serde_json::json;

use super::instances::{self as new_instance, NewInstanceInput};
use super::{referenced, DeletionJob, Ops, OpsError};
use crate::audit::{self, Actor};
use crate::domain::{ClientStatus, ClientUpdate, DisplayName, Email, Notes, PlanName, Slug};
use crate::store::{clients, instances, plans, ClientRow, Conn, InstanceRow, NewClient};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewClientInput {
    pub name: String,
    pub email: String,
    pub plan: String,
    #[serde(default)]
    pub notes: String,
    pub blueprint: Option<String>,
    pub domain: Option<String>,
    /// Env of the first instance, on top of its blueprint's.
    pub env: Option<std::collections::BTreeMap<String, String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientEdit {
    pub name: Option<String>,
    pub email: Option<String>,
    pub plan: Option<String>,
    pub notes: Option<String>,
}

/// A client with its instances, as every front end shows it.
#[derive(Debug, Clone, Serialize)]
pub struct ClientView {
    #[serde(flatten)]
    pub client: ClientRow,
    #[serde(serialize_with = "super::views::as_instance_views")]
    pub instances: Vec<InstanceRow>,
    /// Quotas this client's instances exceed right now (see `metrics::quota`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<crate::store::usage::QuotaWarning>,
}

impl ClientEdit {
    fn parse(&self) -> Result<ClientUpdate, OpsError> {
        Ok(ClientUpdate {
            name: self.name.as_deref().map(DisplayName::parse).transpose()?,
            email: self.email.as_deref().map(Email::parse).transpose()?,
            plan: self.plan.as_deref().map(PlanName::parse).transpose()?,
            notes: self.notes.as_deref().map(Notes::parse).transpose()?,
        })
    }
}

impl Ops {
    /// Creates a client and its first instance in one transaction.
    pub async fn create_client(
        &self,
        actor: &Actor,
        input: NewClientInput,
    ) -> Result<ClientView, OpsError> {
        let name = DisplayName::parse(&input.name)?;
        let email = Email::parse(&input.email)?;
        let plan_name = PlanName::parse(&input.plan)?;
        let notes = Notes::parse(&input.notes)?;
        let first = NewInstanceInput {
            name: None,
            blueprint: input.blueprint.clone(),
            domain: input.domain.clone(),
            env: input.env.clone(),
        }
        .parse(&self.blueprints, true)?;
        let (ops, actor) = (self.clone(), actor.clone());
        let view = self
            .write(move |tx| {
                let plan = plans::find(tx, plan_name.as_str())?
                    .ok_or_else(|| OpsError::Refused(format!("plan {plan_name} not found")))?;
                let slug = free_slug(tx, &ops, &name)?;
                let id = clients::insert(tx, &NewClient { slug: &slug, name: &name, email: &email, plan_id: plan.id, notes: &notes })?;
                let client = clients::get(tx, slug.as_str())?;
                let blueprint = first.blueprint.clone();
                new_instance::insert(tx, &ops.config, &ops.blueprints, &client, first)?;
                let instances = instances::list_for_client(tx, id)?;
                audit::record(
                    tx,
                    &actor,
                    "client.create",
                    slug.as_str(),
                    Some(slug.as_str()),
                    json!({ "name": client.name, "email": client.email, "plan": client.plan, "blueprint": blueprint,
                            "domains": instances.iter().flat_map(|i| i.domains.clone()).collect::<Vec<_>>() }),
                )?;
                let client = clients::get(tx, slug.as_str())?;
                Ok(ClientView { client, instances, warnings: Vec::new() })
            })
            .await?;
        self.wake();
        Ok(view)
    }

    pub async fn list_clients(&self) -> Result<Vec<ClientRow>, OpsError> {
        Ok(self.store.read(clients::list).await?)
    }

    pub async fn get_client(&self, slug: &str) -> Result<ClientView, OpsError> {
        let slug = slug.to_owned();
        Ok(self
            .store
            .read(move |conn| {
                let client = clients::get(conn, &slug)?;
                let instances = instances::list_for_client(conn, client.id)?
                    .into_iter()
                    .filter(|i| i.desired.is_live())
                    .collect();
                let warnings = crate::store::usage::warnings(conn, Some(client.id))?;
                Ok(ClientView {
                    client,
                    instances,
                    warnings,
                })
            })
            .await?)
    }

    /// Changes name, email, plan or notes. A plan change recreates the
    /// client's containers with the new limits (data kept).
    pub async fn edit_client(
        &self,
        actor: &Actor,
        slug: &str,
        edit: ClientEdit,
    ) -> Result<ClientView, OpsError> {
        let update = edit.parse()?;
        let (slug, actor) = (slug.to_owned(), actor.clone());
        self.write({
                let slug = slug.clone();
                move |tx| {
                    let plan_id = match &update.plan {
                        Some(p) => Some(
                            plans::find(tx, p.as_str())?
                                .ok_or_else(|| OpsError::Refused(format!("plan {p} not found")))?
                                .id,
                        ),
                        None => None,
                    };
                    let before = clients::get(tx, &slug)?;
                    let changed = clients::update(tx, &slug, &update, plan_id)?;
                    if !changed.is_empty() {
                        let after = clients::get(tx, &slug)?;
                        // Notes can be long and personal; record that they changed, not what they say.
                        let pick = |row: &ClientRow| json!({ "name": row.name, "email": row.email, "plan": row.plan });
                        audit::record(tx, &actor, "client.edit", &slug, Some(&slug), json!({ "changed": changed, "before": pick(&before), "after": pick(&after) }))?;
                    }
                    Ok(())
                }
            })
            .await?;
        self.wake();
        self.get_client(&slug).await
    }

    /// Suspend stops every instance and shows a "suspended" page on its
    /// domains; all data stays. Resume brings them back.
    pub async fn set_client_status(
        &self,
        actor: &Actor,
        slug: &str,
        status: ClientStatus,
    ) -> Result<ClientView, OpsError> {
        let (slug_owned, actor) = (slug.to_owned(), actor.clone());
        self.write(move |tx| {
            if clients::set_status(tx, &slug_owned, status)? {
                let action = match status {
                    ClientStatus::Active => "client.resume",
                    ClientStatus::Suspended => "client.suspend",
                };
                audit::record(
                    tx,
                    &actor,
                    action,
                    &slug_owned,
                    Some(&slug_owned),
                    json!({}),
                )?;
            }
            Ok(())
        })
        .await?;
        self.wake();
        self.get_client(slug).await
    }

    /// Deletes a client: containers, networks, routes, data and backups.
    /// `confirm` must repeat the slug. Returns the job that finishes it.
    pub async fn delete_client(
        &self,
        actor: &Actor,
        slug: &str,
        confirm: &str,
    ) -> Result<DeletionJob, OpsError> {
        let view = self.get_client(slug).await?;
        if confirm != view.client.slug {
            return Err(OpsError::Refused(format!(
                "type the slug {:?} to confirm deleting this client and all its data",
                view.client.slug
            )));
        }
        let all = referenced(
            self.store
                .read({
                    let id = view.client.id;
                    move |conn| instances::list_for_client(conn, id)
                })
                .await,
        )?;
        self.request_deletion(actor, &view.client, all, true).await
    }
}

/// The derived slug, or the first free "-N" variant. A slug whose data
/// directory still exists counts as taken, so leftovers are never adopted.
fn free_slug(conn: &Conn, ops: &Ops, name: &DisplayName) -> Result<Slug, OpsError> {
    let base = Slug::derive(name.as_str());
    let taken = |s: &Slug| -> Result<bool, OpsError> {
        Ok(clients::slug_taken(conn, s)? || ops.config.instances_dir().join(s.as_str()).exists())
    };
    if !taken(&base)? {
        return Ok(base);
    }
    for n in 2..10_000 {
        let candidate = base.with_suffix(n);
        if !taken(&candidate)? {
            return Ok(candidate);
        }
    }
    Err(OpsError::Conflict(format!("no free slug for {name}")))
}
