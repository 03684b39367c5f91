//! The loop: wake on a store change, a Docker event or the timer; compute
//! the plan; apply it; sync Caddy; write what was observed back.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use tokio::sync::Notify;

use super::desired::{caddy_settings, desired, routes, shadowed};
use super::inject::{self, Injections};
use super::late::PassWork;
use super::observe::{injections_seen, observe};
use super::plan::plan;
use super::pool::NetworkPool;
use super::pulls::Pulls;
use crate::blueprint::Blueprints;
use crate::caddy::{config_hash, generate, CaddyAdmin};
use crate::config::Config;
use crate::docker::Docker;
use crate::domain::ReconcileCounts;
use crate::llm::secret::Sealer;
use crate::store::{instances, Store};

/// Counters for `/metrics` and `berth doctor`.
#[derive(Debug, Default)]
pub struct ReconcileStats {
    pub passes: AtomicU64,
    pub errors: AtomicU64,
    pub actions: AtomicU64,
    pub caddy_loads: AtomicU64,
    pub caddy_errors: AtomicU64,
}

impl ReconcileStats {
    /// The counters as plain numbers, for `/metrics`.
    pub fn snapshot(&self) -> ReconcileCounts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        ReconcileCounts {
            passes: get(&self.passes),
            errors: get(&self.errors),
            actions: get(&self.actions),
            caddy_loads: get(&self.caddy_loads),
            caddy_errors: get(&self.caddy_errors),
        }
    }
}

#[derive(Clone)]
pub struct Reconciler {
    pub(super) store: Store,
    pub(super) config: Arc<Config>,
    pub(super) blueprints: Arc<Blueprints>,
    pub(super) docker: Docker,
    pub(super) caddy: CaddyAdmin,
    pub(super) wake: Arc<Notify>,
    pub(super) pulls: Pulls,
    pub(super) pool: Arc<NetworkPool>,
    /// One image build at a time; concurrent creates of a new blueprint wait for it.
    pub(super) build_lock: Arc<tokio::sync::Mutex<()>>,
    /// Opened at the first encrypted value a pass injects.
    pub(super) sealer: Arc<std::sync::OnceLock<crate::llm::secret::Sealer>>,
    /// The LLM key worker's, when it runs: woken when instances run a new key.
    pub(super) llm_wake: Option<Arc<Notify>>,
    /// Image IDs whose registry digest was looked up (`digests.rs`).
    pub(super) digests_seen: super::digests::Seen,
    pub stats: Arc<ReconcileStats>,
}

impl Reconciler {
    pub fn new(
        store: Store,
        config: Arc<Config>,
        blueprints: Arc<Blueprints>,
        docker: Docker,
        caddy: CaddyAdmin,
        wake: Arc<Notify>,
    ) -> Self {
        let pool = Arc::new(NetworkPool::new(
            docker.clone(),
            store.clone(),
            config.clone(),
        ));
        Self {
            pool,
            store,
            config,
            blueprints,
            docker,
            caddy,
            wake,
            pulls: Pulls::default(),
            build_lock: Arc::default(),
            sealer: Arc::default(),
            llm_wake: None,
            digests_seen: Arc::default(),
            stats: Arc::default(),
        }
    }

    /// Wakes the LLM key worker when instances run a rotated key.
    pub fn with_llm_wake(mut self, wake: Arc<Notify>) -> Self {
        self.llm_wake = Some(wake);
        self
    }

    /// The keys and admin accounts this pass injects, decrypted.
    pub(super) async fn injections(&self) -> Result<Injections, crate::store::StoreError> {
        let (config, sealer) = (self.config.clone(), self.sealer.clone());
        self.store
            .read(move |conn| {
                inject::load(conn, &config, || {
                    if let Some(s) = sealer.get() {
                        return Ok(s.clone());
                    }
                    let path = config.llm.secret_file(&config.data_dir);
                    let opened = Sealer::open_or_create(&path).map_err(|e| e.to_string())?;
                    Ok(sealer.get_or_init(|| opened).clone())
                })
            })
            .await
    }

    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) {
        let events = tokio::spawn(forward_docker_events(
            self.docker.clone(),
            self.wake.clone(),
        ));
        let external = tokio::spawn(watch_external_writes(
            self.store.clone(),
            self.wake.clone(),
            self.llm_wake.clone(),
        ));
        // Before the first pass: leftovers of the last run hold the subnets
        // of their ports, so creates for those ports must adopt them.
        self.pool.scan().await;
        let (stop_pool, pool_stopped) = tokio::sync::oneshot::channel::<()>();
        let pool = tokio::spawn(self.pool.clone().run(async {
            let _ = pool_stopped.await;
        }));
        tokio::pin!(shutdown);
        self.log_shadowed_domains().await;
        let mut failures = 0u32;
        loop {
            let started = Instant::now();
            match self.pass().await {
                Ok(n) => {
                    failures = 0;
                    if n > 0 {
                        tracing::debug!(
                            actions = n,
                            elapsed_ms = started.elapsed().as_millis() as u64,
                            "reconcile pass"
                        );
                    }
                }
                Err(e) => {
                    failures += 1;
                    self.stats.errors.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(error = %e, "reconcile pass failed");
                }
            }
            // A pass is what takes a deleted instance's containers down.
            super::deletions::finish_ready(&self.store, &self.config).await;
            // Back off after errors (Docker down) but never beyond the interval.
            let wait = if failures > 0 {
                Duration::from_millis(250 << failures.min(6)).min(self.config.reconcile_interval)
            } else {
                self.config.reconcile_interval
            };
            tokio::select! {
                _ = self.wake.notified() => {}
                _ = tokio::time::sleep(wait) => {}
                _ = &mut shutdown => break,
            }
        }
        events.abort();
        external.abort();
        // The pool removes its free networks; adopted ones stay with their instances.
        let _ = stop_pool.send(());
        if let Err(e) = pool.await {
            tracing::error!(error = %e, "network pool task panicked");
        }
        tracing::info!("reconciler stopped");
    }

    /// ops refuses such domains; these predate the `[[caddy.routes]]` entry.
    async fn log_shadowed_domains(&self) {
        let Ok(rows) = self.store.call(|conn| instances::list_all(conn)).await else {
            return;
        };
        for (id, domain, host) in shadowed(&rows, &self.config) {
            tracing::error!(instance = id, %domain, static_host = %host,
                "a [[caddy.routes]] host matches this tenant domain; the static route wins and the tenant is unreachable there: change one of them");
        }
    }

    /// One full pass; returns how many actions it took.
    pub async fn pass(&self) -> anyhow::Result<usize> {
        self.pool.pass_started();
        let result = self.pass_inner().await;
        self.pool.pass_ended();
        result
    }

    async fn pass_inner(&self) -> anyhow::Result<usize> {
        self.stats.passes.fetch_add(1, Ordering::Relaxed);
        let mut clock = PassClock::start();
        let mut rows = self.store.call(|conn| instances::list_all(conn)).await?;
        clock.lap("read");
        // Independent reads: asked together, they cost the slowest of them.
        let (containers, networks, held) = tokio::join!(
            self.docker.list_managed(),
            self.docker.list_managed_networks_labelled(),
            self.store
                .call(|conn| crate::store::backup_jobs::held(conn)),
        );
        let (containers, networks, held) = (containers?, networks?, held?);
        clock.lap("list");
        self.pool.adopt(&mut rows, &containers, &networks).await;
        let inject = self.injections().await?;
        let want = desired(&rows, &self.blueprints, &self.config, &inject);
        clock.lap("adopt");
        let mut actions = plan(&want.instances, &want.known, &containers, &networks);
        // A backup or restore that stopped a container owns it until it is done.
        if !held.is_empty() {
            actions.retain(|a| a.instance_id().is_none_or(|id| !held.contains(&id)));
        }
        let planned = actions.len();
        let mut work = PassWork::new(rows, want.instances, want.invalid, want.waiting);
        // Caddy learns new routes once their containers are started: a route
        // loaded earlier sends the first visitors to a half-started container
        // (measured: the first 200 came ~0.7 s later that way).
        let notes = self.apply(actions, &mut work).await;
        clock.lap("apply");
        let taken = planned + work.joined_actions;
        self.stats
            .actions
            .fetch_add(taken as u64, Ordering::Relaxed);
        self.sync_caddy(&work.rows).await;
        clock.lap("caddy");
        let (containers, networks) = if taken > 0 {
            (
                self.docker.list_managed().await?,
                self.docker.list_managed_networks_labelled().await?,
            )
        } else {
            (containers, networks)
        };
        clock.lap("relist");
        let observations = observe(
            &work.instances,
            &work.invalid,
            &work.waiting,
            &containers,
            &networks,
            &notes,
        );
        let (keys, accounts) = injections_seen(&work.instances, &containers, &observations);
        self.learn_digests(&observations).await;
        let handed_over = self
            .store
            .call(move |conn| {
                instances::record(conn, &observations)?;
                if keys.is_empty() && accounts.is_empty() {
                    return Ok(false);
                }
                crate::store::llm::record_injections(conn, &keys, &accounts)
            })
            .await?;
        if handed_over {
            // A rotated key may now be deleted.
            if let Some(wake) = &self.llm_wake {
                wake.notify_one();
            }
        }
        clock.lap("record");
        clock.report(taken);
        if work.woke {
            // The wake taken inside the pass may have been about something
            // else than a new instance (an edit, a Docker event): look again.
            self.wake.notify_one();
        }
        Ok(taken)
    }

    /// Loads the generated config when the live one differs (Caddy restarted
    /// empty, someone edited it, or the routes changed).
    async fn sync_caddy(&self, rows: &[crate::store::InstanceRow]) {
        let wanted = generate(&caddy_settings(&self.config), &routes(rows, &self.config));
        let result = async {
            let started = Instant::now();
            let live = self.caddy.config().await?;
            let read_ms = started.elapsed().as_millis() as u64;
            if config_hash(&live) != config_hash(&wanted) {
                self.caddy.load(&wanted).await?;
                tracing::debug!(
                    read_ms,
                    load_ms = started.elapsed().as_millis() as u64 - read_ms,
                    "timing caddy"
                );
                self.stats.caddy_loads.fetch_add(1, Ordering::Relaxed);
                tracing::info!(routes = rows.len(), "caddy config loaded");
            }
            Ok::<_, crate::caddy::CaddyError>(())
        }
        .await;
        if let Err(e) = result {
            self.stats.caddy_errors.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(error = %e, "caddy not in sync");
        }
    }
}

/// Where a pass spends its time, as one debug line (`timing pass`) that
/// `benches/core.rs` reads back: the create path is tuned from this.
struct PassClock {
    started: Instant,
    last: Instant,
    laps: Vec<(&'static str, u64)>,
}

impl PassClock {
    fn start() -> Self {
        let now = Instant::now();
        Self {
            started: now,
            last: now,
            laps: Vec::with_capacity(8),
        }
    }

    fn lap(&mut self, phase: &'static str) {
        let now = Instant::now();
        self.laps
            .push((phase, now.duration_since(self.last).as_millis() as u64));
        self.last = now;
    }

    /// Idle passes (no actions) stay quiet: they are the 30 s heartbeat.
    fn report(&self, actions: usize) {
        if actions == 0 {
            return;
        }
        let laps: Vec<String> = self
            .laps
            .iter()
            .map(|(p, ms)| format!("{p}={ms}"))
            .collect();
        tracing::debug!(
            actions,
            total_ms = self.started.elapsed().as_millis() as u64,
            laps = %laps.join(","),
            "timing pass"
        );
    }
}

async fn forward_docker_events(docker: Docker, wake: Arc<Notify>) {
    loop {
        let mut events = Box::pin(docker.events());
        while let Some(event) = events.next().await {
            match event {
                Ok(()) => wake.notify_one(),
                Err(e) => {
                    tracing::debug!(error = %e, "docker event stream broke");
                    break;
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// The CLI writes to the same database; SQLite's data_version moves when
/// another connection commits, which is exactly "someone else changed it".
/// The LLM key worker is told too: `berth llm rotate` or a client made by
/// the CLI is its business as much as the reconciler's.
async fn watch_external_writes(store: Store, wake: Arc<Notify>, llm_wake: Option<Arc<Notify>>) {
    let mut last = None;
    loop {
        if let Ok(v) = store.call(|conn| crate::store::data_version(conn)).await {
            if last.is_some_and(|l| l != v) {
                wake.notify_one();
                if let Some(llm) = &llm_wake {
                    llm.notify_one();
                }
            }
            last = Some(v);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
