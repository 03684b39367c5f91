//! Reads behind the pages every admin keeps open. They go through
//! [`ReadCache`]s: with hundreds of clients, recomputing them per request
//! would make the store lock the bottleneck (see `cargo bench --bench ui`).

use std::collections::HashMap;
use std::sync::Arc;

use time::OffsetDateTime;

use super::ClientUsage;
use super::{BackupHealth, Ops, OpsError};
use crate::domain::Phase;
use crate::metrics::Range;
use crate::store::cache::{KeyedCache, ReadCache};
use crate::store::overview::{self, BackupTimes, Overview};
use crate::store::{audit, clients, users, AuditEntry, AuditFilter, ClientRow, RequestRow};

#[derive(Default)]
pub(super) struct Caches {
    overview: Arc<ReadCache<Overview>>,
    clients: Arc<ReadCache<Vec<ClientRow>>>,
    phases: Arc<ReadCache<HashMap<i64, Vec<Phase>>>>,
    password_changes: Arc<ReadCache<HashMap<String, String>>>,
    failed_logins: Arc<ReadCache<Vec<AuditEntry>>>,
    backups: Arc<ReadCache<Vec<BackupRecord>>>,
    pub(super) pending_requests: Arc<ReadCache<Vec<RequestRow>>>,
    /// The portal's usage page per (client id, range), for one second (its
    /// charts end "now") and one database state: all 32 clicking users need.
    pub(super) usage: Arc<KeyedCache<(i64, Range), ClientUsage>>,
}

/// An instance's backup times with the moment its staleness counts from
/// (newest good backup, else creation), parsed once per change: only the
/// comparison with the clock is left for each request.
struct BackupRecord {
    times: BackupTimes,
    reference: Option<OffsetDateTime>,
}

impl BackupRecord {
    fn health(&self, stale: bool) -> BackupHealth {
        BackupHealth {
            instance_id: self.times.instance_id,
            client: self.times.client_slug.clone(),
            instance: self.times.instance.clone(),
            last_ok_at: self.times.last_ok_at.clone(),
            last_failed_at: self.times.last_failed_at.clone(),
            stale,
        }
    }
}

fn parse_utc(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

/// The dashboard's backup health: counts over every instance, rows only for
/// the first few lacking a recent good backup, so the page stays a few KB
/// with a thousand instances.
#[derive(Debug, Clone, Default)]
pub struct BackupSummary {
    pub instances: usize,
    /// Never backed up or stale.
    pub missing: usize,
    pub never: usize,
    /// The first `missing` rows, by instance id, at most the limit asked for.
    pub shown: Vec<BackupHealth>,
}

impl Ops {
    /// Counts, committed limits and failing instances for the dashboard.
    pub async fn overview(&self) -> Result<Arc<Overview>, OpsError> {
        Ok(self
            .store
            .call_cached(&self.caches.overview, overview::overview)
            .await?)
    }

    /// Every client, as [`Ops::list_clients`], shared.
    pub async fn clients_snapshot(&self) -> Result<Arc<Vec<ClientRow>>, OpsError> {
        Ok(self
            .store
            .call_cached(&self.caches.clients, clients::list)
            .await?)
    }

    /// Every client's instance phases, keyed by client id.
    pub async fn client_phases(&self) -> Result<Arc<HashMap<i64, Vec<Phase>>>, OpsError> {
        Ok(self
            .store
            .call_cached(&self.caches.phases, overview::client_phases)
            .await?)
    }

    /// The newest failed sign-ins, for the dashboard.
    pub async fn recent_failed_logins(&self) -> Result<Arc<Vec<AuditEntry>>, OpsError> {
        let filter = AuditFilter {
            action: Some("user.login-failed".into()),
            limit: 5,
            ..Default::default()
        };
        Ok(self
            .store
            .call_cached(&self.caches.failed_logins, move |conn| {
                audit::query(conn, &filter)
            })
            .await?)
    }

    /// Every instance's newest good and failed backup, flagged stale when the
    /// newest good one is older than `backup.stale_after` (or missing).
    pub async fn backup_status(&self) -> Result<Vec<BackupHealth>, OpsError> {
        let records = self.backup_records().await?;
        let stale = self.staleness();
        Ok(records.iter().map(|r| r.health(stale(r))).collect())
    }

    /// [`Ops::backup_status`] counted, with at most `limit` of the instances
    /// that lack a recent good backup.
    pub async fn backup_summary(&self, limit: usize) -> Result<BackupSummary, OpsError> {
        let records = self.backup_records().await?;
        let stale = self.staleness();
        let mut summary = BackupSummary {
            instances: records.len(),
            ..Default::default()
        };
        for r in records.iter() {
            let (never, stale) = (r.times.last_ok_at.is_none(), stale(r));
            if never || stale {
                summary.missing += 1;
                summary.never += usize::from(never);
                if summary.shown.len() < limit {
                    summary.shown.push(r.health(stale));
                }
            }
        }
        Ok(summary)
    }

    async fn backup_records(&self) -> Result<Arc<Vec<BackupRecord>>, OpsError> {
        Ok(self
            .store
            .call_cached(&self.caches.backups, |conn| {
                Ok(overview::backup_times(conn)?
                    .into_iter()
                    .map(|times| BackupRecord {
                        reference: times
                            .last_ok_at
                            .as_deref()
                            .and_then(parse_utc)
                            .or_else(|| parse_utc(&times.created_at)),
                        times,
                    })
                    .collect())
            })
            .await?)
    }

    /// Whether a record is stale now: its reference is older than
    /// `backup.stale_after`.
    fn staleness(&self) -> impl Fn(&BackupRecord) -> bool {
        let stale_after =
            time::Duration::try_from(self.config.backup.stale_after).unwrap_or(time::Duration::DAY);
        let now = OffsetDateTime::now_utc();
        move |r| r.reference.is_some_and(|at| now - at > stale_after)
    }

    /// When `name`'s password last changed; None when the account is gone.
    /// Checked on every page request, hence cached.
    pub async fn password_changed_at(&self, name: &str) -> Result<Option<String>, OpsError> {
        let all = self
            .store
            .call_cached(&self.caches.password_changes, |conn| {
                Ok(users::list(conn)?
                    .into_iter()
                    .map(|u| (u.name, u.password_changed_at))
                    .collect())
            })
            .await?;
        Ok(all.get(name).cloned())
    }
}
