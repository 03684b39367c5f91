//! Copy and restore rows against a real store: claims, orphans, the retention guard.

use super::*;
use crate::store::Store;

fn state_copy<'a>(target: &'a str) -> NewCopy<'a> {
    NewCopy {
        target,
        kind: OffsiteKind::State,
        backup_id: None,
        instance_id: None,
        client_slug: "",
        instance_name: "",
    }
}

#[test]
fn retention_waits_for_the_copies_queued_or_running_only() {
    let store = Store::open_in_memory().unwrap();
    store
        .call_blocking(|c| {
            c.execute_batch(
                "INSERT INTO plans (id, name, cpus, memory, created_at) VALUES (1, 'p', 1, 1, 'now');
                 INSERT INTO clients (id, slug, name, email, plan_id, status, created_at)
                     VALUES (1, 'c', 'C', 'a@b.c', 1, 'active', 'now');
                 INSERT INTO instances (id, client_id, name, blueprint, image, host_port, desired, created_at)
                     VALUES (7, 1, 'main', 'b', 'i', 8001, 'running', 'now');
                 INSERT INTO backups (id, instance_id, client_slug, instance_name, status, trigger, created_at)
                     VALUES (1, 7, 'c', 'main', 'ok', 'manual', 'now'), (2, 7, 'c', 'main', 'ok', 'manual', 'now');",
            )?;
            let copy = |backup| NewCopy {
                backup_id: Some(backup),
                instance_id: Some(7),
                client_slug: "c",
                instance_name: "main",
                kind: OffsiteKind::Instance,
                ..state_copy("box")
            };
            let first = enqueue_copy(c, &copy(1))?;
            enqueue_copy(c, &copy(2))?;
            assert!(claim_copy(c, first, std::process::id())?);
            let mut waiting = awaiting_copy(c, 7)?;
            waiting.sort();
            assert_eq!(waiting, vec![1, 2]);
            c.execute("UPDATE offsite_copies SET status = 'ok' WHERE id = ?1", [first])?;
            assert_eq!(awaiting_copy(c, 7)?, vec![2]);
            Ok(())
        })
        .unwrap();
}

#[test]
fn a_copy_cut_off_by_a_dead_berth_is_failed_never_done() {
    let store = Store::open_in_memory().unwrap();
    store
        .call_blocking(|c| {
            let id = enqueue_copy(c, &state_copy("box"))?;
            // The same copy while one is queued is that one.
            assert_eq!(enqueue_copy(c, &state_copy("box"))?, id);
            // A pid no process has: the berth that claimed it is gone.
            assert!(claim_copy(c, id, i32::MAX as u32)?);
            assert!(!claim_copy(c, id, 1)?, "claimed twice");
            copy_progress(c, id, 4096)?;
            let failed = fail_orphaned_copies(c)?;
            assert_eq!(failed.len(), 1);
            let row = get_copy(c, id)?;
            assert_eq!(row.status, BackupStatus::Failed);
            assert!(row.snapshot_id.is_none() && row.bytes_added.is_none());
            assert!(row.message.contains("interrupted"), "{}", row.message);
            let s = summary(c, "box")?;
            assert_eq!((s.copies_ok, s.copies_failed, s.last_success), (0, 1, None));

            let again = enqueue_copy(c, &state_copy("box"))?;
            assert_ne!(again, id);
            assert!(claim_copy(c, again, std::process::id())?);
            // A live claimant's copy is left alone.
            assert!(fail_orphaned_copies(c)?.is_empty());
            let done = CopyDone {
                snapshot_id: "4b2b1f74".into(),
                bytes_processed: 10,
                bytes_added: 7,
            };
            finish_copy(c, again, Ok(&done))?;
            let s = summary(c, "box")?;
            assert_eq!(
                (s.copies_ok, s.copies_failed, s.bytes_added_total),
                (1, 1, 7)
            );
            assert!(s.last_success.is_some());
            assert_eq!(summary(c, "other")?.copies_ok, 0);
            Ok(())
        })
        .unwrap();
}
