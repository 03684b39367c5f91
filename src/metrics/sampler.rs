//! The sampler: an infrastructure worker like the reconciler, allowed to
//! talk to Docker, but only to read (list containers, inspect for a pid,
//! stats as a fallback). Every `metrics.interval` one sweep reads each
//! managed container's counters, turns them into samples using the previous
//! reading, and writes them, the rollups and the quota state in one
//! transaction. Data directories are walked by a slower companion loop.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::future::join_all;

use super::cgroup::Cgroups;
use super::host::HostProbe;
use super::live::{Live, LiveInstance};
use super::quota;
use super::rollup::{counter_delta, Sample};
use crate::config::Config;
use crate::docker::{ContainerCounters, ContainerState, Docker, DockerError};
use crate::store::{instances, metrics, usage, InstanceRow, Store, StoreError};

const HOST_EVERY: Duration = Duration::from_secs(60);
const PRUNE_EVERY: Duration = Duration::from_secs(600);
const STATS_TIMEOUT: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum SamplerError {
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("sampler task failed: {0}")]
    Task(String),
}

/// What one sweep did, for logs and the benchmark.
#[derive(Debug, Clone, Default)]
pub struct SweepReport {
    pub containers: usize,
    pub samples: usize,
    pub fallbacks: usize,
    pub elapsed: Duration,
}

struct Prev {
    at: Instant,
    container: Option<String>,
    counters: Option<ContainerCounters>,
}

pub struct Sampler {
    store: Store,
    config: Arc<Config>,
    docker: Docker,
    live: Live,
    http: reqwest::Client,
    cgroups: Arc<Mutex<Cgroups>>,
    host: Arc<Mutex<HostProbe>>,
    pids: HashMap<String, u32>,
    prev: HashMap<i64, Prev>,
    disk: Arc<Mutex<HashMap<i64, u64>>>,
    last_ts: i64,
    last_host: Option<Instant>,
    last_prune: Option<Instant>,
}

impl Sampler {
    pub fn new(store: Store, config: Arc<Config>, docker: Docker, live: Live) -> Self {
        let cgroups = Cgroups::detect("/sys/fs/cgroup".as_ref(), "/proc".as_ref());
        tracing::debug!(version = ?cgroups.version(), "cgroup layout");
        let host = HostProbe::new(config.data_dir.clone());
        Self {
            store,
            docker,
            live,
            http: crate::tls::client_builder()
                .timeout(Duration::from_secs(10))
                .build()
                .unwrap_or_default(),
            cgroups: Arc::new(Mutex::new(cgroups)),
            host: Arc::new(Mutex::new(host)),
            pids: HashMap::new(),
            prev: HashMap::new(),
            disk: Arc::default(),
            last_ts: 0,
            last_host: None,
            last_prune: None,
            config,
        }
    }

    pub async fn run(mut self, shutdown: impl std::future::Future<Output = ()>) {
        let walker = tokio::spawn(super::disk::walk_loop(
            self.store.clone(),
            self.config.clone(),
            self.disk.clone(),
        ));
        tokio::pin!(shutdown);
        let interval = self.config.metrics.interval;
        let mut next = tokio::time::Instant::now();
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                _ = tokio::time::sleep_until(next) => {}
            }
            match self.sweep().await {
                Ok(r) => tracing::debug!(
                    containers = r.containers,
                    samples = r.samples,
                    ms = r.elapsed.as_millis() as u64,
                    "usage sweep"
                ),
                Err(e) => {
                    self.live.failed();
                    tracing::warn!(error = %e, "usage sweep failed");
                }
            }
            // Missed ticks are skipped, not caught up: samples carry their real length.
            next = (next + interval).max(tokio::time::Instant::now());
        }
        walker.abort();
    }

    /// Reads every container once and records the samples.
    pub async fn sweep(&mut self) -> Result<SweepReport, SamplerError> {
        let started = Instant::now();
        let running: HashMap<i64, String> = self
            .docker
            .list_managed()
            .await?
            .into_iter()
            .filter(|c| c.state == ContainerState::Running)
            .filter_map(|c| Some((c.instance_id?, c.id)))
            .collect();
        let rows: Vec<InstanceRow> = self
            .store
            .call(|c| instances::list_all(c))
            .await?
            .into_iter()
            .filter(|r| r.desired.is_live())
            .collect();
        self.fetch_pids(&running).await;

        let ids: Vec<(String, Option<u32>)> = running
            .values()
            .map(|id| (id.clone(), self.pids.get(id).copied()))
            .collect();
        let (cgroups, host) = (self.cgroups.clone(), self.host.clone());
        let host_due = self.last_host.is_none_or(|t| t.elapsed() >= HOST_EVERY);
        let now_ts = super::unix_now().max(self.last_ts + 1);
        let (mut readings, stale, host_sample) = tokio::task::spawn_blocking(move || {
            let mut cg = cgroups.lock().unwrap_or_else(|p| p.into_inner());
            let live: Vec<&str> = ids.iter().map(|(id, _)| id.as_str()).collect();
            cg.retain(&live);
            let mut readings = HashMap::new();
            let mut stale = Vec::new();
            for (id, pid) in &ids {
                if let Some(p) = pid {
                    if !cg.pid_belongs(id, *p) {
                        stale.push(id.clone());
                    }
                }
                if let Some(c) = cg.read(id, *pid) {
                    readings.insert(id.clone(), c);
                }
            }
            let host = host_due.then(|| {
                host.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .sample(now_ts)
            });
            (readings, stale, host)
        })
        .await
        .map_err(|e| SamplerError::Task(e.to_string()))?;
        for id in &stale {
            self.pids.remove(id);
        }
        let fallbacks = self.fallback(&running, &mut readings).await;
        let at = Instant::now();

        let disk = self.disk.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let mut samples = Vec::new();
        let mut live = Vec::new();
        for row in &rows {
            let container = running.get(&row.id);
            let mut counters = container.and_then(|c| readings.get(c).copied());
            let prev = self.prev.get(&row.id);
            if let (Some(c), Some(p)) = (counters.as_mut(), prev.and_then(|p| p.counters)) {
                // No network reading this time (pid changed): carry the old
                // counters so the next reading's delta covers both intervals.
                if stale.iter().any(|s| Some(s) == container)
                    || (c.rx == 0 && c.tx == 0 && p.rx > 0)
                {
                    c.rx = p.rx;
                    c.tx = p.tx;
                }
            }
            if let Some(p) = prev {
                samples.push(sample(
                    row,
                    p,
                    counters.as_ref(),
                    container,
                    at,
                    now_ts,
                    &disk,
                ));
            }
            self.prev.insert(
                row.id,
                Prev {
                    at,
                    container: container.cloned(),
                    counters,
                },
            );
            live.push(LiveInstance {
                instance_id: row.id,
                client: row.client_slug.clone(),
                instance: row.name.clone(),
                counters,
                disk: disk.get(&row.id).copied().unwrap_or(0),
                mem_limit: row.memory,
            });
        }
        self.prev.retain(|id, _| rows.iter().any(|r| r.id == *id));

        let prune = self.last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY);
        let subjects: Vec<(i64, i64, String, String)> = rows
            .iter()
            .map(|r| (r.id, r.client_id, r.client_slug.clone(), r.name.clone()))
            .collect();
        let over = quota::over_quota(&rows, &disk);
        let n = samples.len();
        let started_warnings = self
            .store
            .call(move |conn| {
                let tx = conn.transaction()?;
                for (id, client_id, slug, name) in &subjects {
                    metrics::upsert_subject(&tx, *id, *client_id, slug, name)?;
                }
                for s in &samples {
                    metrics::insert_sample(&tx, s)?;
                }
                if let Some(h) = &host_sample {
                    metrics::insert_host(&tx, h)?;
                }
                metrics::roll(&tx, now_ts)?;
                if prune {
                    metrics::prune(&tx, now_ts)?;
                }
                let started = usage::set_storage_warnings(&tx, &over)?;
                let warnings = usage::warnings(&tx, None)?;
                tx.commit()?;
                Ok(warnings
                    .into_iter()
                    .filter(|w| w.kind == "storage" && started.contains(&w.instance_id))
                    .collect::<Vec<_>>())
            })
            .await?;
        self.last_ts = now_ts;
        if host_due {
            self.last_host = Some(at);
        }
        if prune {
            self.last_prune = Some(at);
        }
        if !started_warnings.is_empty() {
            for w in &started_warnings {
                tracing::warn!(client = %w.client_slug, instance = %w.instance, used = w.used, quota = w.quota, "storage over quota");
            }
            if let Some(url) = self.config.metrics.quota_webhook.clone() {
                let http = self.http.clone();
                tokio::spawn(async move { quota::notify(&http, &url, &started_warnings).await });
            }
        }
        let elapsed = started.elapsed();
        self.live
            .publish(live, elapsed.as_secs_f64(), fallbacks as u64);
        Ok(SweepReport {
            containers: running.len(),
            samples: n,
            fallbacks,
            elapsed,
        })
    }

    /// Inspects (concurrently) the containers whose init pid is unknown.
    async fn fetch_pids(&mut self, running: &HashMap<i64, String>) {
        self.pids.retain(|id, _| running.values().any(|r| r == id));
        let missing: Vec<&String> = running
            .values()
            .filter(|id| !self.pids.contains_key(*id))
            .collect();
        let docker = &self.docker;
        let found = join_all(
            missing
                .into_iter()
                .map(|id| async move { (id.clone(), docker.init_pid(id).await.ok().flatten()) }),
        )
        .await;
        for (id, pid) in found {
            if let Some(pid) = pid {
                self.pids.insert(id, pid);
            }
        }
    }

    /// Asks the engine for the containers whose cgroup could not be read.
    async fn fallback(
        &self,
        running: &HashMap<i64, String>,
        readings: &mut HashMap<String, ContainerCounters>,
    ) -> usize {
        let missing: Vec<&String> = running
            .values()
            .filter(|id| !readings.contains_key(*id))
            .collect();
        let docker = &self.docker;
        let got = join_all(missing.into_iter().map(|id| async move {
            let r = tokio::time::timeout(STATS_TIMEOUT, docker.stats_once(id)).await;
            (id.clone(), r)
        }))
        .await;
        let mut n = 0;
        for (id, r) in got {
            match r {
                Ok(Ok(c)) => {
                    readings.insert(id, c);
                    n += 1;
                }
                Ok(Err(e)) => tracing::debug!(container = %id, error = %e, "stats fallback failed"),
                Err(_) => tracing::debug!(container = %id, "stats fallback timed out"),
            }
        }
        n
    }
}

/// The sample of one instance since its previous reading. A container that
/// is new since then (recreated, restarted) counts everything it did.
fn sample(
    row: &InstanceRow,
    prev: &Prev,
    now: Option<&ContainerCounters>,
    container: Option<&String>,
    at: Instant,
    ts: i64,
    disk: &HashMap<i64, u64>,
) -> Sample {
    let secs = at.duration_since(prev.at).as_secs_f64().max(0.001);
    let base = match (prev.counters, prev.container.as_ref() == container) {
        (Some(p), true) => p,
        _ => ContainerCounters::default(),
    };
    let (up, cpu, mem, c) = match now {
        Some(c) => {
            let cpu_ns = counter_delta(base.cpu_ns, c.cpu_ns);
            (true, cpu_ns as f64 / 1e9 / secs, c.mem, *c)
        }
        None => (false, 0.0, 0, base),
    };
    Sample {
        instance_id: row.id,
        ts,
        secs,
        up,
        cpu,
        mem,
        mem_limit: row.memory,
        disk: disk.get(&row.id).copied().unwrap_or(0),
        rx: counter_delta(base.rx, c.rx),
        tx: counter_delta(base.tx, c.tx),
        blk_read: counter_delta(base.blk_read, c.blk_read),
        blk_write: counter_delta(base.blk_write, c.blk_write),
        pids: if up { c.pids } else { 0 },
        oom_kills: counter_delta(base.oom_kills, c.oom_kills),
        mem_hits: counter_delta(base.mem_hits, c.mem_hits),
    }
}
