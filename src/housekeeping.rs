//! Housekeeping worker: prunes the audit log past its retention (and stale
//! login failures) once a day, and expired UI sessions once an hour. Started
//! from `app.rs` like the reconciler; talks only to the store, through its own handle.

use std::time::Duration;

use tokio::time::{sleep_until, Instant};
use tower_sessions::ExpiredDeletion;
use tower_sessions_rusqlite_store::RusqliteStore;

use crate::audit::{self, Actor};
use crate::store::{client_users, users, Store, StoreError};

const AUDIT_EVERY: Duration = Duration::from_secs(24 * 3600);
const SESSIONS_EVERY: Duration = Duration::from_secs(3600);
/// An expired portal link is kept this long so its page can say "expired".
const LINKS_KEPT: Duration = Duration::from_secs(7 * 86400);

/// A worker with its own handles (built in `app.rs`), not an `Ops`.
pub struct Housekeeping {
    pub store: Store,
    /// How long audit entries are kept (`audit.retention`).
    pub audit_retention: Duration,
    /// How long a failed login counts for the throttle; older ones go.
    pub login_window: Duration,
    /// Every session table: the admin pages' and the portal's.
    pub sessions: Vec<RusqliteStore>,
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
                match self.prune_audit().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(removed = n, "pruned audit log"),
                    Err(e) => tracing::warn!(error = %e, "pruning audit log"),
                }
                next_audit = now + AUDIT_EVERY;
            }
            if now >= next_sessions {
                for sessions in &self.sessions {
                    if let Err(e) = sessions.delete_expired().await {
                        tracing::warn!(error = %e, "deleting expired sessions");
                    }
                }
                next_sessions = now + SESSIONS_EVERY;
            }
        }
    }

    /// Deletes audit entries past their retention (recording the pruning)
    /// and login failures past the throttle window, in one transaction.
    async fn prune_audit(&self) -> Result<usize, StoreError> {
        let before = cutoff(self.audit_retention);
        let failures_before = cutoff(self.login_window);
        let links_before = cutoff(LINKS_KEPT);
        self.store
            .call(move |conn| {
                let tx = conn.transaction()?;
                let removed = audit::prune(&tx, &Actor::system(), &before)?;
                users::prune_failures(&tx, &failures_before)?;
                client_users::prune_links(&tx, &links_before)?;
                tx.commit()?;
                Ok(removed)
            })
            .await
    }
}

/// `age` ago, in whole seconds like the stored timestamps, so string order
/// is time order. A retention longer than the calendar (e.g. "100000y")
/// keeps everything.
fn cutoff(age: Duration) -> String {
    let now = time::OffsetDateTime::now_utc();
    let fmt = |t: time::OffsetDateTime| {
        t.replace_nanosecond(0)
            .unwrap_or(t)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default()
    };
    time::Duration::try_from(age)
        .ok()
        .and_then(|d| now.checked_sub(d))
        .map_or_else(|| "0000".to_owned(), fmt)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;
    use std::sync::Arc;
    use std::time::Duration;

    use super::Housekeeping;
    use crate::blueprint::Blueprints;
    use crate::config::Config;
    use crate::ops::Ops;
    use crate::store::{AuditFilter, Store};

    /// An RFC 3339 timestamp `days` (and `secs`) ago, as the store writes them.
    fn ago(days: i64, secs: i64) -> String {
        let t = time::OffsetDateTime::now_utc()
            - time::Duration::days(days)
            - time::Duration::seconds(secs);
        t.replace_nanosecond(0)
            .unwrap()
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap()
    }

    async fn actions(ops: &Ops) -> Vec<String> {
        let mut a: Vec<String> = ops
            .query_audit(AuditFilter::default())
            .await
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        a.sort();
        a
    }

    #[tokio::test]
    async fn the_daily_run_prunes_the_audit_log_past_its_retention() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config {
            data_dir: dir.path().to_owned(),
            blueprint_dir: Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("templates")),
            audit: crate::config::AuditConfig {
                retention: Duration::from_secs(30 * 86400),
            },
            ..Config::default()
        };
        let blueprints = Arc::new(Blueprints::load_dir(&config.blueprint_dir()).unwrap());
        let store = Store::open_in_memory().unwrap();
        let ops = Ops::new(store.clone(), Arc::new(config), blueprints, Arc::default());
        // Hand-made ages around the 30-day line: a year, a day past it, an
        // hour past it; an hour inside it, a day inside it, now.
        let entries = [
            ("a-year-old", ago(365, 0)),
            ("b-31-days", ago(31, 0)),
            ("c-30-days-1h", ago(30, 3600)),
            ("d-29-days-23h", ago(29, 23 * 3600)),
            ("e-29-days", ago(29, 0)),
            ("f-now", ago(0, 0)),
        ];
        store
            .call(move |conn| {
                for (action, at) in &entries {
                    conn.execute(
                        "INSERT INTO audit_log (at, actor, action, target, details) VALUES (?1, 'cli', ?2, 'x', '{}')",
                        [at.as_str(), action],
                    )?;
                }
                Ok(())
            })
            .await
            .unwrap();
        let sessions = crate::web::session::open_store(&dir.path().join("sessions.db"))
            .await
            .unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(
            Housekeeping {
                store: store.clone(),
                audit_retention: ops.config().audit.retention,
                login_window: ops.login_gate().window(),
                sessions: vec![sessions],
            }
            .run(async {
                let _ = stopped.await;
            }),
        );
        // The first run happens at start-up; wait for its entry.
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while !actions(&ops).await.contains(&"audit.prune".to_owned()) {
            assert!(
                tokio::time::Instant::now() < deadline,
                "no prune after 20 s"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let _ = stop.send(());
        task.await.unwrap();
        assert_eq!(
            actions(&ops).await,
            ["audit.prune", "d-29-days-23h", "e-29-days", "f-now"]
        );
        let prune = ops
            .query_audit(AuditFilter {
                action: Some("audit.prune".into()),
                ..Default::default()
            })
            .await
            .unwrap();
        assert_eq!(prune[0].details["removed"], 3);
        assert_eq!(prune[0].actor, "system");
    }
}
