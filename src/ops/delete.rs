//! Confirmed deletion: the only path by which client data leaves the disk.
//! Order matters for crash safety: mark absent → the reconciler removes
//! containers, networks and routes → remove data → delete rows. A crash at
//! any step leaves the rows in place, so running the delete again finishes it.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;
use serde_json::json;

use super::{Ops, OpsError};
use crate::audit::{self, Actor};
use crate::domain::Phase;
use crate::store::{clients, instances, ClientRow, InstanceRow};

/// How long a delete waits for the reconciler to take containers down.
const REMOVAL_DEADLINE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Serialize)]
pub struct DeletionReport {
    pub client: String,
    pub client_name: String,
    /// True when the client itself was deleted, false when one instance was.
    pub client_deleted: bool,
    pub instances: Vec<RemovedInstance>,
    pub backups_removed: Vec<String>,
    pub deleted_at: String,
    pub deleted_by: String,
    pub report_file: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct RemovedInstance {
    pub id: i64,
    pub name: String,
    pub container: String,
    pub network: String,
    pub domains: Vec<String>,
    pub host_port: u16,
    pub data_dir: String,
    pub data_bytes: u64,
    pub data_files: u64,
}

impl Ops {
    pub(crate) async fn delete_instances(
        &self,
        actor: &Actor,
        client: &ClientRow,
        rows: Vec<InstanceRow>,
        whole_client: bool,
    ) -> Result<DeletionReport, OpsError> {
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        self.write({
            let ids = ids.clone();
            move |tx| {
                for id in &ids {
                    instances::mark_absent(tx, *id)?;
                }
                Ok(())
            }
        })
        .await?;
        self.wake();
        self.wait_removed(&ids).await?;
        crate::testhook::pause_at("delete-data").await;

        let mut removed = Vec::new();
        for row in &rows {
            let data_dir = self.config.instance_data_dir(&row.client_slug, &row.name);
            let (data_bytes, data_files) = remove_dir(data_dir.clone()).await?;
            removed.push(RemovedInstance {
                id: row.id,
                name: row.name.clone(),
                container: self.config.container_name(&row.client_slug, &row.name),
                network: self.config.container_name(&row.client_slug, &row.name),
                domains: row.domains.clone(),
                host_port: row.host_port,
                data_dir: data_dir.display().to_string(),
                data_bytes,
                data_files,
            });
        }
        let backups_root = self.config.backup_dir().join(&client.slug);
        let backup_dirs: Vec<PathBuf> = if whole_client {
            vec![backups_root.clone()]
        } else {
            rows.iter().map(|r| backups_root.join(&r.name)).collect()
        };
        let mut backups_removed = Vec::new();
        for dir in backup_dirs {
            backups_removed.extend(remove_backups(dir).await?);
        }
        if whole_client {
            let client_dir = self.config.instances_dir().join(&client.slug);
            let _ = tokio::fs::remove_dir(&client_dir).await;
        }

        let now = crate::store::now();
        let report_path = self.config.reports_dir().join(format!(
            "deleted-{}-{}.json",
            client.slug,
            now.replace(':', "")
        ));
        let mut report = DeletionReport {
            client: client.slug.clone(),
            client_name: client.name.clone(),
            client_deleted: whole_client,
            instances: removed,
            backups_removed,
            deleted_at: now,
            deleted_by: actor.name.clone(),
            report_file: report_path.display().to_string(),
        };
        write_report(&report_path, &report)
            .await
            .map_err(|e| OpsError::Io(format!("writing deletion report: {e}")))?;
        crate::testhook::pause_at("delete-rows").await;

        let (client_id, slug, actor, summary) = (
            client.id,
            client.slug.clone(),
            actor.clone(),
            serde_json::to_value(&report).unwrap_or_default(),
        );
        self.write(move |tx| {
            for id in &ids {
                instances::delete(tx, *id)?;
            }
            let action = if whole_client {
                "client.delete"
            } else {
                "instance.remove"
            };
            if whole_client {
                clients::delete(tx, client_id)?;
            }
            audit::record(
                tx,
                &actor,
                action,
                &slug,
                Some(&slug),
                json!({ "report": summary }),
            )?;
            Ok(())
        })
        .await?;
        self.wake();
        report.instances.sort_by_key(|i| i.id);
        Ok(report)
    }

    async fn wait_removed(&self, ids: &[i64]) -> Result<(), OpsError> {
        let deadline = tokio::time::Instant::now() + REMOVAL_DEADLINE;
        loop {
            let ids = ids.to_vec();
            let pending = self
                .store
                .call(move |conn| {
                    let mut pending = 0;
                    for id in ids {
                        if instances::get(conn, id)?.phase != Phase::Removed {
                            pending += 1;
                        }
                    }
                    Ok(pending)
                })
                .await?;
            if pending == 0 {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(OpsError::Timeout(format!(
                    "{pending} container(s) were not removed within {}s; is `berth serve` running? The delete is recorded; run it again to finish",
                    REMOVAL_DEADLINE.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Removes a tenant's directory tree, returning the bytes and files it
/// held. The tree is hostile: links in it are removed, never followed, and
/// the error names the entry that could not go (a root-owned file when
/// berth lacks the unit's capabilities, say).
async fn remove_dir(dir: PathBuf) -> Result<(u64, u64), OpsError> {
    tokio::task::spawn_blocking(move || {
        if std::fs::symlink_metadata(&dir).is_err() {
            return Ok((0, 0));
        }
        let usage = crate::fsutil::dir_usage(&dir);
        crate::fsutil::remove_tree(&dir).map_err(|e| OpsError::Io(format!("removing {e}")))?;
        Ok(usage)
    })
    .await
    .map_err(|e| OpsError::Io(e.to_string()))?
}

async fn remove_backups(dir: PathBuf) -> Result<Vec<String>, OpsError> {
    tokio::task::spawn_blocking(move || {
        let mut files = Vec::new();
        collect_files(&dir, &mut files);
        crate::fsutil::remove_tree(&dir).map_err(|e| OpsError::Io(format!("removing {e}")))?;
        Ok(files)
    })
    .await
    .map_err(|e| OpsError::Io(e.to_string()))?
}

fn collect_files(dir: &Path, out: &mut Vec<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => collect_files(&path, out),
            Ok(_) => out.push(path.display().to_string()),
            Err(_) => {}
        }
    }
}

async fn write_report(path: &Path, report: &DeletionReport) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        tokio::fs::create_dir_all(dir).await?;
    }
    let text = serde_json::to_vec_pretty(report).map_err(std::io::Error::other)?;
    tokio::fs::write(path, text).await
}
