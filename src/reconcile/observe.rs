//! What each instance's phase is, from what Docker reports after a pass.

use std::collections::HashMap;

use crate::docker::{ContainerState, Health, ObservedContainer};
use crate::domain::{DesiredState, Phase};
use crate::store::llm::KeySeen;
use crate::store::{Adopt, Observation};

use super::plan::DesiredInstance;

/// Per-instance notes from the pass that the container list cannot show.
#[derive(Debug, Default)]
pub struct PassNotes {
    pub errors: HashMap<i64, String>,
    pub pulling: HashMap<i64, String>,
}

pub fn observe(
    desired: &[DesiredInstance],
    invalid: &[(i64, String)],
    waiting: &[(i64, String)],
    containers: &[ObservedContainer],
    networks: &[crate::docker::ObservedNetwork],
    notes: &PassNotes,
) -> Vec<Observation> {
    let mut by_instance: HashMap<i64, &ObservedContainer> = HashMap::new();
    for c in containers {
        if let Some(id) = c.instance_id {
            // Prefer the container with the expected hash when duplicates linger.
            let better = desired
                .iter()
                .find(|d| d.id == id)
                .is_some_and(|d| d.current(c.spec_hash.as_deref()));
            if better || !by_instance.contains_key(&id) {
                by_instance.insert(id, c);
            }
        }
    }
    let mut out: Vec<Observation> = invalid
        .iter()
        .map(|(id, why)| Observation {
            instance_id: *id,
            phase: Phase::Error,
            message: why.clone(),
            container_id: None,
            image_id: None,
            adopt: None,
        })
        .chain(waiting.iter().map(|(id, why)| Observation {
            instance_id: *id,
            phase: Phase::Pending,
            message: why.clone(),
            container_id: by_instance.get(id).map(|c| c.id.clone()),
            image_id: by_instance.get(id).and_then(|c| c.image_id.clone()),
            adopt: None,
        }))
        .collect();
    for d in desired {
        let c = by_instance.get(&d.id).copied();
        let container_id = c.map(|c| c.id.clone());
        let image_id = c.and_then(|c| c.image_id.clone());
        let (phase, message) = if d.want == DesiredState::Absent {
            if c.is_none() && !networks.iter().any(|n| n.name == d.spec.network) {
                (Phase::Removed, String::new())
            } else {
                (Phase::Pending, "removing".into())
            }
        } else if let Some(err) = notes.errors.get(&d.id) {
            (Phase::Error, err.clone())
        } else if let Some(progress) = notes.pulling.get(&d.id) {
            (Phase::Pulling, progress.clone())
        } else {
            match c {
                None if d.want == DesiredState::Running => (Phase::Pending, String::new()),
                None => (Phase::Stopped, String::new()),
                Some(c) => container_phase(c, d.want),
            }
        };
        out.push(Observation {
            instance_id: d.id,
            phase,
            message,
            container_id,
            adopt: adopt(d, c),
            image_id,
        });
    }
    out
}

/// What the pass saw of injected keys and first-start admin accounts: the
/// key of each instance's container that is healthy with its desired spec,
/// and the instances whose account now exists (healthy with the password).
pub fn injections_seen(
    desired: &[DesiredInstance],
    containers: &[ObservedContainer],
    observations: &[Observation],
) -> (Vec<KeySeen>, Vec<i64>) {
    let healthy = |d: &DesiredInstance| {
        let running = observations
            .iter()
            .any(|o| o.instance_id == d.id && o.phase == Phase::Running);
        let container = containers.iter().find(|c| {
            c.instance_id == Some(d.id)
                && c.state == ContainerState::Running
                && d.current(c.spec_hash.as_deref())
        });
        running && container.is_some()
    };
    let mut keys = Vec::new();
    let mut accounts = Vec::new();
    for d in desired.iter().filter(|d| d.want != DesiredState::Absent) {
        let ok = healthy(d);
        if d.llm_key.is_some() {
            keys.push(KeySeen {
                instance_id: d.id,
                wanted: d.llm_key,
                live: if ok { d.llm_key } else { None },
            });
        }
        let with_password = containers.iter().any(|c| {
            c.instance_id == Some(d.id) && c.spec_hash.as_deref() == Some(d.spec_hash.as_str())
        });
        if d.admin_pending && ok && with_password {
            accounts.push(d.id);
        }
    }
    (keys, accounts)
}

/// An instance with no valid pinned image adopts the image of its current
/// container: the tag resolved once is what it runs from then on.
fn adopt(d: &DesiredInstance, c: Option<&ObservedContainer>) -> Option<Adopt> {
    let c = c.filter(|c| d.image_id.is_none() && d.want != DesiredState::Absent && d.fits(c))?;
    Some(Adopt {
        image_ref: d.spec.image.clone(),
        image_id: c.image_id.clone()?,
        seen_id: d.seen_image.0.clone(),
        seen_ref: d.seen_image.1.clone(),
    })
}

fn container_phase(c: &ObservedContainer, want: DesiredState) -> (Phase, String) {
    match c.state {
        ContainerState::Running => match c.health {
            Some(Health::Starting) => (Phase::Starting, "health check starting".into()),
            Some(Health::Unhealthy) => (Phase::Unhealthy, "health check failing".into()),
            _ => (Phase::Running, String::new()),
        },
        ContainerState::Paused => (Phase::Running, "paused for a backup".into()),
        ContainerState::Restarting => (Phase::Error, "restarting after a crash".into()),
        ContainerState::Created => (Phase::Creating, String::new()),
        ContainerState::Exited | ContainerState::Dead | ContainerState::Other
            if want == DesiredState::Stopped =>
        {
            (Phase::Stopped, String::new())
        }
        _ => {
            let mut msg = match c.exit_code {
                Some(code) => format!("container exited with code {code}"),
                None => "container is not running".into(),
            };
            if c.oom_killed {
                msg.push_str(" (out of memory)");
            }
            (Phase::Error, msg)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::DesiredState::{Absent, Running, Stopped};
    use crate::reconcile::plan::tests_support::{container, want};

    fn phase(obs: &[Observation], id: i64) -> (Phase, String) {
        let o = obs.iter().find(|o| o.instance_id == id).unwrap();
        (o.phase, o.message.clone())
    }

    #[test]
    fn a_current_container_is_adopted_once_and_only_then() {
        let mut c = container("a", Some(1), "h1", ContainerState::Running);
        c.image_id = Some("sha256:x".into());
        let obs = observe(
            &[want(1, Running)],
            &[],
            &[],
            &[c.clone()],
            &[],
            &PassNotes::default(),
        );
        let a = obs[0].adopt.as_ref().unwrap();
        assert_eq!(
            (a.image_ref.as_str(), a.image_id.as_str()),
            ("img:1", "sha256:x")
        );
        let mut pinned = want(1, Running);
        pinned.image_id = Some("sha256:x".into());
        let obs = observe(
            &[pinned],
            &[],
            &[],
            &[c.clone()],
            &[],
            &PassNotes::default(),
        );
        assert_eq!(obs[0].adopt, None, "already pinned");
        c.spec_hash = Some("old".into());
        let obs = observe(
            &[want(1, Running)],
            &[],
            &[],
            &[c],
            &[],
            &PassNotes::default(),
        );
        assert_eq!(
            obs[0].adopt, None,
            "an outdated container's image is not adopted"
        );
    }

    #[test]
    fn phases_follow_the_container() {
        let d = [
            want(1, Running),
            want(2, Running),
            want(3, Stopped),
            want(4, Running),
        ];
        let mut healthy = container("a", Some(1), "h1", ContainerState::Running);
        healthy.health = Some(Health::Healthy);
        let mut starting = container("b", Some(2), "h2", ContainerState::Running);
        starting.health = Some(Health::Starting);
        let stopped = container("c", Some(3), "h3", ContainerState::Exited);
        let mut crashed = container("d", Some(4), "h4", ContainerState::Exited);
        crashed.exit_code = Some(137);
        crashed.oom_killed = true;
        let obs = observe(
            &d,
            &[],
            &[],
            &[healthy, starting, stopped, crashed],
            &[],
            &PassNotes::default(),
        );
        assert_eq!(phase(&obs, 1).0, Phase::Running);
        assert_eq!(phase(&obs, 2).0, Phase::Starting);
        assert_eq!(phase(&obs, 3).0, Phase::Stopped);
        assert_eq!(
            phase(&obs, 4),
            (
                Phase::Error,
                "container exited with code 137 (out of memory)".into()
            )
        );
    }

    #[test]
    fn errors_pulls_and_invalid_specs_are_reported() {
        let d = [want(1, Running), want(2, Running), want(3, Running)];
        let mut notes = PassNotes::default();
        notes.errors.insert(1, "boom".into());
        notes.pulling.insert(2, "downloading 1 MiB / 2 MiB".into());
        let obs = observe(
            &d,
            &[(9, "blueprint x is not installed".into())],
            &[(8, "waiting for its LLM key to be created".into())],
            &[],
            &[],
            &notes,
        );
        assert_eq!(phase(&obs, 1), (Phase::Error, "boom".into()));
        assert_eq!(
            phase(&obs, 2),
            (Phase::Pulling, "downloading 1 MiB / 2 MiB".into())
        );
        assert_eq!(phase(&obs, 3).0, Phase::Pending);
        assert_eq!(phase(&obs, 9).0, Phase::Error);
        assert_eq!(
            phase(&obs, 8),
            (
                Phase::Pending,
                "waiting for its LLM key to be created".into()
            )
        );
    }

    #[test]
    fn absent_is_removed_only_when_container_and_network_are_gone() {
        let d = [want(1, Absent)];
        let c = [container("a", Some(1), "h1", ContainerState::Exited)];
        assert_eq!(
            phase(&observe(&d, &[], &[], &c, &[], &PassNotes::default()), 1).0,
            Phase::Pending
        );
        assert_eq!(
            phase(
                &observe(
                    &d,
                    &[],
                    &[],
                    &[],
                    &[crate::docker::ObservedNetwork {
                        name: "berth-c1".into(),
                        instance_id: Some(1),
                        pool_port: None,
                    }],
                    &PassNotes::default()
                ),
                1
            )
            .0,
            Phase::Pending
        );
        assert_eq!(
            phase(&observe(&d, &[], &[], &[], &[], &PassNotes::default()), 1).0,
            Phase::Removed
        );
    }
}
