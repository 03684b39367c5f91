//! The update check as an operation: validate what to check, run it
//! ([`crate::updates::check`]: pulls through the daemon's Docker connection,
//! or the CLI's own), audit it, and report per checked image which
//! instances are behind. Reading the last report pulls nothing.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{Ops, OpsError};
use crate::audit::{self, Actor};
use crate::domain::{parse_image_tag, DomainError};
use crate::store::instances;
use crate::store::updates::{self as rows, CheckRow};
use crate::updates::{outdated, Outdated, Scope};

/// `POST /api/v1/updates/check`, `berth update check`, the admin page's button.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckInput {
    /// One blueprint; absent or empty: every blueprint berth does not build itself.
    pub blueprint: Option<String>,
    /// Check this tag instead of the ones the instances run on.
    pub tag: Option<String>,
}

/// The last check of one image reference and the instances behind it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CheckView {
    pub blueprint: String,
    pub image: String,
    /// A tag named for a check, not one an instance runs on: every instance
    /// of the blueprint not on its image ID is listed.
    pub named: bool,
    pub image_id: Option<String>,
    pub digest: Option<String>,
    pub error: Option<String>,
    pub checked_at: String,
    pub outdated: Vec<Outdated>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct UpdateReport {
    pub checks: Vec<CheckView>,
}

impl UpdateReport {
    /// Image references whose last check failed.
    pub fn failures(&self) -> impl Iterator<Item = &CheckView> {
        self.checks.iter().filter(|c| c.error.is_some())
    }
}

/// A blueprint as the updates page lists it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BlueprintImage {
    pub name: String,
    pub image: String,
    /// Built by berth from the host (no registry, nothing to check).
    pub built_here: bool,
}

impl CheckInput {
    fn parse(&self, ops: &Ops) -> Result<Scope, OpsError> {
        let blueprint = self
            .blueprint
            .as_deref()
            .map(str::trim)
            .filter(|b| !b.is_empty());
        if let Some(name) = blueprint {
            let bp = ops.blueprints.get(name).ok_or_else(|| {
                let known: Vec<&str> = ops.blueprints.names().collect();
                DomainError::new(
                    "blueprint",
                    format!("{name:?} is not installed (known: {})", known.join(", ")),
                )
            })?;
            if bp.build.is_some() {
                return Err(DomainError::new(
                    "blueprint",
                    format!("{name} is built by berth itself: there is no registry to check"),
                )
                .into());
            }
        }
        let tag = match self.tag.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(t) => parse_image_tag(t)?,
        };
        Ok(Scope {
            blueprint: blueprint.map(str::to_owned),
            tag,
        })
    }
}

impl Ops {
    /// Pulls and records (see [`crate::updates::check`]); the report covers
    /// what this check looked at. A registry that fails is that row's
    /// error, not the operation's.
    pub async fn check_updates(
        &self,
        actor: &Actor,
        input: CheckInput,
    ) -> Result<UpdateReport, OpsError> {
        let scope = input.parse(self)?;
        let docker = self.docker_or_connect().await?;
        let checked =
            crate::updates::check(&self.store, &self.config, &self.blueprints, &docker, &scope)
                .await?;
        let report = self.report(checked).await?;
        let (actor, summary) = (actor.clone(), audit_summary(&scope, &report));
        self.write(move |tx| {
            audit::record(tx, &actor, "updates.check", "updates", None, summary)?;
            Ok(())
        })
        .await?;
        Ok(report)
    }

    /// The last check of every image reference, without pulling.
    pub async fn update_report(&self) -> Result<UpdateReport, OpsError> {
        let checks = self.store.read(rows::list).await?;
        self.report(checks).await
    }

    /// Every installed blueprint's image, for the updates page.
    pub fn blueprint_images(&self) -> Vec<BlueprintImage> {
        self.blueprints
            .names()
            .filter_map(|n| self.blueprints.get(n))
            .map(|b| BlueprintImage {
                name: b.name.clone(),
                image: b.image.clone(),
                built_here: b.build.is_some(),
            })
            .collect()
    }

    async fn report(&self, checks: Vec<CheckRow>) -> Result<UpdateReport, OpsError> {
        let all = self.store.read(instances::list_all).await?;
        let checks = checks
            .into_iter()
            .map(|c| CheckView {
                outdated: outdated(&c, &all),
                blueprint: c.blueprint,
                image: c.image,
                named: c.named,
                image_id: c.image_id,
                digest: c.digest,
                error: c.error,
                checked_at: c.checked_at,
            })
            .collect();
        Ok(UpdateReport { checks })
    }
}

fn audit_summary(scope: &Scope, report: &UpdateReport) -> serde_json::Value {
    json!({
        "blueprint": scope.blueprint,
        "tag": scope.tag,
        "images": report.checks.iter().map(|c| &c.image).collect::<Vec<_>>(),
        "outdated": report.checks.iter().map(|c| c.outdated.len()).sum::<usize>(),
        "errors": report.failures().map(|c| json!({ "image": c.image, "error": c.error })).collect::<Vec<_>>(),
    })
}
