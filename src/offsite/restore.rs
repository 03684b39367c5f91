//! The first half of a restore from offsite: find the snapshot, check it
//! is this instance's (or, for a clone, its source's), download it into a
//! local backup of the target instance (see `download`), then queue the
//! local restore of it, in place or as a clone, in the same transaction
//! that records the download.

use chrono::Utc;
use serde_json::json;

use super::download::{self, Download};
use super::Worker;
use crate::audit::{self, Actor};
use crate::domain::RestoreMode;
use crate::store::offsite as rows;
use crate::store::{backup_jobs, instances, StoreError};

impl Worker {
    /// Runs queued offsite restore `id`: download, then queue the local restore.
    pub async fn run_restore(&self, id: i64) -> Result<bool, StoreError> {
        let pid = self.pid;
        if !self
            .store
            .call(move |c| rows::claim_restore(c, id, pid))
            .await?
        {
            return Ok(false);
        }
        let row = self.store.read(move |c| rows::get_restore(c, id)).await?;
        let result = self.restore(&row).await;
        if let Err(e) = &result {
            let why = e.clone();
            self.store
                .call(move |c| rows::finish_restore(c, id, Err(&why)))
                .await?;
            tracing::warn!(restore = id, error = %e, "offsite restore failed");
            let what = format!("instance {}", row.instance_id);
            self.notify_failure("offsite.restore.failed", id, &row.target, &what, e)
                .await;
        }
        Ok(true)
    }

    async fn restore(&self, row: &rows::OffsiteRestoreRow) -> Result<(), String> {
        let target = self
            .config
            .offsite_target(&row.target)
            .ok_or_else(|| format!("target {:?} is no longer configured", row.target))?
            .clone();
        let iid = row.instance_id;
        let inst = self
            .store
            .read(move |c| instances::get(c, iid))
            .await
            .map_err(|e| e.to_string())?;
        let restic = self.restic(&target);
        let (r, want) = (restic.clone(), row.snapshot_id.clone());
        let snapshot = crate::backup::blocking(move || {
            r.snapshots(None)?
                .into_iter()
                .find(|s| s.id == want || s.short_id == want)
                .ok_or_else(|| format!("no snapshot {want} on this target"))
        })
        .await?;
        // A clone's snapshot holds its source's data, not the new instance's.
        let expected = match row.mode {
            RestoreMode::Clone => row.source.clone(),
            RestoreMode::InPlace => format!("{}/{}", inst.client_slug, inst.name),
        };
        let holds = format!(
            "{}/{}",
            snapshot.tag("client").unwrap_or("?"),
            snapshot.tag("instance").unwrap_or("?")
        );
        if holds != expected {
            return Err(format!(
                "snapshot {} holds {holds}, not {expected}",
                snapshot.short_id
            ));
        }
        let root = self.config.backup_dir();
        let name = format!("{}-offsite-{}.tar.zst", stamp(), snapshot.short_id);
        let rel = format!("{}/{}/{name}", inst.client_slug, inst.name);
        let d = Download {
            partial: download::partial_path(&root, &inst.client_slug, &inst.name, row.id),
            archive: root.join(&rel),
            client: inst.client_slug.clone(),
            instance: inst.name.clone(),
            instance_id: inst.id,
            level: self.config.backup.level,
        };
        let manifest =
            crate::backup::blocking(move || download::download(&restic, &snapshot, &d)).await?;
        let (id, target_name, snap, mode) = (
            row.id,
            row.target.clone(),
            row.snapshot_id.clone(),
            row.mode,
        );
        let what = format!("{}/{}", inst.client_slug, inst.name);
        let slug = inst.client_slug.clone();
        self.store
            .call(move |c| {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                let backup = rows::insert_downloaded(&tx, iid, &manifest, &rel)?;
                if let Some(running) = backup_jobs::active_restore(&tx, iid)? {
                    return Err(StoreError::Conflict(format!(
                        "{what} already has restore {running} in progress; the download is backup {backup}"
                    )));
                }
                let restore = backup_jobs::enqueue_restore(&tx, backup, iid, mode)?;
                audit::record(&tx, &Actor::system(), "backup.restore", &what, Some(&slug),
                    json!({ "backup": backup, "restore": restore, "mode": mode,
                            "offsite": { "target": target_name, "snapshot": snap, "offsite_restore": id } }))?;
                rows::finish_restore(&tx, id, Ok((backup, restore)))?;
                tx.commit()?;
                Ok(())
            })
            .await
            .map_err(|e| e.to_string())
    }
}

/// `20250101T020000Z`: the downloaded archive sorts among the local ones.
fn stamp() -> String {
    Utc::now().format("%Y%m%dT%H%M%S%.3fZ").to_string()
}
