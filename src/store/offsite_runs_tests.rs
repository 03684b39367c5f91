//! Claims, ordering and the forget trigger of offsite runs, on an in-memory store.

use super::*;
use crate::store::offsite::{self as copies, NewCopy};
use crate::store::Store;

fn run<'a>(target: &'a str, kind: OffsiteRunKind) -> NewRun<'a> {
    NewRun {
        target,
        kind,
        dry_run: false,
        read_data: None,
        requested_by: "schedule",
        instance_id: None,
    }
}

#[test]
fn exclusive_runs_and_copies_take_turns_per_target() {
    let store = Store::open_in_memory().unwrap();
    store
        .call_blocking(|c| {
            let me = std::process::id();
            let copy = copies::enqueue_copy(
                c,
                &NewCopy {
                    target: "box",
                    kind: crate::domain::OffsiteKind::State,
                    backup_id: None,
                    instance_id: None,
                    client_slug: "",
                    instance_name: "",
                },
            )?;
            assert!(copies::claim_copy(c, copy, me)?);
            // A test-restore shares the repository with copies.
            let test = enqueue_run(c, &run("box", OffsiteRunKind::TestRestore))?;
            assert!(claim_run(c, test, me)?);
            finish_run(c, test, Ok(&RunDone::default()))?;
            let check = enqueue_run(c, &run("box", OffsiteRunKind::Check))?;
            assert_eq!(enqueue_run(c, &run("box", OffsiteRunKind::Check))?, check);
            // The copy runs: the check waits, and no new copy starts.
            assert!(!claim_run(c, check, me)?);
            assert!(!copies_allowed(c, "box")?);
            assert!(copies_allowed(c, "other")?);
            // Runs go in order: nothing overtakes the waiting check.
            let later = enqueue_run(c, &run("box", OffsiteRunKind::TestRestore))?;
            assert!(!claim_run(c, later, me)?);
            copies::finish_copy(c, copy, Err("x"))?;
            assert!(claim_run(c, check, me)?);
            assert!(!restores_allowed(c, "box")?);
            // One run per target at a time.
            let prune = enqueue_run(c, &run("box", OffsiteRunKind::Prune))?;
            assert!(!claim_run(c, prune, me)?);
            finish_run(c, check, Err("pack damaged"))?;
            assert!(!claim_run(c, prune, me)?, "the test-restore queued first");
            assert!(claim_run(c, later, me)?);
            finish_run(c, later, Ok(&RunDone::default()))?;
            assert!(claim_run(c, prune, i32::MAX as u32)?);
            assert_eq!(fail_orphaned_runs(c)?.len(), 1);
            let m = maintenance(c, "box")?;
            assert_eq!(
                m.failing,
                vec![OffsiteRunKind::Prune, OffsiteRunKind::Check]
            );
            assert!(m.last_test_restore.is_some() && m.last_check.is_none());
            assert!(copies_allowed(c, "box")? && restores_allowed(c, "box")?);
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_forget_follows_a_finished_round_of_copies() {
    let store = Store::open_in_memory().unwrap();
    store
        .call_blocking(|c| {
            assert!(!forget_due(c, "box")?, "no copy yet");
            let new = NewCopy {
                target: "box",
                kind: crate::domain::OffsiteKind::State,
                backup_id: None,
                instance_id: None,
                client_slug: "",
                instance_name: "",
            };
            let id = copies::enqueue_copy(c, &new)?;
            assert!(copies::claim_copy(c, id, 1)?);
            assert!(!forget_due(c, "box")?, "a copy still runs");
            let done = copies::CopyDone {
                snapshot_id: "a".into(),
                bytes_processed: 1,
                bytes_added: 1,
            };
            copies::finish_copy(c, id, Ok(&done))?;
            assert!(forget_due(c, "box")?);
            let f = enqueue_run(c, &run("box", OffsiteRunKind::Forget))?;
            assert!(!forget_due(c, "box")?, "queued already");
            finish_run(c, f, Ok(&RunDone::default()))?;
            // Only copies finished after the forget was asked count;
            // the same second counts once more at most.
            c.execute(
                "UPDATE offsite_copies SET finished_at = '2000-01-01T00:00:00Z'",
                [],
            )?;
            assert!(!forget_due(c, "box")?);
            Ok(())
        })
        .unwrap();
}
