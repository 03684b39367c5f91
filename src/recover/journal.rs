//! `<data_dir>/recovered/recover.json`: how far a recovery got, so a run
//! cut off (Ctrl-C, a lost connection, a reboot) continues where it
//! stopped instead of starting over or refusing. Written whole to a
//! temporary file and renamed, after each step that changed the disk.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// One instance's data, downloaded, verified and unpacked into place.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Restored {
    pub snapshot_id: String,
    pub snapshot_time: String,
    /// Bytes of data unpacked (the archive's source bytes).
    pub bytes: u64,
    pub files: u64,
    /// The local backup row of the downloaded archive.
    pub backup_id: i64,
    /// False between "unpacked beside the data dir" and "renamed into it":
    /// a run cut off there finds the rename done or not by looking.
    pub in_place: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Journal {
    pub target: String,
    /// Set once step 1 is done (the database in place).
    pub state: Option<super::state::StateRestored>,
    pub started_at: String,
    /// Set when a run ended with every instance restored and healthy.
    pub finished_at: Option<String>,
    /// The old host's jobs, pids and phases settled (once: a later run may
    /// find jobs of this host, which must be left alone).
    #[serde(default)]
    pub settled: bool,
    /// Backups whose archives were on the old host's disk, marked lost then.
    #[serde(default)]
    pub lost_archives: usize,
    pub instances: BTreeMap<i64, Restored>,
    /// Instances recover set to stopped because their data could not be
    /// restored (never serve a client an empty site as theirs), with the
    /// desired state to give back once a later run restores them.
    #[serde(default)]
    pub kept_stopped: BTreeMap<i64, String>,
}

pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("recovered")
}

pub fn path(data_dir: &Path) -> PathBuf {
    dir(data_dir).join("recover.json")
}

/// The journal, None when there is none; an unreadable one is an error
/// (it is berth's own file: something is wrong with the disk).
pub fn load(data_dir: &Path) -> Result<Option<Journal>, String> {
    let path = path(data_dir);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{} is unreadable: {e}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("reading {}: {e}", path.display())),
    }
}

pub fn save(data_dir: &Path, journal: &Journal) -> Result<(), String> {
    let path = path(data_dir);
    let tmp = path.with_extension("json.tmp");
    let bytes = serde_json::to_vec_pretty(journal).map_err(|e| e.to_string())?;
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(dir(data_dir))?;
        let mut f = std::fs::File::create(&tmp)?;
        std::io::Write::write_all(&mut f, &bytes)?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)
    };
    write().map_err(|e| format!("writing {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_journal_round_trips_and_none_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(load(dir.path()).unwrap(), None);
        let mut j = Journal {
            target: "box".into(),
            ..Journal::default()
        };
        j.instances.insert(
            7,
            Restored {
                snapshot_id: "abc".into(),
                snapshot_time: "t".into(),
                bytes: 10,
                files: 2,
                backup_id: 3,
                in_place: true,
            },
        );
        save(dir.path(), &j).unwrap();
        assert_eq!(load(dir.path()).unwrap(), Some(j));
        std::fs::write(path(dir.path()), "{").unwrap();
        assert!(load(dir.path()).unwrap_err().contains("unreadable"));
    }
}
