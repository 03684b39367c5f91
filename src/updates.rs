//! Checking for updates: pull the tag each blueprint's instances run on (or
//! a tag an admin names), record what it resolves to now — image ID and
//! registry digest, or why the pull failed — and tell which instances run an
//! older image ID. A check never moves an instance: only a rollout does.
//!
//! Run by `ops::` (API, CLI, the admin page's "Check now") and by the backup
//! worker's scheduler (`[updates] check_schedule`); both end here, so the
//! stored result is the same whoever asked.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::Serialize;

use crate::blueprint::Blueprints;
use crate::config::Config;
use crate::docker::{Docker, RegistryLogin};
use crate::store::instances::{self, with_tag};
use crate::store::updates::{self as rows, CheckResult, CheckRow};
use crate::store::{InstanceRow, Store, StoreError};

/// What to check: every blueprint (or one), on the tags its instances use
/// (or one tag named for all of them).
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub blueprint: Option<String>,
    pub tag: Option<String>,
}

/// The logins of `[[registry]]`, for [`Docker::with_logins`].
pub fn registry_logins(config: &Config) -> Vec<RegistryLogin> {
    config
        .registries
        .iter()
        .filter_map(|r| {
            Some(RegistryLogin {
                host: r.host.clone(),
                username: r.username.clone(),
                password: r.password.as_ref()?.expose().to_owned(),
            })
        })
        .collect()
}

/// The (blueprint, image reference, named) triples a check pulls: the
/// blueprint's own image and each tag its live instances are pinned to, or
/// only the named tag. Blueprints berth builds itself have no registry.
pub fn targets(
    blueprints: &Blueprints,
    instances: &[InstanceRow],
    scope: &Scope,
) -> Vec<(String, String, bool)> {
    let mut out = BTreeSet::new();
    for name in blueprints.names() {
        if scope.blueprint.as_deref().is_some_and(|b| b != name) {
            continue;
        }
        let Some(bp) = blueprints.get(name).filter(|b| b.build.is_none()) else {
            continue;
        };
        if let Some(tag) = &scope.tag {
            out.insert((name.to_owned(), with_tag(&bp.image, tag), true));
            continue;
        }
        out.insert((name.to_owned(), bp.image.clone(), false));
        for i in instances
            .iter()
            .filter(|i| i.blueprint == name && i.desired.is_live())
        {
            out.insert((name.to_owned(), i.resolved_image(), false));
        }
    }
    out.into_iter().collect()
}

/// Pulls every target in `scope` (one at a time, each within
/// `docker.pull_timeout`) and records the result; returns the rows checked.
/// A failed pull is that row's error, never the whole check's.
pub async fn check(
    store: &Store,
    config: &Config,
    blueprints: &Blueprints,
    docker: &Docker,
    scope: &Scope,
) -> Result<Vec<CheckRow>, StoreError> {
    let all = store.read(instances::list_all).await?;
    let targets = targets(blueprints, &all, scope);
    for (blueprint, image, named) in &targets {
        let found = pull_and_identify(docker, image, config.docker.pull_timeout).await;
        match &found {
            Ok((id, _)) => tracing::info!(%blueprint, %image, %id, "update check"),
            // The caller reports it (the API's answer, the CLI's exit, the
            // scheduler's warning and webhook); info keeps the CLI's stderr to one line.
            Err(e) => tracing::info!(%blueprint, %image, error = %e, "update check failed"),
        }
        let (blueprint, image, named) = (blueprint.clone(), image.clone(), *named);
        store
            .call(move |c| {
                let found = match &found {
                    Ok((id, digest)) => Ok((id.as_str(), digest.as_deref())),
                    Err(e) => Err(e.as_str()),
                };
                rows::record(
                    c,
                    &CheckResult {
                        blueprint: &blueprint,
                        image: &image,
                        named,
                        found,
                    },
                )
            })
            .await?;
    }
    if scope.tag.is_none() {
        let mut used: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for (b, i, _) in &targets {
            used.entry(b.clone()).or_default().push(i.clone());
        }
        store
            .call(move |c| {
                for (b, images) in &used {
                    rows::forget_unused(c, b, images)?;
                }
                Ok(())
            })
            .await?;
    }
    let checked: BTreeSet<(String, String)> = targets.into_iter().map(|(b, i, _)| (b, i)).collect();
    let rows = store.read(rows::list).await?;
    Ok(rows
        .into_iter()
        .filter(|r| checked.contains(&(r.blueprint.clone(), r.image.clone())))
        .collect())
}

async fn pull_and_identify(
    docker: &Docker,
    image: &str,
    timeout: Duration,
) -> Result<(String, Option<String>), String> {
    match tokio::time::timeout(timeout, docker.pull(image, |_| {})).await {
        Err(_) => {
            return Err(format!(
                "pulling {image} timed out after {} s (docker.pull_timeout)",
                timeout.as_secs()
            ))
        }
        Ok(Err(e)) => return Err(e.to_string()),
        Ok(Ok(())) => {}
    }
    match docker.image_identity(image).await {
        Ok(Some(found)) => Ok((found.id, found.digest)),
        Ok(None) => Err(format!("{image} was pulled but is not on the host")),
        Err(e) => Err(e.to_string()),
    }
}

/// An instance running another image ID than a check found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Outdated {
    pub instance_id: i64,
    pub client: String,
    pub instance: String,
    /// The reference its container runs (`repo:tag`).
    pub image: String,
    pub image_id: String,
    pub available_id: String,
    pub available_digest: Option<String>,
}

/// The instances behind `check`: those of its blueprint on the same
/// reference (or, for a named tag, on any) whose image ID differs from the
/// one the tag resolves to now. An instance never observed is not judged.
pub fn outdated(check: &CheckRow, instances: &[InstanceRow]) -> Vec<Outdated> {
    let Some(available) = &check.image_id else {
        return Vec::new();
    };
    instances
        .iter()
        .filter(|i| i.blueprint == check.blueprint && i.desired.is_live())
        .filter(|i| check.named || i.resolved_image() == check.image)
        .filter_map(|i| {
            // What the instance must run (its pin) wins over what was last
            // seen running: a container mid-recreate is not "outdated".
            let running = i.pinned_image_id().or(i.image_id.as_deref())?;
            (running != available).then(|| Outdated {
                instance_id: i.id,
                client: i.client_slug.clone(),
                instance: i.name.clone(),
                image: i.resolved_image(),
                image_id: running.to_owned(),
                available_id: available.clone(),
                available_digest: check.digest.clone(),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::blueprint::Blueprint;
    use crate::reconcile::desired::tests::row;

    fn check(image: &str, named: bool, id: Option<&str>) -> CheckRow {
        CheckRow {
            blueprint: "app".into(),
            image: image.into(),
            named,
            image_id: id.map(str::to_owned),
            digest: id.map(|_| "r/app@sha256:d".to_owned()),
            error: None,
            checked_at: "t".into(),
        }
    }

    #[test]
    fn targets_are_the_blueprints_image_and_each_pin_or_only_the_named_tag() {
        let app = "image = \"r/app:1\"\ninternal_port = 80\ndata_mount = \"/d\"\n";
        let built =
            "image = \"b:1\"\nbuild = \"busybox\"\ninternal_port = 80\ndata_mount = \"/d\"\n";
        let bps = Blueprints::from_list(vec![
            Blueprint::parse("app", app).unwrap(),
            Blueprint::parse("built", built).unwrap(),
        ]);
        let mut pinned = row(1, "active", "running");
        pinned.image = "r/app:1".into();
        pinned.image_tag = Some("2".into());
        let mut gone = row(2, "active", "absent");
        gone.image_tag = Some("old".into());
        let all = [pinned, gone];
        let t = targets(&bps, &all, &Scope::default());
        assert_eq!(
            t,
            vec![
                ("app".into(), "r/app:1".into(), false),
                ("app".into(), "r/app:2".into(), false),
            ],
            "no target for a removed instance's pin or a blueprint built here"
        );
        let named = Scope {
            blueprint: Some("app".into()),
            tag: Some("3".into()),
        };
        assert_eq!(
            targets(&bps, &all, &named),
            vec![("app".into(), "r/app:3".into(), true)]
        );
    }

    #[test]
    fn an_instance_is_behind_only_its_own_references_check_unless_a_tag_was_named() {
        let mut on_v1 = row(1, "active", "running");
        on_v1.image_id = Some("sha256:v1".into());
        let mut current = row(2, "active", "running");
        current.image_id = Some("sha256:v2".into());
        let mut pinned = row(3, "active", "running");
        pinned.image_tag = Some("old".into());
        pinned.image_id = Some("sha256:v0".into());
        let unseen = row(4, "active", "running");
        let mut removed = row(5, "active", "absent");
        removed.image_id = Some("sha256:v1".into());
        let all = [on_v1, current, pinned, unseen, removed];

        let behind = outdated(&check("app:1", false, Some("sha256:v2")), &all);
        assert_eq!(behind.len(), 1, "{behind:?}");
        assert_eq!(
            (behind[0].instance_id, behind[0].image_id.as_str()),
            (1, "sha256:v1")
        );
        assert_eq!(
            behind[0].available_digest.as_deref(),
            Some("r/app@sha256:d")
        );

        let named = outdated(&check("app:9", true, Some("sha256:v9")), &all);
        let ids: Vec<i64> = named.iter().map(|o| o.instance_id).collect();
        assert_eq!(ids, vec![1, 2, 3], "every observed live instance not on v9");

        assert!(outdated(&check("app:1", false, None), &all).is_empty());
    }
}
