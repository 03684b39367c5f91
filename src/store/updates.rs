//! Update checks (what each image reference resolved to at the last check)
//! and the registry digests of image IDs.

use rusqlite::{params, Connection, OptionalExtension};

use super::{now, StoreError};

/// The last check of one image reference of one blueprint.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckRow {
    pub blueprint: String,
    /// The full reference pulled, `repo:tag`.
    pub image: String,
    /// A tag named for the check rather than one an instance runs on.
    pub named: bool,
    pub image_id: Option<String>,
    pub digest: Option<String>,
    pub error: Option<String>,
    pub checked_at: String,
}

/// What one pull of a check found: an image ID and digest, or an error.
pub struct CheckResult<'a> {
    pub blueprint: &'a str,
    pub image: &'a str,
    pub named: bool,
    pub found: Result<(&'a str, Option<&'a str>), &'a str>,
}

/// Records one check. A failed check keeps the ID and digest the previous
/// one found, so an outage does not hide which instances are behind.
pub fn record(conn: &Connection, r: &CheckResult) -> Result<(), StoreError> {
    let (id, digest, error) = match r.found {
        Ok((id, digest)) => (Some(id), digest, None),
        Err(e) => (None, None, Some(e)),
    };
    conn.execute(
        "INSERT INTO update_checks (blueprint, image, named, image_id, digest, error, checked_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (blueprint, image) DO UPDATE SET
             named = MIN(named, excluded.named),
             image_id = COALESCE(excluded.image_id, image_id),
             digest = CASE WHEN excluded.image_id IS NULL THEN digest ELSE excluded.digest END,
             error = excluded.error,
             checked_at = excluded.checked_at",
        params![r.blueprint, r.image, r.named, id, digest, error, now()],
    )?;
    if let (Some(id), Some(digest)) = (id, digest) {
        record_digest(conn, id, digest)?;
    }
    Ok(())
}

/// Forgets `blueprint`'s checks of references no instance or the
/// blueprint itself uses any more (a pin removed), keeping named tags.
pub fn forget_unused(
    conn: &Connection,
    blueprint: &str,
    used: &[String],
) -> Result<usize, StoreError> {
    let mut stmt =
        conn.prepare_cached("SELECT image FROM update_checks WHERE blueprint = ?1 AND named = 0")?;
    let stale: Vec<String> = stmt
        .query_map([blueprint], |r| r.get(0))?
        .collect::<Result<Vec<String>, _>>()?
        .into_iter()
        .filter(|i| !used.contains(i))
        .collect();
    for image in &stale {
        conn.execute(
            "DELETE FROM update_checks WHERE blueprint = ?1 AND image = ?2",
            params![blueprint, image],
        )?;
    }
    Ok(stale.len())
}

pub fn list(conn: &Connection) -> Result<Vec<CheckRow>, StoreError> {
    let mut stmt = conn.prepare(
        "SELECT blueprint, image, named, image_id, digest, error, checked_at
         FROM update_checks ORDER BY blueprint, named, image",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok(CheckRow {
            blueprint: r.get(0)?,
            image: r.get(1)?,
            named: r.get(2)?,
            image_id: r.get(3)?,
            digest: r.get(4)?,
            error: r.get(5)?,
            checked_at: r.get(6)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Remembers the repo digest of an image ID (an ID's digest never changes).
pub fn record_digest(conn: &Connection, image_id: &str, digest: &str) -> Result<(), StoreError> {
    conn.execute(
        "INSERT INTO image_digests (image_id, digest, recorded_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (image_id) DO UPDATE SET digest = excluded.digest",
        params![image_id, digest, now()],
    )?;
    Ok(())
}

pub fn digest_of(conn: &Connection, image_id: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row(
            "SELECT digest FROM image_digests WHERE image_id = ?1",
            [image_id],
            |r| r.get(0),
        )
        .optional()?)
}

/// Image IDs among `ids` with no digest recorded.
pub fn without_digest(conn: &Connection, ids: &[String]) -> Result<Vec<String>, StoreError> {
    let mut stmt = conn.prepare_cached("SELECT 1 FROM image_digests WHERE image_id = ?1")?;
    let mut missing = Vec::new();
    for id in ids {
        if !stmt.exists([id])? {
            missing.push(id.clone());
        }
    }
    Ok(missing)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn conn() -> Connection {
        let mut c = Connection::open_in_memory().unwrap();
        super::super::migrations::run(&mut c).unwrap();
        c
    }

    #[test]
    fn a_failed_check_keeps_the_last_id_and_names_the_error() {
        let c = conn();
        let ok = CheckResult {
            blueprint: "web",
            image: "r/x:1",
            named: false,
            found: Ok(("sha256:a", Some("r/x@sha256:d"))),
        };
        record(&c, &ok).unwrap();
        let failed = CheckResult {
            found: Err("registry down"),
            ..ok
        };
        record(&c, &failed).unwrap();
        let rows = list(&c).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].image_id.as_deref(), Some("sha256:a"));
        assert_eq!(rows[0].digest.as_deref(), Some("r/x@sha256:d"));
        assert_eq!(rows[0].error.as_deref(), Some("registry down"));
        assert_eq!(
            digest_of(&c, "sha256:a").unwrap().as_deref(),
            Some("r/x@sha256:d")
        );
        assert_eq!(
            without_digest(&c, &["sha256:a".into(), "sha256:b".into()]).unwrap(),
            vec!["sha256:b".to_owned()]
        );
        // A pin no longer used is forgotten; a named tag stays.
        let named = CheckResult {
            image: "r/x:9",
            named: true,
            ..ok
        };
        record(&c, &named).unwrap();
        assert_eq!(forget_unused(&c, "web", &["r/x:2".into()]).unwrap(), 1);
        let left: Vec<String> = list(&c).unwrap().into_iter().map(|r| r.image).collect();
        assert_eq!(left, vec!["r/x:9".to_owned()]);
    }
}
