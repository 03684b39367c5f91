//! Cancelling a halted rollout, over an in-memory store with no daemon:
//! the rollout and its steps are rows, which is all the decision needs.

use crate::audit::Actor;
use crate::domain::{Approval, RolloutKind, RolloutStatus, StepState};
use crate::ops::requests::tests::{add_client, ops_with_plan};
use crate::ops::OpsError;
use crate::store::rollouts::{self as rows, NewRollout, NewStep};

#[tokio::test]
async fn only_a_halted_rollout_with_no_step_under_way_is_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    let ops = ops_with_plan(dir.path(), None, Approval::Auto).await;
    add_client(&ops, "Acme").await;
    add_client(&ops, "Bravo").await;
    let instances = ops.list_instances(None).await.unwrap();
    let steps: Vec<NewStep> = instances
        .iter()
        .map(|i| NewStep {
            instance_id: i.id,
            label: format!("{}/{}", i.client_slug, i.name),
            wave: 1,
            target_ref: "site:v2".into(),
            state: StepState::Pending,
        })
        .collect();
    let id = ops
        .store
        .call(move |c| {
            let r = NewRollout {
                kind: RolloutKind::Update,
                blueprint: "static-site",
                tag: Some("v2"),
                waves: "1,all",
                keep_going: false,
                status: RolloutStatus::Running,
                actor: "test",
            };
            rows::insert(c, &r, &steps)
        })
        .await
        .unwrap();
    let actor = Actor::cli();
    let refused = |e: OpsError| matches!(e, OpsError::Refused(_));

    // Running: halt it first.
    assert!(refused(ops.cancel_rollout(&actor, id).await.unwrap_err()));
    ops.halt_rollout(&actor, id).await.unwrap();
    // Halted while the first instance's backup still runs: wait for it.
    let first = ops.get_rollout(id).await.unwrap().steps[0].id;
    ops.store
        .call(move |c| rows::set_step(c, first, StepState::BackingUp, ""))
        .await
        .unwrap();
    let err = ops.cancel_rollout(&actor, id).await.unwrap_err();
    assert!(err.to_string().contains("backing_up"), "{err}");
    ops.store
        .call(move |c| rows::set_step(c, first, StepState::Succeeded, ""))
        .await
        .unwrap();

    let v = ops.cancel_rollout(&actor, id).await.unwrap();
    assert_eq!(v.status, RolloutStatus::Cancelled);
    assert!(v.finished_at.is_some());
    let states: Vec<StepState> = v.steps.iter().map(|s| s.state).collect();
    assert_eq!(states, [StepState::Succeeded, StepState::Skipped]);
    // Nothing holds the skipped instance any more, and nothing resumes it.
    let second = instances[1].id;
    let busy = ops
        .store
        .call(move |c| rows::busy_with(c, second))
        .await
        .unwrap();
    assert_eq!(busy, None);
    assert!(refused(ops.resume_rollout(&actor, id).await.unwrap_err()));
    assert!(refused(ops.cancel_rollout(&actor, id).await.unwrap_err()));
}
