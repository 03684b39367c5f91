//! The rows a confirmed delete takes: an instance's own rows, and for a
//! whole client (a GDPR erasure) everything else that names it. Each step
//! returns what it touched as a report [`Category`], counted by the very
//! statement that deleted or rewrote the rows, so the report cannot
//! disagree with what was there.
//!
//! What is erased and what is pseudonymised, and why, is docs/gdpr.md.

use rusqlite::{params, Connection};

use super::{deletions, StoreError};
use crate::domain::{erased_label, Category, DeletionReport};

/// Deletes these instances' rows: domains, backup and restore records,
/// holds and quota warnings go with them (foreign keys) and are counted
/// first, so the report says so.
pub fn remove_instances(conn: &Connection, ids: &[i64]) -> Result<Vec<Category>, StoreError> {
    let ids_json = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
    let count = |sql: &str| -> Result<u64, StoreError> {
        Ok(conn.query_row(sql, [&ids_json], |r| r.get::<_, i64>(0))? as u64)
    };
    let domains = count(
        "SELECT COUNT(*) FROM domains WHERE instance_id IN (SELECT value FROM json_each(?1))",
    )?;
    let restores = count("SELECT COUNT(*) FROM restores WHERE instance_id IN (SELECT value FROM json_each(?1))
        OR backup_id IN (SELECT id FROM backups WHERE instance_id IN (SELECT value FROM json_each(?1)))")?;
    let backups = count(
        "SELECT COUNT(*) FROM backups WHERE instance_id IN (SELECT value FROM json_each(?1))",
    )?;
    let warnings = count("SELECT COUNT(*) FROM quota_warnings WHERE instance_id IN (SELECT value FROM json_each(?1))")?;
    let removed = conn.execute(
        "DELETE FROM instances WHERE id IN (SELECT value FROM json_each(?1))",
        [&ids_json],
    )? as u64;
    Ok(vec![
        Category::erased("instances", removed),
        Category::erased("domains", domains),
        Category::erased("backup records", backups),
        Category::erased("restore records", restores),
        Category::erased("quota warnings", warnings),
    ])
}

/// Who is erased: the client's id and slug, and the deletion doing it.
pub struct Subject<'a> {
    pub deletion_id: i64,
    pub client_id: i64,
    pub slug: &'a str,
}

/// Every other row about the client, after [`remove_instances`]: backup
/// records left by imported manifests, the usage history of every
/// instance it ever had, its portal users with their links and failed
/// sign-ins, and the client row itself are deleted; audit entries are
/// pseudonymised.
pub fn erase_client(conn: &Connection, s: &Subject) -> Result<Vec<Category>, StoreError> {
    let mut out = Vec::new();
    // Imported manifests have no instance; their records name the client.
    let restores = conn.execute(
        "DELETE FROM restores WHERE backup_id IN (SELECT id FROM backups WHERE client_slug = ?1)",
        [s.slug],
    )?;
    let backups = conn.execute("DELETE FROM backups WHERE client_slug = ?1", [s.slug])?;
    out.push(Category::erased("imported backup records", backups as u64));
    out.push(Category::erased(
        "restore records of imported backups",
        restores as u64,
    ));
    out.extend(erase_usage(conn, s.client_id)?);
    out.extend(erase_users(conn, s.client_id)?);
    out.extend(erase_llm(conn, s)?);
    let requests = conn.execute(
        "DELETE FROM instance_requests WHERE client_id = ?1",
        [s.client_id],
    )?;
    out.push(Category::erased("instance requests", requests as u64));
    let clients = conn.execute("DELETE FROM clients WHERE id = ?1", [s.client_id])?;
    out.push(Category::erased("client profile", clients as u64));
    out.push(Category::pseudonymised(
        "audit entries",
        pseudonymise_audit(conn, s)? as u64,
    ));
    Ok(out)
}

/// The client's LLM key rows (the keys themselves are gone at the provider
/// by now) and their spend series, which names the client by slug.
fn erase_llm(conn: &Connection, s: &Subject) -> Result<Vec<Category>, StoreError> {
    let spend = conn.execute("DELETE FROM llm_spend WHERE client_slug = ?1", [s.slug])?;
    conn.execute(
        "DELETE FROM llm_budget_overrides WHERE client_id = ?1",
        [s.client_id],
    )?;
    let keys = conn.execute("DELETE FROM llm_keys WHERE client_id = ?1", [s.client_id])?;
    Ok(vec![
        Category::erased("LLM key records", keys as u64),
        Category::erased("LLM spend samples", spend as u64),
    ])
}

/// The client's portal users, their one-time links and the failed sign-ins
/// counted against their addresses. Portal sessions hold only a user id,
/// so they end with the user (the next request finds no one).
fn erase_users(conn: &Connection, client_id: i64) -> Result<Vec<Category>, StoreError> {
    let failures = conn.execute(
        "DELETE FROM login_failures WHERE account IN
            (SELECT 'portal:' || lower(email) FROM client_users WHERE client_id = ?1)",
        [client_id],
    )?;
    let links = conn.execute(
        "DELETE FROM client_user_tokens WHERE user_id IN
            (SELECT id FROM client_users WHERE client_id = ?1)",
        [client_id],
    )?;
    let users = conn.execute("DELETE FROM client_users WHERE client_id = ?1", [client_id])?;
    Ok(vec![
        Category::erased("client users", users as u64),
        Category::erased("invitation and reset links", links as u64),
        Category::erased("failed portal sign-ins", failures as u64),
    ])
}

/// The usage history of every instance the client ever had, the removed
/// ones' included (their history stayed for billing while the client did).
fn erase_usage(conn: &Connection, client_id: i64) -> Result<Vec<Category>, StoreError> {
    let ids: Vec<i64> = {
        let mut stmt =
            conn.prepare("SELECT instance_id FROM metric_subjects WHERE client_id = ?1")?;
        let ids = stmt
            .query_map([client_id], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        ids
    };
    let ids_json = serde_json::to_string(&ids).unwrap_or_else(|_| "[]".into());
    let mut out = Vec::new();
    for (table, name) in [
        ("samples_raw", "raw usage samples"),
        ("rollup_5m", "5-minute usage rollups"),
        ("rollup_1h", "hourly usage rollups"),
        ("disk_usage", "disk usage records"),
        ("metric_subjects", "usage subjects"),
    ] {
        let n = conn.execute(
            &format!("DELETE FROM {table} WHERE instance_id IN (SELECT value FROM json_each(?1))"),
            [&ids_json],
        )?;
        out.push(Category::erased(name, n as u64));
    }
    Ok(out)
}

/// Audit entries about the client keep when and what and which of the
/// provider's people did it, so the log still proves that things happened
/// (the erasure among them); every name of the client goes: its slug, the
/// target, the details, and a client user's identity and IP. Entries of
/// other clients that mention it (a restore cloned from it) lose their
/// details. Returns how many entries changed.
fn pseudonymise_audit(conn: &Connection, s: &Subject) -> Result<usize, StoreError> {
    let label = erased_label(s.deletion_id);
    let details = serde_json::json!({ "erased_by_deletion": s.deletion_id }).to_string();
    let client_actor = format!("client:{}:%", s.slug);
    let own = conn.execute(
        "UPDATE audit_log SET client_slug = ?1, target = ?1, details = ?2,
            actor = CASE WHEN actor LIKE ?4 THEN 'client-user:' || ?1 ELSE actor END,
            ip = CASE WHEN actor LIKE ?4 THEN NULL ELSE ip END
         WHERE client_slug = ?3 OR actor LIKE ?4",
        params![label, details, s.slug, client_actor],
    )?;
    let mentioned = conn.execute(
        "UPDATE audit_log SET details = ?2,
            target = CASE WHEN target = ?3 OR target LIKE ?3 || '/%' THEN ?1 ELSE target END
         WHERE client_slug IS NOT ?1
           AND (target = ?3 OR target LIKE ?3 || '/%'
                OR details LIKE '%\"' || ?3 || '\"%' OR details LIKE '%\"' || ?3 || '/%')",
        params![label, details, s.slug],
    )?;
    Ok(own + mentioned)
}

/// Rewrites every deletion record of the client (earlier instance removals
/// and this erasure) to its pseudonym, its report kept at `report_file(id)`;
/// returns the reports that changed with the file each was kept in before,
/// so the files can follow.
pub fn pseudonymise_deletions(
    conn: &Connection,
    s: &Subject,
    report_file: impl Fn(i64) -> String,
) -> Result<Vec<(String, DeletionReport)>, StoreError> {
    let label = erased_label(s.deletion_id);
    let mut rewritten = Vec::new();
    for job in deletions::for_client(conn, s.client_id)? {
        let report = job.report.map(|r| {
            let before = r.report_file.clone();
            let mut r = r.pseudonymised(s.deletion_id);
            r.report_file = report_file(job.id);
            (before, r)
        });
        deletions::rename_client(conn, job.id, &label, report.as_ref().map(|(_, r)| r))?;
        rewritten.extend(report);
    }
    Ok(rewritten)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::{self, Actor};
    use crate::store::Store;

    #[test]
    fn audit_entries_about_the_client_lose_its_names_and_others_stay() {
        let store = Store::open_in_memory().unwrap();
        store
            .call_blocking(|conn| {
                let user = Actor {
                    name: "client:acme:boss@acme.example".into(),
                    ip: Some("192.0.2.7".into()),
                };
                let admin = Actor::user("admin", Some("198.51.100.1".into()));
                audit::record(conn, &user, "instance.restart", "acme/main", Some("acme"), serde_json::json!({"by": "boss@acme.example"}))?;
                audit::record(conn, &admin, "backup.restore", "other/main", Some("other"), serde_json::json!({"from": "acme/main"}))?;
                audit::record(conn, &admin, "client.create", "other", Some("other"), serde_json::json!({"name": "Other"}))?;
                let n = pseudonymise_audit(conn, &Subject { deletion_id: 5, client_id: 1, slug: "acme" })?;
                assert_eq!(n, 2);
                let rows: Vec<String> = conn
                    .prepare("SELECT actor || '|' || target || '|' || IFNULL(client_slug, '') || '|' || details || '|' || IFNULL(ip, '') FROM audit_log ORDER BY id")?
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                assert_eq!(rows[0], "client-user:erased:5|erased:5|erased:5|{\"erased_by_deletion\":5}|");
                assert_eq!(rows[1], "user:admin|other/main|other|{\"erased_by_deletion\":5}|198.51.100.1");
                assert!(rows[2].contains("\"name\":\"Other\""), "{}", rows[2]);
                Ok(())
            })
            .unwrap();
    }
}
