//! The client portal's reads beyond its instances: usage against the plan,
//! backups (list, download, restore) and the activity log about the
//! client. Scoped like [`super::portal`]: by the signed-in user's client only.

use std::path::PathBuf;
use std::sync::Arc;

use serde::Serialize;
use serde_json::json;

use super::portal::{scoped_client, PortalInstance};
use super::portal_logs::HostPaths;
use super::usage::usage_of;
use super::{ClientUsage, Ops, OpsError, RestoreInput};
use crate::audit::{self, Actor};
use crate::domain::{BackupStatus, Trigger};
use crate::metrics::Range;
use crate::store::backups::{self as backup_rows, BackupRow};
use crate::store::{audit as audit_rows, instances, plans, Conn, PortalIdentity, RestoreRow};

/// Entries per activity page.
pub const ACTIVITY_PAGE: u32 = 50;

/// A backup as its client sees it: no archive path, no runner details,
/// and a failure message without host paths.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PortalBackup {
    pub id: i64,
    pub status: BackupStatus,
    pub trigger: Trigger,
    pub size: Option<u64>,
    pub files: Option<u64>,
    pub created_at: String,
    pub finished_at: Option<String>,
    pub verify_state: Option<BackupStatus>,
    pub message: String,
    /// A finished archive exists to download (and to restore from).
    pub downloadable: bool,
}

impl PortalBackup {
    fn new(b: &BackupRow, paths: &HostPaths) -> Self {
        Self {
            id: b.id,
            status: b.status,
            trigger: b.trigger,
            size: b.size,
            files: b.files,
            created_at: b.created_at.clone(),
            finished_at: b.finished_at.clone(),
            verify_state: b.verify_state,
            message: paths.scrub(&b.message),
            downloadable: b.status == BackupStatus::Ok && b.path.is_some(),
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct InstanceBackups {
    pub instance: PortalInstance,
    /// Newest first.
    pub backups: Vec<PortalBackup>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PortalBackups {
    pub instances: Vec<InstanceBackups>,
    /// The client's plan lets its users restore (`portal_restore`).
    pub restore_allowed: bool,
}

/// An audit entry about the client, as the client sees it: their own
/// users by email and address, anyone else as "your provider" or "berth".
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ActivityEntry {
    pub id: i64,
    pub at: String,
    pub who: String,
    pub action: String,
    pub target: String,
    pub ip: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ActivityPage {
    /// Newest first.
    pub entries: Vec<ActivityEntry>,
    /// The `before` of the next (older) page, when there is one.
    pub older: Option<i64>,
}

/// Who did it, in words a client may read: the provider's own account
/// and token names are not theirs to know.
fn who(actor: &str, slug: &str) -> (String, bool) {
    match actor
        .strip_prefix("client:")
        .and_then(|rest| rest.strip_prefix(slug))
        .and_then(|rest| rest.strip_prefix(':'))
    {
        Some(email) => (email.to_owned(), true),
        None if actor == "system" => ("berth".to_owned(), false),
        None => ("your provider".to_owned(), false),
    }
}

/// A backup of one of the user's client's live instances; any other is "not found".
fn owned_backup(conn: &Conn, me: &PortalIdentity, id: i64) -> Result<BackupRow, OpsError> {
    let missing = || OpsError::NotFound(format!("backup {id} not found"));
    let b = backup_rows::get(conn, id).map_err(|_| missing())?;
    let instance = b.instance_id.ok_or_else(missing)?;
    match instances::get(conn, instance) {
        Ok(i) if i.client_id == me.client_id && i.desired.is_live() => Ok(b),
        _ => Err(missing()),
    }
}

impl Ops {
    /// The client's usage charts over `range`, each against its plan
    /// limits. The user's scope is checked on every call; the charts come
    /// from a cache kept until the database changes (every sampler tick),
    /// since reading a client's series and LLM spend costs ~15 queries.
    pub async fn portal_usage(
        &self,
        me: &PortalIdentity,
        range: Range,
    ) -> Result<Arc<ClientUsage>, OpsError> {
        let me = me.clone();
        let client = self
            .read_scoped(move |conn| scoped_client(conn, &me))
            .await?;
        let (key, second) = ((client.id, range), crate::metrics::unix_now());
        let cache = self.caches.usage.clone();
        Ok(self
            .store
            .call_keyed(&cache, second, key, move |conn| {
                usage_of(conn, client, range)
            })
            .await?)
    }

    pub async fn portal_backups(&self, me: &PortalIdentity) -> Result<PortalBackups, OpsError> {
        let me = me.clone();
        let paths = HostPaths::new(&self.config);
        self.read_scoped(move |conn| {
            scoped_client(conn, &me)?;
            let mut list = Vec::new();
            for i in instances::list_for_client(conn, me.client_id)? {
                if !i.desired.is_live() {
                    continue;
                }
                let backups = backup_rows::list_for_instance(conn, i.id)?
                    .iter()
                    .map(|b| PortalBackup::new(b, &paths))
                    .collect();
                list.push(InstanceBackups {
                    instance: PortalInstance::from(&i),
                    backups,
                });
            }
            Ok(PortalBackups {
                instances: list,
                restore_allowed: restore_allowed(conn, &me)?,
            })
        })
        .await
    }

    /// The archive of one of the client's finished backups, for download;
    /// recorded, as it carries all of the instance's data.
    pub async fn portal_backup_file(
        &self,
        actor: &Actor,
        me: &PortalIdentity,
        id: i64,
    ) -> Result<PathBuf, OpsError> {
        let (actor, me2) = (actor.clone(), me.clone());
        self.write(move |tx| {
            let b = owned_backup(tx, &me2, id)?;
            // Record only a download that happens.
            if b.status != BackupStatus::Ok || b.path.is_none() {
                return Err(OpsError::Refused(format!(
                    "backup {id} has no archive (status {})",
                    b.status
                )));
            }
            let target = format!("{}/{}", b.client_slug, b.instance_name);
            audit::record(
                tx,
                &actor,
                "backup.download",
                &target,
                Some(&me2.client_slug),
                json!({ "backup": id }),
            )?;
            Ok(())
        })
        .await?;
        self.backup_file(id).await
    }

    /// One page of the entries about the client, newest first.
    pub async fn portal_activity(
        &self,
        me: &PortalIdentity,
        before: Option<i64>,
    ) -> Result<ActivityPage, OpsError> {
        let me = me.clone();
        self.read_scoped(move |conn| {
            scoped_client(conn, &me)?;
            let mut rows =
                audit_rows::page_for_client(conn, &me.client_slug, before, ACTIVITY_PAGE + 1)?;
            let more = rows.len() > ACTIVITY_PAGE as usize;
            rows.truncate(ACTIVITY_PAGE as usize);
            let older = more.then(|| rows.last().map(|e| e.id)).flatten();
            let entries = rows
                .into_iter()
                .map(|e| {
                    let (who, own) = who(&e.actor, &me.client_slug);
                    ActivityEntry {
                        id: e.id,
                        at: e.at,
                        who,
                        action: e.action,
                        target: e.target,
                        ip: if own { e.ip } else { None },
                    }
                })
                .collect();
            Ok(ActivityPage { entries, older })
        })
        .await
    }
}

/// The user's plan lets them restore their own backups (`portal_restore`).
fn restore_allowed(conn: &Conn, me: &PortalIdentity) -> Result<bool, OpsError> {
    let client = scoped_client(conn, me)?;
    Ok(plans::terms(conn, &client.plan)?.portal_restore)
}

impl Ops {
    /// A backup the user may restore in place: the instance's name (what
    /// they type to confirm) and the backup. Refused when their plan does
    /// not allow it or the backup has no archive.
    pub async fn portal_restorable(
        &self,
        me: &PortalIdentity,
        id: i64,
    ) -> Result<(String, PortalBackup), OpsError> {
        let me = me.clone();
        let paths = HostPaths::new(&self.config);
        self.read_scoped(move |conn| {
            // Another client's backup is "not found" before anything else.
            let b = owned_backup(conn, &me, id)?;
            if !restore_allowed(conn, &me)? {
                return Err(OpsError::Refused(
                    "your plan does not include restoring backups yourself; ask your provider"
                        .into(),
                ));
            }
            let view = PortalBackup::new(&b, &paths);
            if !view.downloadable {
                return Err(OpsError::Refused(format!(
                    "backup {id} is {}; only finished backups can be restored",
                    b.status
                )));
            }
            Ok((b.instance_name, view))
        })
        .await
    }

    /// Queues a restore of one of the user's backups into its own instance,
    /// audited as the user.
    pub async fn portal_restore(
        &self,
        actor: &Actor,
        me: &PortalIdentity,
        id: i64,
    ) -> Result<RestoreRow, OpsError> {
        self.portal_restorable(me, id).await?;
        self.request_restore(actor, id, RestoreInput::default())
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::who;

    #[test]
    fn only_the_clients_own_users_are_named() {
        assert_eq!(
            who("client:acme:ann@acme.test", "acme"),
            ("ann@acme.test".into(), true)
        );
        // A slug that merely starts like this one is another client.
        assert!(!who("client:acme-2:bob@x.test", "acme").1);
        assert_eq!(who("user:alice", "acme"), ("your provider".into(), false));
        assert_eq!(
            who("token:billing", "acme"),
            ("your provider".into(), false)
        );
        assert_eq!(who("system", "acme"), ("berth".into(), false));
    }
}
