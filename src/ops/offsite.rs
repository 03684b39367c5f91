//! Offsite operations: per-target status, copies and restores queued as
//! rows (the offsite worker runs them), and the reads that must ask the
//! repository itself (snapshots, check, init) through restic, off the
//! runtime. Those three are the one place an operation runs a process:
//! what a repository holds lives there, not in berth's store.

use serde::Serialize;
use serde_json::json;

use super::backups::live_instance;
use super::{Ops, OpsError};
use crate::audit::{self, Actor};
use crate::config::{mask_userinfo, OffsiteTarget};
use crate::domain::OffsiteKind;
use crate::offsite::{restic_for, Restic, Snapshot};
use crate::store::backups as backup_rows;
use crate::store::offsite::{self as rows, CopyRow, NewCopy, OffsiteRestoreRow, TargetSummary};
use crate::store::offsite_runs::{self, Maintenance};

/// One target as the dashboard, `/metrics`, API and CLI show it.
#[derive(Debug, Clone, Serialize)]
pub struct OffsiteStatus {
    pub name: String,
    /// Credentials in the URL masked.
    pub repository: String,
    #[serde(flatten)]
    pub summary: TargetSummary,
    /// Seconds since the newest good copy; None: never.
    pub age_seconds: Option<f64>,
    pub last_copy: Option<CopyRow>,
    /// When forget, prune, check and test-restore last succeeded.
    pub maintenance: Maintenance,
}

impl Ops {
    fn offsite_target(&self, name: &str) -> Result<OffsiteTarget, OpsError> {
        self.config.offsite_target(name).cloned().ok_or_else(|| {
            let known: Vec<_> = self
                .config
                .offsite
                .iter()
                .map(|t| t.name.as_str())
                .collect();
            OpsError::NotFound(format!(
                "no offsite target {name:?} (configured: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ))
        })
    }

    fn restic(&self, target: &str) -> Result<Restic, OpsError> {
        Ok(restic_for(&self.config, &self.offsite_target(target)?))
    }

    /// Every configured target with its last success, bytes and age.
    pub async fn offsite_status(&self) -> Result<Vec<OffsiteStatus>, OpsError> {
        let names: Vec<(String, String)> = self
            .config
            .offsite
            .iter()
            .map(|t| (t.name.clone(), mask_userinfo(&t.repository)))
            .collect();
        let rows = self
            .store
            .read(move |c| {
                names
                    .into_iter()
                    .map(|(name, repo)| {
                        let summary = rows::summary(c, &name)?;
                        let last = rows::list_copies(c, &name, 1)?.into_iter().next();
                        let maintenance = offsite_runs::maintenance(c, &name)?;
                        Ok((name, repo, summary, last, maintenance))
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
            .await?;
        let now = time::OffsetDateTime::now_utc();
        Ok(rows
            .into_iter()
            .map(|(name, repository, summary, last_copy, maintenance)| {
                let age_seconds = summary.last_success.as_deref().and_then(|at| {
                    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                        .ok()
                        .map(|t| (now - t).as_seconds_f64().max(0.0).round())
                });
                OffsiteStatus {
                    name,
                    repository,
                    summary,
                    age_seconds,
                    last_copy,
                    maintenance,
                }
            })
            .collect())
    }

    /// Per target for `/metrics`: newest good copy (Unix seconds), bytes added, failures.
    pub async fn offsite_gauges(
        &self,
    ) -> Result<Vec<crate::metrics::prometheus::OffsiteGauge>, OpsError> {
        Ok(self
            .offsite_status()
            .await?
            .into_iter()
            .map(|s| {
                let at = s.summary.last_success.as_deref().and_then(|at| {
                    time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339)
                        .ok()
                });
                (
                    s.name,
                    at.map(|t| t.unix_timestamp()),
                    s.summary.bytes_added_total,
                    s.summary.copies_failed,
                )
            })
            .collect())
    }

    /// A target's copies, newest first.
    pub async fn offsite_copies(&self, target: &str, limit: u32) -> Result<Vec<CopyRow>, OpsError> {
        self.offsite_target(target)?;
        let target = target.to_owned();
        Ok(self
            .store
            .read(move |c| rows::list_copies(c, &target, limit))
            .await?)
    }

    pub async fn offsite_copy(&self, id: i64) -> Result<CopyRow, OpsError> {
        Ok(self.store.read(move |c| rows::get_copy(c, id)).await?)
    }

    /// Queues a copy of an instance's newest good backup (or, without an
    /// instance, of berth's state) to `target`.
    pub async fn request_offsite_copy(
        &self,
        actor: &Actor,
        target: &str,
        instance_id: Option<i64>,
    ) -> Result<CopyRow, OpsError> {
        self.offsite_target(target)?;
        let (target, actor) = (target.to_owned(), actor.clone());
        self.write(move |tx| {
            let (new, what, slug) = match instance_id {
                Some(iid) => {
                    let inst = live_instance(tx, iid)?;
                    let newest = backup_rows::list_for_instance(tx, iid)?
                        .into_iter()
                        .find(|b| b.status == crate::domain::BackupStatus::Ok && b.path.is_some())
                        .ok_or_else(|| {
                            OpsError::Refused(format!(
                                "{}/{} has no finished backup to copy; back it up first",
                                inst.client_slug, inst.name
                            ))
                        })?;
                    let id = rows::enqueue_copy(
                        tx,
                        &NewCopy {
                            target: &target,
                            kind: OffsiteKind::Instance,
                            backup_id: Some(newest.id),
                            instance_id: Some(iid),
                            client_slug: &inst.client_slug,
                            instance_name: &inst.name,
                        },
                    )?;
                    (
                        id,
                        format!("{}/{}", inst.client_slug, inst.name),
                        Some(inst.client_slug),
                    )
                }
                None => {
                    let id = rows::enqueue_copy(
                        tx,
                        &NewCopy {
                            target: &target,
                            kind: OffsiteKind::State,
                            backup_id: None,
                            instance_id: None,
                            client_slug: "",
                            instance_name: "",
                        },
                    )?;
                    (id, "berth state".to_owned(), None)
                }
            };
            audit::record(
                tx,
                &actor,
                "offsite.copy",
                &what,
                slug.as_deref(),
                json!({ "target": target, "copy": new }),
            )?;
            Ok(rows::get_copy(tx, new)?)
        })
        .await
    }

    /// The target's snapshots (restic's list), oldest first; with an
    /// instance, only that instance's copies.
    pub async fn offsite_snapshots(
        &self,
        target: &str,
        instance_id: Option<i64>,
    ) -> Result<Vec<Snapshot>, OpsError> {
        let restic = self.restic(target)?;
        let inst = match instance_id {
            Some(id) => Some(
                self.store
                    .read(move |c| crate::store::instances::get(c, id))
                    .await?,
            ),
            None => None,
        };
        let all = blocking(move || restic.snapshots(Some("berth"))).await?;
        Ok(all
            .into_iter()
            .filter(|s| {
                inst.as_ref().is_none_or(|i| {
                    s.tag("client") == Some(&i.client_slug) && s.tag("instance") == Some(&i.name)
                })
            })
            .collect())
    }

    /// Queues an in-place restore of `instance_id` from `snapshot` (default:
    /// its newest on the target). The worker downloads it into a local
    /// backup and queues the local restore (atomic swap, rolled back if
    /// unhealthy). Clones: `request_offsite_restore_as`.
    pub async fn request_offsite_restore(
        &self,
        actor: &Actor,
        instance_id: i64,
        target: &str,
        snapshot: Option<String>,
    ) -> Result<OffsiteRestoreRow, OpsError> {
        let input = super::OffsiteRestoreInput {
            target: target.to_owned(),
            snapshot,
            into: None,
        };
        self.request_offsite_restore_as(actor, instance_id, input)
            .await
    }

    pub async fn get_offsite_restore(&self, id: i64) -> Result<OffsiteRestoreRow, OpsError> {
        Ok(self.store.read(move |c| rows::get_restore(c, id)).await?)
    }

    /// Creates the repository (`restic init`); audited.
    pub async fn offsite_init(&self, actor: &Actor, target: &str) -> Result<(), OpsError> {
        let restic = self.restic(target)?;
        blocking(move || restic.init()).await?;
        let (actor, target) = (actor.clone(), target.to_owned());
        self.write(move |tx| {
            Ok(audit::record(
                tx,
                &actor,
                "offsite.init",
                &target,
                None,
                json!({}),
            )?)
        })
        .await
    }
}

/// Runs restic off the runtime; its failure is the operator's to read.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, String> + Send + 'static,
) -> Result<T, OpsError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| OpsError::Io(format!("task failed: {e}")))?
        .map_err(|e| OpsError::Refused(format!("offsite: {e}")))
}
