//! Housekeeping worker: prunes the audit log past its retention (and stale
//! login failures) once a day, and expired UI sessions once an hour. Started
//! from `app.rs` like the reconciler; talks only to the store.

use std::time::Duration;

use tokio::time::{sleep_until, Instant};
use tower_sessions::ExpiredDeletion;
use tower_sessions_rusqlite_store::RusqliteStore;

use crate::audit::Actor;
use crate::ops::Ops;

const AUDIT_EVERY: Duration = Duration::from_secs(24 * 3600);
const SESSIONS_EVERY: Duration = Duration::from_secs(3600);

pub struct Housekeeping {
    pub ops: Ops,
    pub sessions: RusqliteStore,
}

impl Housekeeping {
    /// Runs once right away (a daemon restarted daily must still prune),
    /// then on its intervals until `shutdown` resolves.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut next_audit = Instant::now();
        let mut next_sessions = Instant::now();
        loop {
            let next = next_audit.min(next_sessions);
            tokio::select! {
                _ = &mut shutdown => return,
                _ = sleep_until(next) => {}
            }
            let now = Instant::now();
            if now >= next_audit {
                match self.ops.prune_audit(&Actor::system()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "pruned audit log"),
                    Err(e) => tracing::warn!(error = %e, "pruning audit log"),
                }
                next_audit = now + AUDIT_EVERY;
            }
            if now >= next_sessions {
                if let Err(e) = self.sessions.delete_expired().await {
                    tracing::warn!(error = %e, "deleting expired sessions");
                }
                next_sessions = now + SESSIONS_EVERY;
            }
        }
    }
}
