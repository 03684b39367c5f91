//! Every kind of action `plan` can take, and the cases where it takes none.

use super::tests_support::{container, want};
use super::*;
use crate::docker::ContainerState;
use crate::domain::DesiredState::{Absent, Running, Stopped};

fn known(ids: &[i64]) -> HashMap<i64, String> {
    ids.iter().map(|id| (*id, format!("berth-c{id}"))).collect()
}

fn nets(ids: &[i64]) -> Vec<ObservedNetwork> {
    ids.iter()
        .map(|id| ObservedNetwork {
            name: format!("berth-c{id}"),
            instance_id: Some(*id),
            pool_port: None,
        })
        .collect()
}

#[test]
fn converged_state_needs_nothing() {
    let d = [want(1, Running), want(2, Stopped)];
    let c = [
        container("a", Some(1), "h1", ContainerState::Running),
        container("b", Some(2), "h2", ContainerState::Exited),
    ];
    assert!(plan(&d, &known(&[1, 2]), &c, &nets(&[1, 2])).is_empty());
}

#[test]
fn missing_container_gets_network_and_create() {
    let actions = plan(&[want(1, Running)], &known(&[1]), &[], &[]);
    assert_eq!(
        actions,
        vec![
            Action::CreateNetwork {
                instance_id: 1,
                name: "berth-c1".into()
            },
            Action::Create {
                instance_id: 1,
                start: true
            }
        ]
    );
    let actions = plan(&[want(1, Running)], &known(&[1]), &[], &nets(&[1]));
    assert_eq!(
        actions,
        vec![Action::Create {
            instance_id: 1,
            start: true
        }]
    );
}

#[test]
fn stopped_without_container_creates_nothing() {
    assert!(plan(&[want(1, Stopped)], &known(&[1]), &[], &nets(&[1])).is_empty());
}

#[test]
fn exited_container_is_started_and_running_one_stopped() {
    let c = [container("a", Some(1), "h1", ContainerState::Exited)];
    assert_eq!(
        plan(&[want(1, Running)], &known(&[1]), &c, &nets(&[1])),
        vec![Action::Start {
            instance_id: 1,
            container_id: "a".into()
        }]
    );
    let c = [container("a", Some(1), "h1", ContainerState::Running)];
    assert_eq!(
        plan(&[want(1, Stopped)], &known(&[1]), &c, &nets(&[1])),
        vec![Action::Stop {
            instance_id: 1,
            container_id: "a".into()
        }]
    );
}

#[test]
fn changed_spec_recreates() {
    let c = [container("a", Some(1), "old", ContainerState::Running)];
    assert_eq!(
        plan(&[want(1, Running)], &known(&[1]), &c, &nets(&[1])),
        vec![
            Action::Remove {
                instance_id: Some(1),
                container_id: "a".into(),
                name: "n-a".into(),
                reason: RemoveReason::Outdated
            },
            Action::Create {
                instance_id: 1,
                start: true
            },
        ]
    );
}

#[test]
fn orphans_and_their_networks_are_removed() {
    let c = [
        container("x", Some(9), "h9", ContainerState::Running),
        container("y", None, "", ContainerState::Exited),
    ];
    let actions = plan(&[], &known(&[]), &c, &nets(&[9]));
    assert_eq!(actions.len(), 3);
    assert!(actions[..2].iter().all(|a| matches!(
        a,
        Action::Remove {
            reason: RemoveReason::Orphan,
            ..
        }
    )));
    assert_eq!(
        actions[2],
        Action::RemoveNetwork {
            name: "berth-c9".into(),
            instance_id: None
        }
    );
}

#[test]
fn duplicates_keep_the_matching_running_one() {
    let c = [
        container("old", Some(1), "stale", ContainerState::Exited),
        container("good", Some(1), "h1", ContainerState::Running),
    ];
    assert_eq!(
        plan(&[want(1, Running)], &known(&[1]), &c, &nets(&[1])),
        vec![Action::Remove {
            instance_id: Some(1),
            container_id: "old".into(),
            name: "n-old".into(),
            reason: RemoveReason::Duplicate
        }]
    );
}

#[test]
fn absent_removes_container_then_network() {
    let c = [container("a", Some(1), "h1", ContainerState::Running)];
    let actions = plan(&[want(1, Absent)], &known(&[1]), &c, &nets(&[1]));
    assert_eq!(
        actions,
        vec![
            Action::Remove {
                instance_id: Some(1),
                container_id: "a".into(),
                name: "n-a".into(),
                reason: RemoveReason::Absent
            },
            Action::RemoveNetwork {
                name: "berth-c1".into(),
                instance_id: None
            },
        ]
    );
}

#[test]
fn dead_container_is_replaced() {
    let c = [container("a", Some(1), "h1", ContainerState::Dead)];
    let actions = plan(&[want(1, Running)], &known(&[1]), &c, &nets(&[1]));
    assert!(matches!(
        actions[0],
        Action::Remove {
            reason: RemoveReason::Dead,
            ..
        }
    ));
    assert_eq!(
        actions[1],
        Action::Create {
            instance_id: 1,
            start: true
        }
    );
}

#[test]
fn paused_and_restarting_are_left_alone() {
    for state in [ContainerState::Paused, ContainerState::Restarting] {
        let c = [container("a", Some(1), "h1", state)];
        assert!(plan(&[want(1, Stopped)], &known(&[1]), &c, &nets(&[1])).is_empty());
        assert!(plan(&[want(1, Running)], &known(&[1]), &c, &nets(&[1])).is_empty());
    }
}

#[test]
fn restart_request_restarts_a_running_container() {
    let mut d = want(1, Running);
    d.restart = Some(3);
    let c = [container("a", Some(1), "h1", ContainerState::Running)];
    assert_eq!(
        plan(&[d], &known(&[1]), &c, &nets(&[1])),
        vec![Action::Restart {
            instance_id: 1,
            container_id: "a".into(),
            generation: 3
        }]
    );
}

#[test]
fn known_instance_without_spec_is_left_alone() {
    let c = [container("a", Some(1), "h1", ContainerState::Running)];
    assert!(plan(&[], &known(&[1]), &c, &nets(&[1])).is_empty());
}

#[test]
fn stages_are_ordered() {
    let c = [
        container("x", Some(9), "h9", ContainerState::Running),
        container("a", Some(1), "old", ContainerState::Running),
    ];
    let actions = plan(&[want(1, Running)], &known(&[1]), &c, &nets(&[9]));
    let stages: Vec<u8> = actions.iter().map(Action::stage).collect();
    let mut sorted = stages.clone();
    sorted.sort();
    assert_eq!(stages, sorted);
    assert!(actions.contains(&Action::CreateNetwork {
        instance_id: 1,
        name: "berth-c1".into()
    }));
    assert!(actions.contains(&Action::RemoveNetwork {
        name: "berth-c9".into(),
        instance_id: None
    }));
}

/// An upgrade renamed the instance (`Config::container_name`): its old
/// container is outdated by hash, and its old network (same subnet) goes
/// inside its own chain, before the new one is created.
#[test]
fn renamed_instance_moves_to_its_new_network() {
    let c = [container("a", Some(1), "old-hash", ContainerState::Running)];
    let old = [ObservedNetwork {
        name: "berth-old-name".into(),
        instance_id: Some(1),
        pool_port: None,
    }];
    let actions = plan(&[want(1, Running)], &known(&[1]), &c, &old);
    assert_eq!(
        actions,
        vec![
            Action::Remove {
                instance_id: Some(1),
                container_id: "a".into(),
                name: "n-a".into(),
                reason: RemoveReason::Outdated
            },
            Action::RemoveNetwork {
                name: "berth-old-name".into(),
                instance_id: Some(1)
            },
            Action::CreateNetwork {
                instance_id: 1,
                name: "berth-c1".into()
            },
            Action::Create {
                instance_id: 1,
                start: true
            },
        ]
    );
    // Stopped: nothing is created, the old network still goes (last).
    let c = [container("a", Some(1), "h1", ContainerState::Exited)];
    assert_eq!(
        plan(&[want(1, Stopped)], &known(&[1]), &c, &old),
        vec![Action::RemoveNetwork {
            name: "berth-old-name".into(),
            instance_id: None
        }]
    );
}

/// Instance 2's old name is instance 1's new one: 1 must not join 2's
/// network (it asks for its own, which fails until 2 has moved), and the
/// network is not kept as if it were 1's.
#[test]
fn a_network_named_like_mine_but_labelled_for_another_is_not_mine() {
    let taken = [ObservedNetwork {
        name: "berth-c1".into(),
        instance_id: Some(2),
        pool_port: None,
    }];
    let actions = plan(&[want(1, Running)], &known(&[1, 2]), &[], &taken);
    assert_eq!(
        actions,
        vec![
            Action::CreateNetwork {
                instance_id: 1,
                name: "berth-c1".into()
            },
            Action::Create {
                instance_id: 1,
                start: true
            },
        ]
    );
}

fn pool_net(port: u16) -> ObservedNetwork {
    ObservedNetwork {
        name: format!("berth-pool-{port}"),
        instance_id: None,
        pool_port: Some(port),
    }
}

/// A pool network no instance adopted is left to the pool: never removed
/// as an orphan, never joined by an instance that did not adopt it.
#[test]
fn free_pool_networks_are_left_alone() {
    let c = [container("a", Some(1), "h1", ContainerState::Running)];
    let mut n = nets(&[1]);
    n.push(pool_net(8002));
    assert!(plan(&[want(1, Running)], &known(&[1]), &c, &n).is_empty());
    // Instance 2 (port 8002) has not adopted it: it asks for its own network.
    let actions = plan(&[want(2, Running)], &known(&[2]), &[], &[pool_net(8002)]);
    assert_eq!(
        actions[0],
        Action::CreateNetwork {
            instance_id: 2,
            name: "berth-c2".into()
        }
    );
}

/// Adopted (recorded in the store as the instance's network), a pool
/// network is the instance's: used as is, kept while it lives, removed with it.
#[test]
fn an_adopted_pool_network_is_the_instances_own() {
    let mut d = want(2, Running);
    d.spec.network = "berth-pool-8002".into();
    let known = HashMap::from([(2, "berth-pool-8002".to_string())]);
    let net = [pool_net(8002)];
    assert_eq!(
        plan(&[d.clone()], &known, &[], &net),
        vec![Action::Create {
            instance_id: 2,
            start: true
        }]
    );
    let c = [container("a", Some(2), "h2", ContainerState::Running)];
    assert!(plan(&[d.clone()], &known, &c, &net).is_empty());
    d.want = Absent;
    assert_eq!(
        plan(&[d], &known, &c, &net),
        vec![
            Action::Remove {
                instance_id: Some(2),
                container_id: "a".into(),
                name: "n-a".into(),
                reason: RemoveReason::Absent
            },
            Action::RemoveNetwork {
                name: "berth-pool-8002".into(),
                instance_id: None
            },
        ]
    );
}

/// A pinned image ID is desired state: a container on another image is
/// recreated even though its spec hash is current; on the pinned one (or
/// with nothing pinned) it is left alone, so a pull of a newer tag moves
/// nobody.
#[test]
fn a_container_on_another_image_than_the_pinned_one_is_recreated() {
    let mut d = want(1, Running);
    d.image_id = Some("sha256:new".into());
    let mut old = container("a", Some(1), "h1", ContainerState::Running);
    old.image_id = Some("sha256:old".into());
    let actions = plan(
        std::slice::from_ref(&d),
        &known(&[1]),
        &[old.clone()],
        &nets(&[1]),
    );
    assert_eq!(
        actions,
        vec![
            Action::Remove {
                instance_id: Some(1),
                container_id: "a".into(),
                name: "n-a".into(),
                reason: RemoveReason::Outdated,
            },
            Action::Create {
                instance_id: 1,
                start: true
            },
        ]
    );
    let mut pinned = old.clone();
    pinned.image_id = Some("sha256:new".into());
    assert!(plan(
        std::slice::from_ref(&d),
        &known(&[1]),
        &[pinned],
        &nets(&[1])
    )
    .is_empty());
    d.image_id = None;
    assert!(plan(&[d], &known(&[1]), &[old], &nets(&[1])).is_empty());
}
