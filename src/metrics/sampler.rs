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
use super::error::SamplerError;
use super::host::HostProbe;
use super::live::{Live, LiveInstance};
use super::quota;
use super::reading::{sample, Reading};
use crate::config::Config;
use crate::docker::{ContainerCounters, ContainerState, Docker};
use crate::domain::rollup::Sample;
use crate::store::metrics::HostSample;
use crate::store::usage::QuotaWarning;
use crate::store::{instances, metrics, usage, InstanceRow, Store};

const HOST_EVERY: Duration = Duration::from_secs(60);
const PRUNE_EVERY: Duration = Duration::from_secs(600);
const STATS_TIMEOUT: Duration = Duration::from_secs(5);

/// What one sweep did, for logs and the benchmark.
#[derive(Debug, Clone, Default)]
pub struct SweepReport {
    pub containers: usize,
    pub samples: usize,
    pub fallbacks: usize,
    pub elapsed: Duration,
}

/// One sweep's cgroup readings, by container id.
#[derive(Default)]
struct Readings {
    counters: HashMap<String, ContainerCounters>,
    /// Containers whose remembered init pid is no longer theirs (restarted):
    /// their network counters could not be read through it.
    stale: Vec<String>,
    host: Option<HostSample>,
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
    prev: HashMap<i64, Reading>,
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
        let running = self.running_containers().await?;
        let rows = self.live_rows().await?;
        self.fetch_pids(&running).await;
        let host_due = self.last_host.is_none_or(|t| t.elapsed() >= HOST_EVERY);
        let prune = self.last_prune.is_none_or(|t| t.elapsed() >= PRUNE_EVERY);
        let now_ts = super::unix_now().max(self.last_ts + 1);
        let mut read = self.read_cgroups(&running, host_due, now_ts).await?;
        for id in &read.stale {
            self.pids.remove(id);
        }
        let fallbacks = self.fallback(&running, &mut read.counters).await;
        let at = Instant::now();
        let disk = self.disk.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let (samples, live) = self.take_samples(&rows, &running, &read, at, now_ts, &disk);
        let n = samples.len();
        let new_warnings = self
            .record(&rows, samples, read.host, &disk, now_ts, prune)
            .await?;
        self.last_ts = now_ts;
        if host_due {
            self.last_host = Some(at);
        }
        if prune {
            self.last_prune = Some(at);
        }
        self.announce(new_warnings);
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

    /// Running managed containers by instance id.
    async fn running_containers(&self) -> Result<HashMap<i64, String>, SamplerError> {
        Ok(self
            .docker
            .list_managed()
            .await?
            .into_iter()
            .filter(|c| c.state == ContainerState::Running)
            .filter_map(|c| Some((c.instance_id?, c.id)))
            .collect())
    }

    /// Every instance not being removed, running or not: a stopped one
    /// still gets samples (`up` false) so its charts show the gap.
    async fn live_rows(&self) -> Result<Vec<InstanceRow>, SamplerError> {
        Ok(self
            .store
            .call(|c| instances::list_all(c))
            .await?
            .into_iter()
            .filter(|r| r.desired.is_live())
            .collect())
    }

    /// Reads the cgroup counters of the running containers (and, when due,
    /// the host) off the runtime: they are file reads.
    async fn read_cgroups(
        &self,
        running: &HashMap<i64, String>,
        host_due: bool,
        now_ts: i64,
    ) -> Result<Readings, SamplerError> {
        let ids: Vec<(String, Option<u32>)> = running
            .values()
            .map(|id| (id.clone(), self.pids.get(id).copied()))
            .collect();
        let (cgroups, host) = (self.cgroups.clone(), self.host.clone());
        tokio::task::spawn_blocking(move || {
            let mut cg = cgroups.lock().unwrap_or_else(|p| p.into_inner());
            let live: Vec<&str> = ids.iter().map(|(id, _)| id.as_str()).collect();
            cg.retain(&live);
            let mut read = Readings::default();
            for (id, pid) in &ids {
                if pid.is_some_and(|p| !cg.pid_belongs(id, p)) {
                    read.stale.push(id.clone());
                }
                if let Some(c) = cg.read(id, *pid) {
                    read.counters.insert(id.clone(), c);
                }
            }
            read.host = host_due.then(|| {
                host.lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .sample(now_ts)
            });
            read
        })
        .await
        .map_err(|e| SamplerError::Task(e.to_string()))
    }

    /// Turns this sweep's readings into samples (against each instance's
    /// previous reading) and the live view for `/metrics`.
    fn take_samples(
        &mut self,
        rows: &[InstanceRow],
        running: &HashMap<i64, String>,
        read: &Readings,
        at: Instant,
        now_ts: i64,
        disk: &HashMap<i64, u64>,
    ) -> (Vec<Sample>, Vec<LiveInstance>) {
        let mut samples = Vec::new();
        let mut live = Vec::new();
        for row in rows {
            let container = running.get(&row.id);
            let mut counters = container.and_then(|c| read.counters.get(c).copied());
            let prev = self.prev.get(&row.id);
            if let (Some(c), Some(p)) = (counters.as_mut(), prev.and_then(|p| p.counters)) {
                // No network reading this time (pid changed): carry the old
                // counters so the next reading's delta covers both intervals.
                if read.stale.iter().any(|s| Some(s) == container)
                    || (c.rx == 0 && c.tx == 0 && p.rx > 0)
                {
                    c.rx = p.rx;
                    c.tx = p.tx;
                }
            }
            let used = disk.get(&row.id).copied().unwrap_or(0);
            let reading = Reading {
                at,
                container: container.cloned(),
                counters,
            };
            if let Some(before) = prev {
                samples.push(sample(row.id, row.memory, used, now_ts, before, &reading));
            }
            self.prev.insert(row.id, reading);
            live.push(LiveInstance {
                instance_id: row.id,
                client: row.client_slug.clone(),
                instance: row.name.clone(),
                counters,
                disk: used,
                mem_limit: row.memory,
            });
        }
        self.prev.retain(|id, _| rows.iter().any(|r| r.id == *id));
        (samples, live)
    }

    /// Writes the samples, the host sample, the rollups and the storage
    /// warnings in one transaction; returns the storage warnings that are new.
    async fn record(
        &self,
        rows: &[InstanceRow],
        samples: Vec<Sample>,
        host: Option<HostSample>,
        disk: &HashMap<i64, u64>,
        now_ts: i64,
        prune: bool,
    ) -> Result<Vec<QuotaWarning>, SamplerError> {
        let subjects: Vec<(i64, i64, String, String)> = rows
            .iter()
            .map(|r| (r.id, r.client_id, r.client_slug.clone(), r.name.clone()))
            .collect();
        let over = quota::over_quota(rows, disk);
        self.store
            .write(move |tx| {
                for (id, client_id, slug, name) in &subjects {
                    metrics::upsert_subject(tx, *id, *client_id, slug, name)?;
                }
                for s in &samples {
                    metrics::insert_sample(tx, s)?;
                }
                if let Some(h) = &host {
                    metrics::insert_host(tx, h)?;
                }
                metrics::roll(tx, now_ts)?;
                if prune {
                    metrics::prune(tx, now_ts)?;
                }
                let started = usage::set_storage_warnings(tx, &over)?;
                let warnings = usage::warnings(tx, None)?;
                Ok(warnings
                    .into_iter()
                    .filter(|w| w.kind == "storage" && started.contains(&w.instance_id))
                    .collect())
            })
            .await
    }

    /// Logs storage warnings that just started and sends them to the
    /// configured webhook, without holding up the next sweep.
    fn announce(&self, started: Vec<QuotaWarning>) {
        if started.is_empty() {
            return;
        }
        for w in &started {
            tracing::warn!(client = %w.client_slug, instance = %w.instance, used = w.used, quota = w.quota, "storage over quota");
        }
        if let Some(url) = self.config.metrics.quota_webhook.clone() {
            let http = self.http.clone();
            tokio::spawn(async move { quota::notify(&http, &url, &started).await });
        }
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
