use serde::Deserialize;
use serde_json::json;

use super::{Ops, OpsError};
use crate::audit::{self, Actor};
use crate::blueprint::Blueprints;
use crate::domain::{size::SizeInput, Approval, DomainError, Limits, PlanName, PlanSpec};
use crate::store::{plans, PlanRow};

/// A plan as typed into a form, a JSON body or the CLI; sizes as "256MiB" or bytes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanInput {
    pub name: String,
    pub cpus: f64,
    pub memory: SizeInput,
    pub memory_reservation: Option<SizeInput>,
    pub storage: Option<SizeInput>,
    pub max_instances: Option<u32>,
    /// Whether a client owner's instance request waits for the provider (default manual).
    #[serde(default)]
    pub approval: Approval,
    /// Whether client users may restore their own backups in the portal.
    #[serde(default)]
    pub portal_restore: bool,
    /// The blueprints clients may request; absent or empty = all.
    #[serde(default)]
    pub blueprints: Option<Vec<String>>,
    /// The image tag its clients' instances run; absent or "": the blueprint's.
    #[serde(default)]
    pub image_tag: Option<String>,
}

/// A partial change of a plan; absent fields keep their value.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlanEdit {
    pub name: Option<String>,
    pub cpus: Option<f64>,
    pub memory: Option<SizeInput>,
    pub memory_reservation: Option<SizeInput>,
    pub storage: Option<SizeInput>,
    pub max_instances: Option<u32>,
    pub approval: Option<Approval>,
    pub portal_restore: Option<bool>,
    /// Replaces the allow-list; an empty list allows every blueprint.
    pub blueprints: Option<Vec<String>>,
    /// Pins the image tag of its clients' instances; "" unpins.
    pub image_tag: Option<String>,
}

impl PlanInput {
    pub fn parse(&self) -> Result<PlanSpec, OpsError> {
        let limits = Limits::new(
            self.cpus,
            self.memory.parse("memory")?,
            self.memory_reservation
                .as_ref()
                .map(|m| m.parse("memory_reservation"))
                .transpose()?,
        )?;
        let storage = self
            .storage
            .as_ref()
            .map(|s| s.parse("storage"))
            .transpose()?;
        let mut spec = PlanSpec::new(
            PlanName::parse(&self.name)?,
            limits,
            storage,
            self.max_instances,
        )?;
        spec.approval = self.approval;
        spec.portal_restore = self.portal_restore;
        spec.allow_blueprints(self.blueprints.clone());
        spec.image_tag = match self.image_tag.as_deref().map(str::trim) {
            Some(tag) => crate::domain::parse_image_tag(tag)?,
            None => None,
        };
        Ok(spec)
    }
}

/// A plan may only allow blueprints that are installed: a typo would
/// otherwise leave its clients nothing to ask for.
fn known_blueprints(blueprints: &Blueprints, names: Option<&[String]>) -> Result<(), OpsError> {
    let names = names.unwrap_or_default().iter().map(|n| n.trim());
    for name in names.filter(|n| !n.is_empty()) {
        if blueprints.get(name).is_none() {
            let known: Vec<&str> = blueprints.names().collect();
            return Err(DomainError::new(
                "blueprints",
                format!(
                    "blueprint {name:?} is not installed (known: {})",
                    known.join(", ")
                ),
            )
            .into());
        }
    }
    Ok(())
}

fn apply(before: &PlanRow, edit: &PlanEdit) -> PlanInput {
    PlanInput {
        name: edit.name.clone().unwrap_or_else(|| before.name.clone()),
        cpus: edit.cpus.unwrap_or(before.cpus),
        memory: edit
            .memory
            .clone()
            .unwrap_or(SizeInput::Bytes(before.memory)),
        memory_reservation: edit
            .memory_reservation
            .clone()
            .or(before.memory_reservation.map(SizeInput::Bytes)),
        storage: edit
            .storage
            .clone()
            .or(before.storage.map(SizeInput::Bytes)),
        max_instances: edit.max_instances.or(before.max_instances),
        approval: edit.approval.unwrap_or(before.approval),
        portal_restore: edit.portal_restore.unwrap_or(before.portal_restore),
        blueprints: edit.blueprints.clone().or(before.blueprints.clone()),
        image_tag: edit.image_tag.clone().or(before.image_tag.clone()),
    }
}

impl Ops {
    pub async fn create_plan(&self, actor: &Actor, input: PlanInput) -> Result<PlanRow, OpsError> {
        let spec = input.parse()?;
        known_blueprints(&self.blueprints, spec.blueprints.as_deref())?;
        let actor = actor.clone();
        self.write(move |tx| {
            let row = plans::insert(tx, &spec)?;
            audit::record(
                tx,
                &actor,
                "plan.create",
                &row.name,
                None,
                json!({ "plan": &row }),
            )?;
            Ok(row)
        })
        .await
    }

    pub async fn list_plans(&self) -> Result<Vec<PlanRow>, OpsError> {
        Ok(self.store.read(plans::list).await?)
    }

    pub async fn get_plan(&self, name: &str) -> Result<PlanRow, OpsError> {
        let name = name.to_owned();
        Ok(self.store.read(move |conn| plans::get(conn, &name)).await?)
    }

    /// Changing limits recreates the plan's containers (new limits, same data).
    /// Lowering max_instances below current usage keeps what runs and blocks new ones.
    pub async fn edit_plan(
        &self,
        actor: &Actor,
        name: &str,
        edit: PlanEdit,
    ) -> Result<PlanRow, OpsError> {
        known_blueprints(&self.blueprints, edit.blueprints.as_deref())?;
        let (name, actor) = (name.to_owned(), actor.clone());
        let row = self
            .write(move |tx| {
                let before = plans::get(tx, &name)?;
                let spec = apply(&before, &edit)
                    .parse()
                    .map_err(|e| OpsError::Refused(e.to_string()))?;
                let after = plans::update(tx, &name, &spec)?;
                audit::record(
                    tx,
                    &actor,
                    "plan.edit",
                    &name,
                    None,
                    json!({ "before": &before, "after": &after }),
                )?;
                Ok(after)
            })
            .await?;
        self.wake();
        Ok(row)
    }

    pub async fn delete_plan(&self, actor: &Actor, name: &str) -> Result<(), OpsError> {
        let (name, actor) = (name.to_owned(), actor.clone());
        self.write(move |tx| {
            plans::delete(tx, &name)?;
            audit::record(tx, &actor, "plan.delete", &name, None, json!({}))?;
            Ok(())
        })
        .await
    }
}
