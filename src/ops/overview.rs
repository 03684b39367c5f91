//! Reads behind the pages every admin keeps open. They go through
//! [`ReadCache`]s: with hundreds of clients, recomputing them per request
//! would make the store lock the bottleneck (see `cargo bench --bench ui`).

use std::collections::HashMap;
use std::sync::Arc;

use super::{Ops, OpsError};
use crate::domain::Phase;
use crate::store::cache::ReadCache;
use crate::store::overview::{self, Overview};
use crate::store::{audit, clients, users, AuditEntry, AuditFilter, ClientRow};

#[derive(Default)]
pub(super) struct Caches {
    overview: Arc<ReadCache<Overview>>,
    clients: Arc<ReadCache<Vec<ClientRow>>>,
    phases: Arc<ReadCache<HashMap<i64, Vec<Phase>>>>,
    password_changes: Arc<ReadCache<HashMap<String, String>>>,
    failed_logins: Arc<ReadCache<Vec<AuditEntry>>>,
}

impl Ops {
    /// Counts, committed limits and failing instances for the dashboard.
    pub async fn overview(&self) -> Result<Arc<Overview>, OpsError> {
        Ok(self
            .store
            .call_cached(&self.caches.overview, |conn| overview::overview(conn))
            .await?)
    }

    /// Every client, as [`Ops::list_clients`], shared.
    pub async fn clients_snapshot(&self) -> Result<Arc<Vec<ClientRow>>, OpsError> {
        Ok(self
            .store
            .call_cached(&self.caches.clients, |conn| clients::list(conn))
            .await?)
    }

    /// Every client's instance phases, keyed by client id.
    pub async fn client_phases(&self) -> Result<Arc<HashMap<i64, Vec<Phase>>>, OpsError> {
        Ok(self
            .store
            .call_cached(&self.caches.phases, |conn| overview::client_phases(conn))
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
