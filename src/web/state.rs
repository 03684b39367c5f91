//! What every handler shares: the door to operations, the reconciler's
//! counters, the sampler's latest readings, Caddy's state and what the
//! admin pages need beyond that (sessions, host figures, the setup code).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::distr::{Alphanumeric, SampleString};
use tower_sessions_rusqlite_store::RusqliteStore;

use super::session;
use crate::metrics::host::HostProbe;
use crate::ops::Ops;
use crate::reconcile::ReconcileStats;
use crate::store::metrics::HostSample;

#[derive(Clone)]
pub struct AppState {
    pub ops: Ops,
    pub stats: Arc<ReconcileStats>,
    pub ui: Arc<UiState>,
    /// The usage sampler's latest readings, for `/metrics`.
    pub live: crate::metrics::Live,
    /// The managed Caddy's state, for `/api/v1/health` and the dashboard.
    pub caddy: crate::caddy::CaddyStatus,
}

/// What the admin pages need beyond `Ops`.
pub struct UiState {
    pub sessions: RusqliteStore,
    /// The portal's own sessions (table `portal_sessions`, same file).
    pub portal_sessions: RusqliteStore,
    pub session_idle: Duration,
    pub secure_cookies: bool,
    pub host: HostFigures,
    /// Lets the first admin be created from a non-loopback address; printed
    /// in the log at start-up while no account exists.
    pub setup_code: String,
}

impl AppState {
    /// Opens the session store (`<data_dir>/sessions.db`) beside `ops`.
    pub async fn new(ops: Ops, stats: Arc<ReconcileStats>) -> anyhow::Result<Self> {
        let config = ops.config().clone();
        std::fs::create_dir_all(&config.data_dir)?;
        let db = config.data_dir.join("sessions.db");
        let sessions = session::open_store(&db).await?;
        let portal_sessions = session::open_table(&db, "portal_sessions").await?;
        let ui = UiState {
            sessions,
            portal_sessions,
            session_idle: config.web.session_idle,
            secure_cookies: config.caddy.tls,
            host: HostFigures::new(HostProbe::new(config.data_dir.clone())),
            setup_code: Alphanumeric.sample_string(&mut rand::rng(), 12),
        };
        Ok(Self {
            ops,
            stats,
            ui: Arc::new(ui),
            live: crate::metrics::Live::default(),
            caddy: crate::caddy::CaddyStatus::default(),
        })
    }
}

/// A reading is reused this long: reading /proc per page view would make
/// the dashboard's cost grow with its audience, and CPU usage needs two
/// readings some time apart anyway.
const HOST_MAX_AGE: Duration = Duration::from_secs(3);

/// The dashboard's host load, from the metrics module's probe (the one
/// sysinfo reader), reused for a few seconds.
pub struct HostFigures(Mutex<(HostProbe, Option<(Instant, HostSample)>)>);

impl HostFigures {
    fn new(probe: HostProbe) -> Self {
        Self(Mutex::new((probe, None)))
    }

    /// A recent reading; blocking (reads /proc), so call it from spawn_blocking.
    pub fn read(&self) -> HostSample {
        // A std mutex: held only for the reading, never across an await.
        let mut guard = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let (probe, last) = &mut *guard;
        if let Some((at, sample)) = last {
            if at.elapsed() < HOST_MAX_AGE {
                return sample.clone();
            }
        }
        let sample = probe.sample(crate::metrics::unix_now());
        *last = Some((Instant::now(), sample.clone()));
        sample
    }
}
