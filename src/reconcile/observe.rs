//! What each instance's phase is, from what Docker reports after a pass.

use std::collections::HashMap;

use crate::docker::{ContainerState, Health, ObservedContainer};
use crate::domain::Phase;
use crate::store::Observation;

use super::plan::{DesiredInstance, Want};

/// Per-instance notes from the pass that the container list cannot show.
#[derive(Debug, Default)]
pub struct PassNotes {
    pub errors: HashMap<i64, String>,
    pub pulling: HashMap<i64, String>,
}

pub fn observe(
    desired: &[DesiredInstance],
    invalid: &[(i64, String)],
    containers: &[ObservedContainer],
    networks: &[String],
    notes: &PassNotes,
) -> Vec<Observation> {
    let mut by_instance: HashMap<i64, &ObservedContainer> = HashMap::new();
    for c in containers {
        if let Some(id) = c.instance_id {
            // Prefer the container with the expected hash when duplicates linger.
            let better = desired
                .iter()
                .find(|d| d.id == id)
                .is_some_and(|d| c.spec_hash.as_deref() == Some(d.spec_hash.as_str()));
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
        })
        .collect();
    for d in desired {
        let c = by_instance.get(&d.id).copied();
        let container_id = c.map(|c| c.id.clone());
        let (phase, message) = if d.want == Want::Absent {
            if c.is_none() && !networks.contains(&d.spec.network) {
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
                None if d.want == Want::Running => (Phase::Pending, String::new()),
                None => (Phase::Stopped, String::new()),
                Some(c) => container_phase(c, d.want),
            }
        };
        out.push(Observation {
            instance_id: d.id,
            phase,
            message,
            container_id,
        });
    }
    out
}

fn container_phase(c: &ObservedContainer, want: Want) -> (Phase, String) {
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
            if want == Want::Stopped =>
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
