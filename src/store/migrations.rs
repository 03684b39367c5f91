use rusqlite::{Connection, OptionalExtension};
use rusqlite_migration::{Migrations, M};

use super::StoreError;

/// Append only: a shipped migration is never edited. One file per feature
/// area, numbered, so parallel work adds lines here rather than editing SQL.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/001_core.sql"),
    include_str!("migrations/002_backups.sql"),
    include_str!("migrations/003_accounts.sql"),
    include_str!("migrations/004_metrics.sql"),
    include_str!("migrations/005_ids_never_reused.sql"),
    include_str!("migrations/006_deletions.sql"),
    include_str!("migrations/007_client_users.sql"),
    include_str!("migrations/008_requests.sql"),
    include_str!("migrations/009_deletion_measure.sql"),
    include_str!("migrations/010_instance_networks.sql"),
    include_str!("migrations/011_llm_keys.sql"),
    include_str!("migrations/012_llm_inject.sql"),
    include_str!("migrations/013_llm_warnings.sql"),
    // 014 and 015 were never shipped (numbers of branches that did not land).
    include_str!("migrations/016_image_versions.sql"),
    include_str!("migrations/017_rollouts.sql"),
    include_str!("migrations/018_update_checks.sql"),
    // 019 was never shipped.
    include_str!("migrations/020_offsite.sql"),
    include_str!("migrations/021_offsite_runs.sql"),
    include_str!("migrations/022_offsite_restore_clone.sql"),
];

/// Foreign keys are off while migrating: rebuilding a table (the only way to
/// change a column or add AUTOINCREMENT in SQLite) drops it, and with them
/// on that drop would cascade-delete every row referring to it. They are
/// checked once all migrations ran.
pub fn run(conn: &mut Connection) -> Result<(), StoreError> {
    let migrations = Migrations::new(MIGRATIONS.iter().map(|sql| M::up(sql)).collect());
    let version =
        |c: &Connection| c.pragma_query_value(None, "user_version", |r| r.get::<_, i64>(0));
    let before = version(conn)?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    let migrated = migrations.to_latest(conn);
    let broken: rusqlite::Result<Option<String>> = if version(conn)? != before {
        conn.query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
            .optional()
    } else {
        Ok(None)
    };
    conn.pragma_update(None, "foreign_keys", "ON")?;
    migrated?;
    if let Some(table) = broken? {
        return Err(StoreError::Invalid(format!(
            "database migration left a broken reference in table {table}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        let migrations = rusqlite_migration::Migrations::new(
            super::MIGRATIONS
                .iter()
                .map(|s| rusqlite_migration::M::up(s))
                .collect(),
        );
        migrations.validate().unwrap();
    }

    /// A store made by the previous version, with references into both
    /// rebuilt tables and a deleted instance's history, keeps every row and
    /// never hands out a used id again.
    #[test]
    fn rebuild_keeps_rows_and_retires_used_ids() {
        use rusqlite::params;
        let mut conn = rusqlite::Connection::open_in_memory().unwrap();
        conn.pragma_update(None, "foreign_keys", "ON").unwrap();
        let first4 = rusqlite_migration::Migrations::new(
            super::MIGRATIONS[..4]
                .iter()
                .map(|s| rusqlite_migration::M::up(s))
                .collect(),
        );
        first4.to_latest(&mut conn).unwrap();
        conn.execute_batch(
            "INSERT INTO plans (id, name, cpus, memory, created_at) VALUES (1, 'p', 1, 1, 't');
             INSERT INTO clients (id, slug, name, email, plan_id, status, created_at)
                 VALUES (1, 'acme', 'Acme', 'a@b.c', 1, 'active', '2026-01-01T00:00:00Z');
             INSERT INTO instances (id, client_id, name, blueprint, image, host_port, desired, created_at)
                 VALUES (1, 1, 'main', 'b', 'i', 8001, 'running', 't');
             INSERT INTO domains (hostname, instance_id) VALUES ('acme.test', 1);
             INSERT INTO instance_holds (instance_id, reason, pid, since) VALUES (1, 'backup', 1, 't');
             INSERT INTO metric_subjects (instance_id, client_slug, instance_name) VALUES (1, 'acme', 'main'), (7, 'gone', 'main');",
        )
        .unwrap();
        super::run(&mut conn).unwrap();
        let count = |t: &str| -> i64 {
            conn.query_row(&format!("SELECT COUNT(*) FROM {t}"), [], |r| r.get(0))
                .unwrap()
        };
        for t in ["clients", "instances", "domains", "instance_holds"] {
            assert_eq!(count(t), 1, "{t}");
        }
        let subjects: Vec<(i64, Option<i64>)> = conn
            .prepare("SELECT instance_id, client_id FROM metric_subjects ORDER BY 1")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(subjects, vec![(1, Some(1)), (7, None)]);
        // Deleting the newest row and inserting again gives a new id, past
        // the deleted instance 7 whose history is kept.
        conn.execute("DELETE FROM clients WHERE id = 1", [])
            .unwrap();
        assert_eq!(count("domains"), 0, "foreign keys cascade again");
        conn.execute(
            "INSERT INTO clients (slug, name, email, plan_id, status, created_at) VALUES ('b', 'B', 'a@b.c', 1, 'active', 't')",
            [],
        )
        .unwrap();
        assert_eq!(conn.last_insert_rowid(), 2);
        conn.execute(
            "INSERT INTO instances (client_id, name, blueprint, image, host_port, desired, created_at)
             VALUES (2, 'main', 'b', 'i', 8001, 'running', 't')",
            params![],
        )
        .unwrap();
        assert_eq!(conn.last_insert_rowid(), 8);
    }
}
