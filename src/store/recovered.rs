//! A database brought back from an offsite state copy (`berth recover`)
//! describes the old host: jobs it was running, pids of its processes,
//! archives on its disk. These make it true on the new host before any
//! worker reads it.

use rusqlite::{params, Connection};

use super::{now, StoreError};
use crate::domain::BackupStatus;

/// Jobs the old host had claimed or queued that cannot mean anything here,
/// ended with `why`; every claim by an old pid dropped (a pid names a
/// process of that host, and may name an unrelated one here); instances'
/// observed phase reset.
///
/// Queued backups stay queued: the new host can run them once the data is
/// back, as do offsite maintenance runs. Restores (local or offsite) and
/// offsite copies are of archives that were on the old disk: failed, as is
/// a maintenance run the old host was running. Returns how many rows changed.
pub fn settle_old_host(conn: &Connection, why: &str) -> Result<usize, StoreError> {
    let at = now();
    let (queued, running, failed) = (
        BackupStatus::Queued,
        BackupStatus::Running,
        BackupStatus::Failed,
    );
    let mut changed = conn.execute(
        "UPDATE backups SET status = ?1, message = ?2, finished_at = ?3, runner_pid = NULL
         WHERE status = ?4",
        params![failed, why, at, running],
    )?;
    changed += conn.execute(
        "UPDATE backups SET verify_state = ?1, verify_message = ?2, verified_at = ?3
         WHERE verify_state IN (?4, ?5)",
        params![failed, why, at, queued, running],
    )?;
    for table in ["restores", "offsite_restores"] {
        changed += conn.execute(
            &format!(
                "UPDATE {table} SET status = ?1, message = ?2, finished_at = ?3, runner_pid = NULL
                 WHERE status IN (?4, ?5)"
            ),
            params![failed, why, at, queued, running],
        )?;
    }
    changed += conn.execute(
        "UPDATE offsite_copies SET status = ?1, message = ?2, finished_at = ?3, runner_pid = NULL
         WHERE status IN (?4, ?5)",
        params![failed, why, at, queued, running],
    )?;
    // A forget, prune, check or test-restore queued there still means the
    // same here (one repository); one cut off with the old host failed.
    changed += conn.execute(
        "UPDATE offsite_runs SET status = ?1, message = ?2, finished_at = ?3, runner_pid = NULL
         WHERE status = ?4",
        params![failed, why, at, running],
    )?;
    changed += conn.execute("DELETE FROM instance_holds", [])?;
    // What was observed of containers on the old host says nothing here:
    // until the reconciler has looked, every instance is pending.
    changed += conn.execute(
        "UPDATE instances SET phase = ?1, message = ?2, container_id = NULL",
        params![
            crate::domain::Phase::Pending,
            "recovered; waiting for the reconciler"
        ],
    )?;
    Ok(changed)
}

/// Good backups with an archive path, as (id, path relative to the backup dir).
pub fn archived(conn: &Connection) -> Result<Vec<(i64, String)>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT id, path FROM backups WHERE status = 'ok' AND path IS NOT NULL ORDER BY id",
    )?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Marks backups whose archive is gone the way a verification of a missing
/// file does: verify failed, with the reason, so no page or restore treats
/// them as restorable. Already marked ones keep their first message.
pub fn mark_lost(conn: &Connection, ids: &[i64], why: &str) -> Result<usize, StoreError> {
    let mut stmt = conn.prepare(
        "UPDATE backups SET verify_state = ?2, verify_message = ?3, verified_at = ?4
         WHERE id = ?1 AND NOT (verify_state IS ?2 AND verify_message = ?3)",
    )?;
    let mut n = 0;
    for id in ids {
        n += stmt.execute(params![id, BackupStatus::Failed, why, now()])?;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    #[test]
    fn the_old_hosts_jobs_and_holds_end() {
        let store = Store::open_in_memory().unwrap();
        store
            .call_blocking(|c| {
                c.execute_batch(
                    "INSERT INTO backups (id, client_slug, instance_name, status, trigger, created_at, runner_pid)
                     VALUES (1, 'a', 'main', 'running', 'api', 't', 4242),
                            (2, 'a', 'main', 'queued', 'api', 't', NULL);
                     INSERT INTO backups (id, client_slug, instance_name, status, trigger, created_at, path, verify_state)
                     VALUES (3, 'a', 'main', 'ok', 'api', 't', 'a/main/x.tar.zst', 'queued');
                     INSERT INTO offsite_copies (target, kind, client_slug, instance_name, status, created_at, runner_pid)
                     VALUES ('box', 'state', '', '', 'running', 't', 4242);
                     INSERT INTO offsite_runs (id, target, kind, status, created_at, runner_pid)
                     VALUES (1, 'box', 'check', 'running', 't', 4242), (2, 'box', 'forget', 'queued', 't', NULL);",
                )?;
                assert_eq!(settle_old_host(c, "rebuilt")?, 4);
                let runs: Vec<(String, Option<i64>)> = c
                    .prepare("SELECT status, runner_pid FROM offsite_runs ORDER BY id")?
                    .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect::<Result<_, _>>()?;
                assert_eq!(runs, [("failed".into(), None), ("queued".into(), None)]);
                let status = |id: i64| -> String {
                    c.query_row("SELECT status FROM backups WHERE id = ?1", [id], |r| r.get(0))
                        .unwrap()
                };
                assert_eq!((status(1), status(2)), ("failed".into(), "queued".into()));
                let copy: (String, Option<i64>) = c.query_row(
                    "SELECT status, runner_pid FROM offsite_copies",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?;
                assert_eq!(copy, ("failed".into(), None));
                assert_eq!(archived(c)?, vec![(3, "a/main/x.tar.zst".into())]);
                assert_eq!(mark_lost(c, &[3], "lost")?, 1);
                assert_eq!(mark_lost(c, &[3], "lost")?, 0, "marked once");
                let b = crate::store::backups::get(c, 3)?;
                assert_eq!(b.verify_state, Some(BackupStatus::Failed));
                assert_eq!(b.verify_message, "lost");
                Ok(())
            })
            .unwrap();
    }
}
