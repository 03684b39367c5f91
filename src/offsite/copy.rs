//! One copy to a restic repository, blocking (run through `spawn_blocking`).
//!
//! An instance goes offsite as its mirror (`backup::mirror`): the newest
//! backup as a plain directory plus an index of owners, modes and links,
//! which the backup that wrote the archive kept up to date. restic backs
//! up a directory by skipping every file whose metadata is unchanged since
//! its last snapshot, so a day's copy reads what changed that day, not the
//! whole instance (docs/offsite.md has the figures). The copy never
//! touches the tenant: the mirror was made from the consistent backup.
//!
//! When the mirror is not that backup (none yet, a backup ran while a copy
//! held it, an update failed), it is rebuilt from the verified archive
//! first. The index's byte count is set as the snapshot's `dir-bytes` tag;
//! a copy fails (its snapshot forgotten) when restic read a different
//! amount, and a restore refuses a snapshot whose content differs from it.

use std::io::Read;
use std::path::{Path, PathBuf};

use super::restic::{exit_error, follow_backup, Restic};
use crate::backup::archive;
use crate::backup::mirror::Mirror;
use crate::store::offsite::CopyDone;

/// An instance's verified local backup, as the copy needs it.
pub struct InstanceSource {
    pub archive: PathBuf,
    pub sha256: String,
    pub client: String,
    pub instance: String,
    pub backup_id: i64,
    pub mirror: Mirror,
}

/// Copies one instance's backup; `progress` gets bytes restic has read.
pub fn copy_instance(
    restic: &Restic,
    src: &InstanceSource,
    progress: impl FnMut(u64),
) -> Result<CopyDone, String> {
    let locked = src
        .mirror
        .lock(true)
        .map_err(|e| format!("locking the mirror: {e}"))?
        .ok_or("the mirror is locked")?;
    let index = match locked.index() {
        Some(index) if index.backup_id == src.backup_id => index,
        _ => {
            let sha = archive::file_sha256(&src.archive)
                .map_err(|e| format!("reading {}: {e}", src.archive.display()))?;
            if sha != src.sha256 {
                return Err(format!(
                    "{} is damaged (sha256 mismatch); nothing was copied",
                    src.archive.display()
                ));
            }
            locked
                .rebuild(&src.archive, src.backup_id)
                .map_err(|e| format!("unpacking the archive for the copy: {e}"))?
        }
    };
    let want = index.total_bytes();
    let tags = format!(
        "berth,client={},instance={},backup={},dir-bytes={want}",
        src.client, src.instance, src.backup_id
    );
    // restic finds its parent snapshot by path: always the same absolute one.
    let dir = std::path::absolute(src.mirror.dir())
        .map_err(|e| format!("{}: {e}", src.mirror.dir().display()))?;
    let dir = dir.display().to_string();
    let done = run_backup(
        restic,
        &["backup", "--json", "--tag", &tags, &dir],
        progress,
    )?;
    if done.bytes_processed != want {
        let _ = restic.run(&["forget", &done.snapshot_id]);
        // Something changed the tree behind the index: rebuild it next time.
        locked.invalidate();
        return Err(format!(
            "restic read {} bytes of a {want}-byte mirror; its snapshot was forgotten",
            done.bytes_processed
        ));
    }
    Ok(done)
}

/// Copies berth's own state: a directory holding a consistent copy of the
/// database and the config file, tagged `berth-state`.
pub fn copy_state(
    restic: &Restic,
    dir: &Path,
    progress: impl FnMut(u64),
) -> Result<CopyDone, String> {
    let dir = dir.display().to_string();
    run_backup(
        restic,
        &["backup", "--json", "--tag", "berth,berth-state", &dir],
        progress,
    )
}

/// Runs `restic backup --json` to its end; its snapshot, or why not.
fn run_backup(
    restic: &Restic,
    args: &[&str],
    progress: impl FnMut(u64),
) -> Result<CopyDone, String> {
    let mut child = restic
        .command(args)
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", restic.bin.display()))?;
    let stdout = child.stdout.take().expect("piped");
    let mut stderr = child.stderr.take().expect("piped");
    let errors = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let summary = follow_backup(stdout, progress);
    let status = child
        .wait()
        .map_err(|e| format!("waiting for restic: {e}"))?;
    let stderr = errors.join().unwrap_or_default();
    let summary = summary.map_err(|e| format!("reading restic's output: {e}"))?;
    if !status.success() {
        // Exit 3 still wrote a snapshot; it is not a complete copy.
        if let (Some(3), Some((id, _, _))) = (status.code(), &summary) {
            let _ = restic.run(&["forget", id]);
        }
        return Err(exit_error(status.code(), &stderr));
    }
    let (snapshot_id, bytes_added, bytes_processed) =
        summary.ok_or("restic finished without a summary line")?;
    Ok(CopyDone {
        snapshot_id,
        bytes_processed,
        bytes_added,
    })
}
