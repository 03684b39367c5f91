//! The deletion worker: finishes confirmed deletes (jobs in the store) once
//! the reconciler has taken their containers, networks and routes down.
//! Order matters for crash safety: measure the files (recorded in the
//! job) → data → backups → rows, report (row and file) and "done" in one
//! transaction (`erasure.rs`). A kill at any step leaves the job unfinished
//! and its rows in place, so the next pass after a restart runs it again.

use std::path::{Path, PathBuf};

use super::erasure::{BackupFiles, Removed};
use crate::config::Config;
use crate::domain::{Phase, RemovedInstance};
use crate::store::{deletions, instances, llm, DeletionRow, InstanceRow, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum DeletionError {
    /// The store is busy or gone: try again next pass.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A file could not be removed or written: the job fails with this.
    #[error("{0}")]
    Io(String),
}

/// Finishes every unfinished deletion whose containers are gone; the rest
/// wait for a later pass. Runs after each reconcile pass, which is what
/// takes the containers down.
pub async fn finish_ready(store: &Store, config: &Config) {
    let jobs = match store.call(|conn| deletions::unfinished(conn)).await {
        Ok(jobs) => jobs,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read deletion jobs");
            return;
        }
    };
    for job in jobs {
        match finish(store, config, &job).await {
            Ok(false) => {}
            Ok(true) => {
                tracing::info!(deletion = job.id, client = %job.client_slug, "deletion done")
            }
            Err(DeletionError::Store(e)) => {
                tracing::warn!(deletion = job.id, error = %e, "deletion interrupted; retrying next pass")
            }
            Err(DeletionError::Io(message)) => {
                tracing::error!(deletion = job.id, error = %message, "deletion failed");
                let id = job.id;
                if let Err(e) = store
                    .call(move |conn| deletions::set_failed(conn, id, &message))
                    .await
                {
                    tracing::warn!(deletion = id, error = %e, "cannot record the failure");
                }
            }
        }
    }
}

/// Returns false while a container of the job is still there.
async fn finish(store: &Store, config: &Config, job: &DeletionRow) -> Result<bool, DeletionError> {
    let ids = job.instance_ids.clone();
    let rows = store.call(move |conn| present(conn, &ids)).await?;
    if rows.iter().any(|r| r.phase != Phase::Removed) {
        return Ok(false);
    }
    // The client's LLM keys go at the provider first (the key worker does
    // that): once its rows are gone nothing would remember them.
    let llm_keys = if job.whole_client {
        let client_id = job.client_id;
        let keys = store
            .call(move |c| {
                Ok((
                    llm::deleted_labels(c, client_id)?,
                    llm::undeleted_labels(c, client_id)?,
                ))
            })
            .await?;
        if !keys.1.is_empty() && config.llm.enabled() {
            return Ok(false);
        }
        keys
    } else {
        Default::default()
    };
    let id = job.id;
    store
        .call(move |conn| deletions::set_running(conn, id))
        .await?;
    crate::testhook::pause_at("delete-data").await;
    let dirs = Dirs::of(config, job, &rows);
    let removed = match job.measured.clone().map(serde_json::from_value::<Removed>) {
        Some(Ok(measured)) => measured,
        _ => {
            let measured = measure(&dirs, &rows).await?;
            let value =
                serde_json::to_value(&measured).map_err(|e| DeletionError::Io(e.to_string()))?;
            store
                .call(move |conn| deletions::set_measured(conn, id, &value))
                .await?;
            measured
        }
    };
    // The offsite mirrors are copies of the data too (not measured again).
    let mirrors = rows.iter().map(|r| config.instance_mirror_dir(r.id));
    for dir in dirs.data.into_iter().chain(dirs.backups).chain(mirrors) {
        remove_tree(dir).await?;
    }
    if job.whole_client {
        let client_dir = config.instances_dir().join(&job.client_slug);
        let _ = tokio::fs::remove_dir(&client_dir).await;
    }
    crate::testhook::pause_at("delete-rows").await;
    super::erasure::commit(store, config, job, removed, llm_keys)
        .await
        .map_err(|e| match e {
            StoreError::Invalid(m) => DeletionError::Io(m),
            other => DeletionError::Store(other),
        })?;
    Ok(true)
}

/// The directories a job removes: each instance's data, and the whole
/// client's backup directory or only the removed instances'.
struct Dirs {
    data: Vec<PathBuf>,
    backups: Vec<PathBuf>,
}

impl Dirs {
    fn of(config: &Config, job: &DeletionRow, rows: &[InstanceRow]) -> Self {
        let backups_root = config.backup_dir().join(&job.client_slug);
        Self {
            data: rows
                .iter()
                .map(|r| config.instance_data_dir(&r.client_slug, &r.name))
                .collect(),
            backups: if job.whole_client {
                vec![backups_root]
            } else {
                rows.iter().map(|r| backups_root.join(&r.name)).collect()
            },
        }
    }
}

/// Counts what the directories hold without following a link (tenant
/// trees are hostile).
async fn measure(dirs: &Dirs, rows: &[InstanceRow]) -> Result<Removed, DeletionError> {
    let (data, backups) = (dirs.data.clone(), dirs.backups.clone());
    let named: Vec<(i64, String)> = rows.iter().map(|r| (r.id, r.name.clone())).collect();
    tokio::task::spawn_blocking(move || {
        let mut instances: Vec<RemovedInstance> = named
            .into_iter()
            .zip(data)
            .map(|((id, name), dir)| {
                let (data_bytes, data_files) = if std::fs::symlink_metadata(&dir).is_ok() {
                    crate::fsutil::dir_usage(&dir)
                } else {
                    (0, 0)
                };
                RemovedInstance {
                    id,
                    name,
                    data_bytes,
                    data_files,
                }
            })
            .collect();
        instances.sort_by_key(|i| i.id);
        let mut backup_files = BackupFiles::default();
        for dir in &backups {
            count_files(dir, &mut backup_files);
        }
        Removed {
            instances,
            backup_files,
        }
    })
    .await
    .map_err(|e| DeletionError::Io(e.to_string()))
}

/// The job's instances that still have rows (another job may have finished
/// one of them already).
fn present(conn: &rusqlite::Connection, ids: &[i64]) -> Result<Vec<InstanceRow>, StoreError> {
    let mut rows = Vec::new();
    for id in ids {
        match instances::get(conn, *id) {
            Ok(row) => rows.push(row),
            Err(StoreError::NotFound(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(rows)
}

/// Removes a tenant's directory tree. The tree is hostile: links in it
/// are removed, never followed, and the error names the entry that could
/// not go (a root-owned file when berth lacks the unit's capabilities, say).
async fn remove_tree(dir: PathBuf) -> Result<(), DeletionError> {
    tokio::task::spawn_blocking(move || {
        crate::fsutil::remove_tree(&dir).map_err(|e| DeletionError::Io(format!("removing {e}")))
    })
    .await
    .map_err(|e| DeletionError::Io(e.to_string()))?
}

/// Counts files without following links (a backup dir holds only berth's
/// own files, but a link there must not make the report count its target).
fn count_files(dir: &Path, out: &mut BackupFiles) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.is_dir() {
            count_files(&path, out);
            continue;
        }
        let slot = if path.extension().is_some_and(|e| e == "json") {
            &mut out.manifests
        } else {
            &mut out.archives
        };
        slot.0 += 1;
        slot.1 += meta.len();
    }
}
