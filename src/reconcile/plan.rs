//! The pure half of reconciliation: compare what should exist with what
//! Docker reports and list the actions that close the gap. No IO here, so
//! every case is a unit test.

use std::collections::{HashMap, HashSet};

use crate::docker::{ContainerSpec, ContainerState, ObservedContainer, ObservedNetwork};
use crate::domain::DesiredState;

#[derive(Debug, Clone, PartialEq)]
pub struct DesiredInstance {
    pub id: i64,
    pub spec: ContainerSpec,
    pub spec_hash: String,
    /// Absent: being deleted; container and network go, data stays until
    /// the delete finishes. Stopped also for a suspended client.
    pub want: DesiredState,
    /// A requested restart generation not yet carried out.
    pub restart: Option<i64>,
    /// Another hash a container may have and still be current: the spec
    /// with the first-start admin password, which is dropped at the next
    /// recreate rather than by one of its own.
    pub also_ok: Option<String>,
    /// The client's LLM key in the spec's env (its row id).
    pub llm_key: Option<i64>,
    /// The spec carries the admin password: a healthy start creates the account.
    pub admin_pending: bool,
    /// The image ID its container must run, when one is pinned.
    pub image_id: Option<String>,
    /// The desired (image ID, reference) as the pass read them, for adoption.
    pub seen_image: (Option<String>, Option<String>),
}

impl DesiredInstance {
    /// Whether a container with `hash` is what this instance wants.
    pub fn current(&self, hash: Option<&str>) -> bool {
        hash.is_some_and(|h| h == self.spec_hash || self.also_ok.as_deref() == Some(h))
    }

    /// Whether container `c` is what this instance wants: a current spec,
    /// and the pinned image ID when one is pinned (a container whose image
    /// the engine did not report is given the benefit of the doubt).
    pub fn fits(&self, c: &ObservedContainer) -> bool {
        let image_ok = match (&self.image_id, &c.image_id) {
            (Some(want), Some(has)) => want == has,
            _ => true,
        };
        self.current(c.spec_hash.as_deref()) && image_ok
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RemoveReason {
    /// Labelled as ours but no instance in the store has its id.
    Orphan,
    /// Its spec hash differs (plan, image, env or port changed), or it
    /// runs another image ID than the pinned one (a rollout or rollback).
    Outdated,
    /// A second container for the same instance (e.g. after a crash mid-create).
    Duplicate,
    /// Its instance is being deleted.
    Absent,
    /// Dead containers cannot be started again.
    Dead,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Remove {
        instance_id: Option<i64>,
        container_id: String,
        name: String,
        reason: RemoveReason,
    },
    Stop {
        instance_id: i64,
        container_id: String,
    },
    CreateNetwork {
        instance_id: i64,
        name: String,
    },
    /// Ensure the data dir and image, create the container, start it if `start`.
    Create {
        instance_id: i64,
        start: bool,
    },
    Start {
        instance_id: i64,
        container_id: String,
    },
    Restart {
        instance_id: i64,
        container_id: String,
        generation: i64,
    },
    RemoveNetwork {
        name: String,
        /// Set when the instance's chain must remove it before creating the
        /// network under its new name (same subnet); `None` runs after all
        /// containers are gone.
        instance_id: Option<i64>,
    },
}

impl Action {
    /// The instance an action is about, if any.
    pub fn instance_id(&self) -> Option<i64> {
        match self {
            Action::Remove { instance_id, .. } => *instance_id,
            Action::Stop { instance_id, .. }
            | Action::CreateNetwork { instance_id, .. }
            | Action::Create { instance_id, .. }
            | Action::Start { instance_id, .. }
            | Action::Restart { instance_id, .. } => Some(*instance_id),
            Action::RemoveNetwork { instance_id, .. } => *instance_id,
        }
    }

    /// A short name for logs and timings.
    pub fn kind(&self) -> &'static str {
        match self {
            Action::Remove { .. } => "remove",
            Action::Stop { .. } => "stop",
            Action::CreateNetwork { .. } => "network",
            Action::Create { .. } => "create",
            Action::Start { .. } => "start",
            Action::Restart { .. } => "restart",
            Action::RemoveNetwork { .. } => "remove_network",
        }
    }

    /// The order actions of one instance run in (see `apply`); removals of
    /// networks come last of all.
    pub fn stage(&self) -> u8 {
        match self {
            Action::Remove { .. } | Action::Stop { .. } => 0,
            Action::RemoveNetwork {
                instance_id: Some(_),
                ..
            } => 1,
            Action::CreateNetwork { .. } => 2,
            Action::Create { .. } => 3,
            Action::Start { .. } | Action::Restart { .. } => 4,
            Action::RemoveNetwork {
                instance_id: None, ..
            } => 5,
        }
    }
}

/// `known` maps every instance id in the store to its network name (a pool
/// network it adopted, or one named like its container), including
/// instances that could not be turned into a desired spec (missing
/// blueprint): their containers and networks are left alone rather than
/// treated as orphans. A network labelled with an instance but not named as
/// that instance's network now is an old name (see `Config::container_name`):
/// it goes, and a container still on it is outdated by its spec hash.
pub fn plan(
    desired: &[DesiredInstance],
    known: &HashMap<i64, String>,
    containers: &[ObservedContainer],
    networks: &[ObservedNetwork],
) -> Vec<Action> {
    let mut actions = Vec::new();
    let mut by_instance: HashMap<i64, Vec<&ObservedContainer>> = HashMap::new();
    for c in containers {
        match c.instance_id {
            Some(id) if known.contains_key(&id) => by_instance.entry(id).or_default().push(c),
            _ => actions.push(remove(c, RemoveReason::Orphan)),
        }
    }
    let desired_ids: HashSet<i64> = desired.iter().map(|d| d.id).collect();
    let mut wanted_networks: HashSet<&str> = known
        .iter()
        .filter(|(id, _)| !desired_ids.contains(id))
        .map(|(_, n)| n.as_str())
        .collect();
    let mut removed_early: HashSet<&str> = HashSet::new();

    for d in desired {
        let mut mine = by_instance.remove(&d.id).unwrap_or_default();
        // Keep the newest-looking one: a matching hash first, then a running one.
        mine.sort_by_key(|c| (!d.fits(c), c.state != ContainerState::Running, c.id.clone()));
        let mut rest = mine.into_iter();
        let current = rest.next();
        for extra in rest {
            actions.push(remove(extra, RemoveReason::Duplicate));
        }
        if d.want == DesiredState::Absent {
            actions.extend(current.map(|c| remove(c, RemoveReason::Absent)));
            continue;
        }
        wanted_networks.insert(d.spec.network.as_str());
        let current = match current {
            Some(c) if !d.fits(c) => {
                actions.push(remove(c, RemoveReason::Outdated));
                None
            }
            Some(c) if c.state == ContainerState::Dead => {
                actions.push(remove(c, RemoveReason::Dead));
                None
            }
            other => other,
        };
        match (current, d.want) {
            (None, DesiredState::Running) => {
                let own = |n: &ObservedNetwork| n.instance_id.is_none_or(|i| i == d.id);
                if !networks.iter().any(|n| n.name == d.spec.network && own(n)) {
                    // Its old-named network holds the same subnet: remove it first.
                    for old in networks
                        .iter()
                        .filter(|n| n.instance_id == Some(d.id) && n.name != d.spec.network)
                    {
                        removed_early.insert(old.name.as_str());
                        actions.push(Action::RemoveNetwork {
                            name: old.name.clone(),
                            instance_id: Some(d.id),
                        });
                    }
                    actions.push(Action::CreateNetwork {
                        instance_id: d.id,
                        name: d.spec.network.clone(),
                    });
                }
                actions.push(Action::Create {
                    instance_id: d.id,
                    start: true,
                });
            }
            (None, _) => {}
            // A paused container is being backed up; a restarting one is in Docker's hands.
            (Some(c), _)
                if matches!(c.state, ContainerState::Paused | ContainerState::Restarting) => {}
            (Some(c), DesiredState::Running) => {
                if c.state != ContainerState::Running {
                    actions.push(Action::Start {
                        instance_id: d.id,
                        container_id: c.id.clone(),
                    });
                } else if let Some(generation) = d.restart {
                    actions.push(Action::Restart {
                        instance_id: d.id,
                        container_id: c.id.clone(),
                        generation,
                    });
                }
            }
            (Some(c), _) => {
                if c.state == ContainerState::Running {
                    actions.push(Action::Stop {
                        instance_id: d.id,
                        container_id: c.id.clone(),
                    });
                }
            }
        }
    }
    let adopted: HashSet<&str> = known.values().map(String::as_str).collect();
    for n in networks {
        // A pool network no instance adopted is the pool's to keep or remove.
        if n.pool_port.is_some() && !adopted.contains(n.name.as_str()) {
            continue;
        }
        let wanted = match n.instance_id {
            // An instance without a spec (missing blueprint) is left alone.
            Some(id) if known.contains_key(&id) && !desired_ids.contains(&id) => true,
            Some(id) => {
                wanted_networks.contains(n.name.as_str()) && known.get(&id) == Some(&n.name)
            }
            None => wanted_networks.contains(n.name.as_str()),
        };
        if !wanted && !removed_early.contains(n.name.as_str()) {
            actions.push(Action::RemoveNetwork {
                name: n.name.clone(),
                instance_id: None,
            });
        }
    }
    actions.sort_by_key(Action::stage);
    actions
}

fn remove(c: &ObservedContainer, reason: RemoveReason) -> Action {
    Action::Remove {
        instance_id: c.instance_id,
        container_id: c.id.clone(),
        name: c.name.clone(),
        reason,
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;
    use crate::docker::{ContainerSpec, ContainerState, ObservedContainer};

    pub fn spec(id: i64) -> ContainerSpec {
        ContainerSpec {
            name: format!("berth-c{id}"),
            image: "img:1".into(),
            command: None,
            env: vec![],
            internal_port: 8080,
            bind_address: [127, 0, 0, 1].into(),
            host_port: 8000 + id as u16,
            data_dir: format!("/data/{id}").into(),
            data_mount: "/www".into(),
            nano_cpus: 500_000_000,
            memory: 64 << 20,
            memory_reservation: None,
            pids_limit: 100,
            health: None,
            network: format!("berth-c{id}"),
            owner: "berth".into(),
            instance_id: id,
            client: format!("c{id}"),
            user: None,
            cap_add: vec![],
            create_from: None,
        }
    }

    pub fn want(id: i64, want: DesiredState) -> DesiredInstance {
        let spec = spec(id);
        DesiredInstance {
            id,
            spec_hash: format!("h{id}"),
            spec,
            want,
            restart: None,
            also_ok: None,
            llm_key: None,
            admin_pending: false,
            image_id: None,
            seen_image: (None, None),
        }
    }

    pub fn container(
        id: &str,
        instance: Option<i64>,
        hash: &str,
        state: ContainerState,
    ) -> ObservedContainer {
        ObservedContainer {
            id: id.into(),
            name: format!("n-{id}"),
            instance_id: instance,
            spec_hash: Some(hash.into()),
            state,
            health: None,
            exit_code: None,
            oom_killed: false,
            image_id: None,
        }
    }
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
