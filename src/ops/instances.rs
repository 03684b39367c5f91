use std::collections::BTreeMap;

use rand::distr::{Alphanumeric, SampleString};
use serde::Deserialize;
use serde_json::json;

use super::{referenced, Ops, OpsError};
use crate::audit::{self, Actor};
use crate::blueprint::Blueprints;
use crate::config::Config;
use crate::domain::{parse_env, ClientStatus, DesiredState, Hostname, InstanceName};
use crate::store::{clients, instances, plans, ClientRow, Conn, InstanceRow, NewInstance};

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewInstanceInput {
    /// Defaults to "main" for a client's first instance, else required.
    pub name: Option<String>,
    pub blueprint: Option<String>,
    /// Defaults to `<slug>.<base_domain>` (first instance) or `<slug>-<name>.<base_domain>`.
    pub domain: Option<String>,
    /// Set on top of the blueprint's env, e.g. a per-client API key.
    pub env: Option<BTreeMap<String, String>>,
}

/// A change to an instance; absent fields stay. Either change recreates the
/// container (data kept).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceEdit {
    /// Replaces the instance's own variables.
    pub env: Option<BTreeMap<String, String>>,
    /// Replaces the instance's domains (at least one).
    pub domains: Option<Vec<String>>,
    /// Pins the image tag (beats the plan's and the blueprint's); "" unpins.
    pub image_tag: Option<String>,
}

/// A tag pin (instance or plan); the grammar lives in `domain`.
pub(crate) fn parse_tag(tag: &str) -> Result<Option<String>, OpsError> {
    Ok(crate::domain::parse_image_tag(tag)?)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceAction {
    Start,
    Stop,
    Restart,
}

/// Checked pieces of a new instance, parsed before any transaction starts.
pub(crate) struct InstancePlan {
    pub name: InstanceName,
    pub blueprint: String,
    pub domain: Option<Hostname>,
    pub env: BTreeMap<String, String>,
}

impl NewInstanceInput {
    pub(crate) fn parse(
        &self,
        blueprints: &Blueprints,
        first: bool,
    ) -> Result<InstancePlan, OpsError> {
        let name = match (&self.name, first) {
            (Some(n), _) => InstanceName::parse(n)?,
            (None, true) => InstanceName::parse("main")?,
            (None, false) => return Err(OpsError::Refused("instance name is required".into())),
        };
        let blueprint = match &self.blueprint {
            Some(b) => b.clone(),
            None => blueprints
                .default_name()
                .ok_or_else(|| OpsError::Refused("no blueprints are installed".into()))?
                .to_owned(),
        };
        if blueprints.get(&blueprint).is_none() {
            let known: Vec<&str> = blueprints.names().collect();
            return Err(OpsError::Refused(format!(
                "blueprint {blueprint:?} not found (known: {})",
                known.join(", ")
            )));
        }
        let domain = self
            .domain
            .as_deref()
            .filter(|d| !d.trim().is_empty())
            .map(Hostname::parse)
            .transpose()?;
        let env = parse_env(&self.env.clone().unwrap_or_default())?;
        Ok(InstancePlan {
            name,
            blueprint,
            domain,
            env,
        })
    }
}

/// A tenant domain matched by a `[[caddy.routes]]` host would take (or be
/// hidden behind) the provider's own route, such as the admin UI's.
pub(crate) fn not_reserved(config: &Config, domains: &[Hostname]) -> Result<(), OpsError> {
    for d in domains {
        if let Some(r) = config.caddy.routes.iter().find(|r| d.matched_by(&r.host)) {
            return Err(OpsError::Refused(format!(
                "domain {d} is reserved for berth's own route {} ([[caddy.routes]] in the config)",
                r.host
            )));
        }
    }
    Ok(())
}

/// Inserts an instance inside the caller's transaction: checks the plan's
/// instance cap, picks the lowest free port, generates its secrets once.
pub(crate) fn insert(
    conn: &Conn,
    config: &Config,
    blueprints: &Blueprints,
    client: &ClientRow,
    plan: InstancePlan,
) -> Result<i64, OpsError> {
    // The delete job would cascade this row away with the client and leave
    // its data directory behind.
    if crate::store::deletions::unfinished(conn)?
        .iter()
        .any(|job| job.client_id == client.id && job.whole_client)
    {
        return Err(OpsError::Conflict(format!(
            "client {} is being deleted; no instance can be added",
            client.slug
        )));
    }
    let limits = plans::get(conn, &client.plan)?;
    let count = instances::count_for_client(conn, client.id)?;
    if let Some(max) = limits.max_instances {
        if count >= max {
            return Err(OpsError::Refused(format!(
                "plan {} allows {max} instance(s) and client {} has {count}",
                limits.name, client.slug
            )));
        }
    }
    let bp = blueprints.get(&plan.blueprint).expect("checked in parse");
    let domain = match plan.domain {
        Some(d) => d,
        None => {
            let label = if plan.name.as_str() == "main" {
                client.slug.clone()
            } else {
                format!("{}-{}", client.slug, plan.name)
            };
            Hostname::parse(&format!("{label}.{}", config.base_domain))
                .map_err(|e| OpsError::Refused(e.to_string()))?
        }
    };
    not_reserved(config, std::slice::from_ref(&domain))?;
    let secrets: BTreeMap<String, String> = bp
        .secrets
        .iter()
        .map(|(k, len)| {
            (
                k.clone(),
                Alphanumeric.sample_string(&mut rand::rng(), (*len).clamp(16, 256)),
            )
        })
        .collect();
    // Skip ports something else on the host already listens on: the
    // container could not publish there.
    let bind = config.bind_address;
    let port = instances::free_port(conn, config.port_range, |p| {
        std::net::TcpListener::bind((bind, p)).is_ok()
    })?;
    let new = NewInstance {
        client_id: client.id,
        name: &plan.name,
        blueprint: &plan.blueprint,
        image: &bp.image,
        env: &plan.env,
        secrets: &secrets,
        domains: std::slice::from_ref(&domain),
    };
    let id = instances::insert(conn, &new, port)?;
    super::handover::plan_admin(conn, config, bp, id, &client.email, &client.name)?;
    Ok(id)
}

impl Ops {
    pub async fn add_instance(
        &self,
        actor: &Actor,
        slug: &str,
        input: NewInstanceInput,
    ) -> Result<InstanceRow, OpsError> {
        let plan = input.parse(&self.blueprints, false)?;
        let (ops, slug, actor) = (self.clone(), slug.to_owned(), actor.clone());
        let row = self
            .write(move |tx| {
                let client = clients::get(tx, &slug)?;
                let id = insert(tx, &ops.config, &ops.blueprints, &client, plan)?;
                let row = instances::get(tx, id)?;
                audit::record(tx, &actor, "instance.add", &format!("{slug}/{}", row.name), Some(&slug), json!({ "blueprint": row.blueprint, "port": row.host_port, "domains": row.domains }))?;
                Ok(row)
            })
            .await?;
        self.wake();
        Ok(row)
    }

    /// Changes an instance's env or domains; audit records variable names, never values.
    pub async fn edit_instance(
        &self,
        actor: &Actor,
        id: i64,
        edit: InstanceEdit,
    ) -> Result<InstanceRow, OpsError> {
        let env = edit.env.as_ref().map(parse_env).transpose()?;
        let tag = edit.image_tag.as_deref().map(parse_tag).transpose()?;
        let domains = match &edit.domains {
            Some(list) if list.is_empty() => {
                return Err(OpsError::Refused(
                    "an instance needs at least one domain".into(),
                ))
            }
            Some(list) => {
                let list = list
                    .iter()
                    .map(|d| Hostname::parse(d))
                    .collect::<Result<Vec<_>, _>>()?;
                not_reserved(&self.config, &list)?;
                Some(list)
            }
            None => None,
        };
        let actor = actor.clone();
        let row = self
            .write(move |tx| {
                let before = instances::get(tx, id)?;
                if before.desired == DesiredState::Absent {
                    return Err(OpsError::NotFound(format!(
                        "instance {id} is being removed"
                    )));
                }
                let mut changed = serde_json::Map::new();
                if let Some(env) = &env {
                    instances::set_env(tx, id, env)?;
                    changed.insert("env_keys".into(), json!(env.keys().collect::<Vec<_>>()));
                }
                if let Some(tag) = &tag {
                    if let Some(rollout) = crate::store::rollouts::busy_with(tx, id)? {
                        return Err(OpsError::Conflict(format!(
                            "rollout {rollout} is updating this instance; halt it or wait before pinning a tag"
                        )));
                    }
                    instances::set_image_tag(tx, id, tag.as_deref())?;
                    changed.insert(
                        "image_tag".into(),
                        json!({ "before": before.image_tag, "after": tag }),
                    );
                }
                if let Some(domains) = &domains {
                    instances::set_domains(tx, id, domains)?;
                    changed.insert(
                        "domains".into(),
                        json!({ "before": before.domains, "after": domains }),
                    );
                }
                let target = format!("{}/{}", before.client_slug, before.name);
                audit::record(
                    tx,
                    &actor,
                    "instance.edit",
                    &target,
                    Some(&before.client_slug),
                    serde_json::Value::Object(changed),
                )?;
                Ok(instances::get(tx, id)?)
            })
            .await?;
        self.wake();
        Ok(row)
    }

    pub async fn get_instance(&self, id: i64) -> Result<InstanceRow, OpsError> {
        Ok(self
            .store
            .read(move |conn| instances::get(conn, id))
            .await?)
    }

    pub async fn list_instances(&self, slug: Option<&str>) -> Result<Vec<InstanceRow>, OpsError> {
        let slug = slug.map(str::to_owned);
        Ok(self
            .store
            .read(move |conn| match slug {
                Some(s) => instances::list_for_client(conn, clients::get(conn, &s)?.id),
                None => instances::list_all(conn),
            })
            .await?
            .into_iter()
            .filter(|i| i.desired.is_live())
            .collect())
    }

    /// Start, stop or restart: changes desired state only; the reconciler acts.
    pub async fn instance_action(
        &self,
        actor: &Actor,
        id: i64,
        action: InstanceAction,
    ) -> Result<InstanceRow, OpsError> {
        let actor = actor.clone();
        let row = self
            .write(move |tx| {
                let row = instances::get(tx, id)?;
                act(tx, &actor, &row, action)?;
                Ok(instances::get(tx, id)?)
            })
            .await?;
        self.wake();
        Ok(row)
    }

    /// Removes one instance with its container, network, route and data.
    /// `confirm` must repeat "<slug>/<instance>". Returns the job that finishes it.
    pub async fn remove_instance(
        &self,
        actor: &Actor,
        id: i64,
        confirm: &str,
    ) -> Result<super::DeletionJob, OpsError> {
        let row = self.get_instance(id).await?;
        let expected = format!("{}/{}", row.client_slug, row.name);
        if confirm != expected {
            return Err(OpsError::Refused(format!(
                "type {expected:?} to confirm removing this instance and its data"
            )));
        }
        let client = referenced(
            self.store
                .read({
                    let slug = row.client_slug.clone();
                    move |conn| clients::get(conn, &slug)
                })
                .await,
        )?;
        self.request_deletion(actor, &client, vec![row], false)
            .await
    }
}

/// Start, stop or restart `row` inside the caller's transaction, with its
/// audit entry: the admin's and the portal's actions are this one change.
pub(crate) fn act(
    tx: &Conn,
    actor: &Actor,
    row: &InstanceRow,
    action: InstanceAction,
) -> Result<(), OpsError> {
    let id = row.id;
    if row.desired == DesiredState::Absent {
        return Err(OpsError::NotFound(format!(
            "instance {id} is being removed"
        )));
    }
    if row.client_status == ClientStatus::Suspended && action != InstanceAction::Stop {
        return Err(OpsError::Refused(format!(
            "client {} is suspended; resume it first",
            row.client_slug
        )));
    }
    let name = match action {
        InstanceAction::Start => {
            instances::set_desired(tx, id, DesiredState::Running)?;
            "instance.start"
        }
        InstanceAction::Stop => {
            instances::set_desired(tx, id, DesiredState::Stopped)?;
            "instance.stop"
        }
        InstanceAction::Restart => {
            instances::set_desired(tx, id, DesiredState::Running)?;
            instances::request_restart(tx, id)?;
            "instance.restart"
        }
    };
    audit::record(
        tx,
        actor,
        name,
        &format!("{}/{}", row.client_slug, row.name),
        Some(&row.client_slug),
        json!({}),
    )?;
    Ok(())
}
