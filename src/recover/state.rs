//! Step 1: berth's state back from its newest `berth-state` snapshot (or
//! the one asked for): the database into the data dir, the LLM sealer key
//! to `[llm] secret_file`, the managed Caddy's certificates, and the old
//! config file to `<data_dir>/recovered/berth.toml` beside, never over, the
//! operator's own. Blocking (restic runs here).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::offsite::state::{self as staged, caddy_storage};
use crate::offsite::{Restic, Snapshot};

/// What came back, for the report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateRestored {
    pub snapshot_id: String,
    pub snapshot_time: String,
    /// Where the old config file was written, if the snapshot had one.
    pub old_config: Option<PathBuf>,
    /// Whether it differs from the config this run uses (None: nothing to compare).
    pub config_differs: Option<bool>,
    pub sealer_key: bool,
    pub caddy_certificates: bool,
}

/// The state snapshot to restore: `want` (id or short id), else the newest.
pub fn choose(restic: &Restic, want: Option<&str>) -> Result<Snapshot, String> {
    let mut all = restic.snapshots(Some("berth-state"))?;
    all.sort_by(|a, b| a.time.cmp(&b.time));
    match want {
        Some(w) => all
            .into_iter()
            .find(|s| s.id == w || s.short_id == w)
            .ok_or_else(|| format!("no berth-state snapshot {w} on this target")),
        None => all.pop().ok_or_else(|| {
            "the target has no berth-state snapshot (berth copies its state with every round \
             of copies, or `berth offsite copy TARGET --state`)"
                .to_owned()
        }),
    }
}

/// Restores `snapshot` into a scratch dir under `<data_dir>/recovered`,
/// checks the database, places key, certificates and old config, and only
/// then moves the database into place: its presence means step 1 is done.
pub fn restore(
    restic: &Restic,
    config: &Config,
    snapshot: &Snapshot,
) -> Result<StateRestored, String> {
    let recovered = super::journal::dir(&config.data_dir);
    let scratch = recovered.join(format!(".state-{}", snapshot.short_id));
    crate::fsutil::remove_tree(&scratch).map_err(|e| e.to_string())?;
    std::fs::create_dir_all(&scratch)
        .map_err(|e| format!("creating {}: {e}", scratch.display()))?;
    secure(&recovered)?;
    let target = scratch.display().to_string();
    restic.run(&["restore", &snapshot.id, "--target", &target])?;
    let path = snapshot
        .paths
        .first()
        .ok_or_else(|| format!("snapshot {} names no directory", snapshot.short_id))?;
    let src = scratch.join(path.trim_start_matches('/'));
    let result =
        place(config, &src, &recovered).map(|(old_config, differs, key, caddy)| StateRestored {
            snapshot_id: snapshot.id.clone(),
            snapshot_time: snapshot.time.clone(),
            old_config,
            config_differs: differs,
            sealer_key: key,
            caddy_certificates: caddy,
        });
    // The scratch copy holds the database and the key: never left behind.
    if let Err(e) = crate::fsutil::remove_tree(&scratch) {
        tracing::warn!(error = %e, "cannot remove the restored state's scratch copy");
    }
    result
}

type Placed = (Option<PathBuf>, Option<bool>, bool, bool);

fn place(config: &Config, src: &Path, recovered: &Path) -> Result<Placed, String> {
    let db = src.join(staged::DB);
    if !db.is_file() {
        return Err(format!(
            "the snapshot holds no {} (not a berth state copy)",
            staged::DB
        ));
    }
    integrity_check(&db)?;

    let (mut old_config, mut differs) = (None, None);
    let toml = src.join(staged::CONFIG);
    if toml.is_file() {
        let to = recovered.join(staged::CONFIG);
        std::fs::copy(&toml, &to).map_err(|e| format!("writing {}: {e}", to.display()))?;
        differs = config
            .source_file
            .as_ref()
            .map(|running| std::fs::read(running).ok() != std::fs::read(&to).ok());
        old_config = Some(to);
    }

    let key = src.join(staged::SEALER_KEY);
    let has_key = key.is_file();
    if has_key {
        put_key(&key, &config.llm.secret_file(&config.data_dir))?;
    }

    let certs = src.join(staged::CADDY_DATA);
    let caddy = caddy_storage(config);
    let has_certs = certs.is_dir() && !caddy.exists();
    if has_certs {
        staged::copy_tree(&certs, &caddy, &[])
            .map_err(|e| format!("writing {}: {e}", caddy.display()))?;
    }

    // Last: the database in place is what says the state is back.
    let to = config.db_path();
    std::fs::rename(&db, &to)
        .map_err(|e| format!("moving the database to {}: {e}", to.display()))?;
    Ok((old_config, differs, has_key, has_certs))
}

/// The key the database's sealed values need. One already there (a rerun,
/// or the operator put it back by hand) must be the same key.
fn put_key(from: &Path, to: &Path) -> Result<(), String> {
    let key = std::fs::read(from).map_err(|e| format!("reading the key: {e}"))?;
    match std::fs::read(to) {
        Ok(existing) if existing == key => return Ok(()),
        Ok(_) => {
            return Err(format!(
                "{} exists and is not the key the recovered database was sealed with; \
                 move it away and run recover again",
                to.display()
            ))
        }
        Err(_) => {}
    }
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        secure(dir)?;
    }
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)
        .map_err(|e| format!("writing {}: {e}", to.display()))?;
    f.write_all(&key)
        .and_then(|()| f.sync_all())
        .map_err(|e| format!("writing {}: {e}", to.display()))
}

fn secure(dir: &Path) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| format!("securing {}: {e}", dir.display()))
}

fn integrity_check(db: &Path) -> Result<(), String> {
    let bad = |e: String| format!("the recovered database is damaged: {e}");
    let conn = rusqlite::Connection::open(db).map_err(|e| bad(e.to_string()))?;
    let result: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .map_err(|e| bad(e.to_string()))?;
    if result == "ok" {
        Ok(())
    } else {
        Err(bad(result))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_different_key_already_there_is_refused_the_same_one_kept() {
        let dir = tempfile::tempdir().unwrap();
        let from = dir.path().join("from");
        std::fs::write(&from, "a".repeat(64)).unwrap();
        let to = dir.path().join("secrets/llm.key");
        put_key(&from, &to).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&to).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        put_key(&from, &to).unwrap();
        std::fs::write(&from, "b".repeat(64)).unwrap();
        assert!(put_key(&from, &to).unwrap_err().contains("not the key"));
    }
}
