//! The `[docker]`, `[caddy]`, `[backup]`, `[metrics]`, `[web]` and `[audit]`
//! sections with their defaults.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::duration as humantime_serde_lite;

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsConfig {
    /// false → no sampler runs (history, charts and `/metrics` stay empty).
    pub enabled: bool,
    /// How often every container is sampled.
    #[serde(with = "humantime_serde_lite")]
    pub interval: Duration,
    /// How often data directories are walked for their size; a walk reads
    /// every inode, so it runs far less often than the sampler.
    #[serde(with = "humantime_serde_lite")]
    pub disk_interval: Duration,
    /// POSTed a JSON body when an instance goes over its storage quota.
    pub quota_webhook: Option<String>,
}

/// Backups: how they are written, when they run and how many are kept.
/// A plan's backup policy overrides `schedule` and the `keep_*` values.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// Cron expression (UTC) for scheduled backups; empty disables the internal scheduler.
    pub schedule: String,
    /// Cron expression (UTC) for re-verifying every instance's newest backup; empty disables.
    pub verify_schedule: String,
    /// zstd level, 1-19.
    pub level: i32,
    /// zstd worker threads per backup; 0 means one per core.
    pub threads: u32,
    /// Backups running at once, so a schedule never freezes every tenant together.
    pub concurrency: usize,
    /// Offsite copies and restores running at once; they run beside local
    /// backups, never in their place.
    pub offsite_concurrency: usize,
    pub keep_last: u32,
    pub keep_daily: u32,
    pub keep_weekly: u32,
    pub keep_monthly: u32,
    /// An instance whose newest good backup is older than this is flagged stale.
    #[serde(with = "humantime_serde_lite")]
    pub stale_after: Duration,
    /// POSTed a JSON body when a backup, verification or restore fails,
    /// and when a client's LLM spend passes 80 % or 100 % of its budget.
    pub failure_webhook: Option<String>,
    /// How often the scheduler looks for schedules that fired since its last
    /// look. Cron has minute resolution, so 60s (aligned to the minute) is
    /// right in production; tests set a second or two together with a
    /// 6-field (seconds-first) expression.
    #[serde(with = "humantime_serde_lite")]
    pub schedule_tick: Duration,
}

impl Default for BackupConfig {
    fn default() -> Self {
        Self {
            schedule: "0 3 * * *".into(),
            verify_schedule: "30 4 * * 0".into(),
            level: 3,
            threads: 0,
            concurrency: 2,
            offsite_concurrency: 1,
            keep_last: 7,
            keep_daily: 7,
            keep_weekly: 4,
            keep_monthly: 6,
            stale_after: Duration::from_secs(36 * 3600),
            failure_webhook: None,
            schedule_tick: Duration::from_secs(60),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct WebConfig {
    /// A signed-in session ends after this long without a request.
    #[serde(with = "humantime_serde_lite")]
    pub session_idle: Duration,
    /// More Host names the UI and API answer to ("name" any port, or
    /// "name:port"), beside the listen address, localhost and the hosts of
    /// `[[caddy.routes]]` that proxy to berth. Others get 421 (DNS rebinding).
    pub allowed_hosts: Vec<String>,
}

impl Default for WebConfig {
    fn default() -> Self {
        Self {
            session_idle: Duration::from_secs(12 * 3600),
            allowed_hosts: Vec::new(),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuditConfig {
    /// Entries older than this are pruned once a day.
    #[serde(with = "humantime_serde_lite")]
    pub retention: Duration,
}

impl Default for AuditConfig {
    fn default() -> Self {
        Self {
            retention: Duration::from_secs(90 * 86400),
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DockerConfig {
    pub socket: PathBuf,
    /// Value of the `berth.managed` label: containers with another owner are never touched.
    pub owner: String,
    /// Container and network names are `<prefix>-<slug>[-<instance>]`.
    pub name_prefix: String,
    /// Static busybox used to build the `static-site` image with no registry.
    pub busybox: PathBuf,
    pub pids_limit: i64,
    /// Each instance network gets the /28 at offset `host_port * 16` of this
    /// pool: unique because host ports are, and the engine's default pools
    /// run out after ~30 networks.
    pub subnet_pool: String,
    /// Instance networks made ahead of need, so a create adopts one instead
    /// of waiting for the engine, which makes networks one at a time.
    /// Sized for a burst (20 clients at once); an idle one costs a bridge
    /// and ~10 iptables rules. 0: every create makes its own.
    pub network_pool: usize,
    /// A pull that has not finished after this long is abandoned, with this
    /// said in the instance's message; retried 30 s later.
    #[serde(with = "humantime_serde_lite")]
    pub pull_timeout: Duration,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CaddyConfig {
    pub admin: String,
    /// false → a plain HTTP listener on `http_port` (local use, tests).
    pub tls: bool,
    pub http_port: u16,
    pub https_port: u16,
    /// Interface Caddy listens on; empty means all.
    pub listen_host: String,
    pub acme_email: Option<String>,
    /// true → when nothing answers at `admin`, berth runs `caddy run` itself.
    pub manage: bool,
    pub bin: PathBuf,
    pub routes: Vec<StaticRoute>,
}

/// A route berth does not manage but keeps in Caddy's config, e.g. a status page.
#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct StaticRoute {
    pub host: String,
    pub upstream: Option<String>,
    pub respond: Option<String>,
    #[serde(default = "default_status")]
    pub status: u16,
}

fn default_status() -> u16 {
    200
}

impl Default for DockerConfig {
    fn default() -> Self {
        Self {
            socket: PathBuf::from("/var/run/docker.sock"),
            owner: "berth".into(),
            name_prefix: "berth".into(),
            busybox: PathBuf::from("/bin/busybox"),
            pids_limit: 512,
            subnet_pool: "10.208.0.0/12".into(),
            network_pool: 24,
            pull_timeout: Duration::from_secs(30 * 60),
        }
    }
}

impl fmt::Debug for MetricsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Webhook URLs often carry a token in the path or query: show the host only.
        let hook = self.quota_webhook.as_deref().map(|h| {
            reqwest::Url::parse(h)
                .map(|u| format!("{}://{}/…", u.scheme(), u.host_str().unwrap_or("")))
                .unwrap_or_else(|_| "…".into())
        });
        f.debug_struct("MetricsConfig")
            .field("enabled", &self.enabled)
            .field("interval", &self.interval)
            .field("disk_interval", &self.disk_interval)
            .field("quota_webhook", &hook)
            .finish()
    }
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval: Duration::from_secs(15),
            disk_interval: Duration::from_secs(300),
            quota_webhook: None,
        }
    }
}

impl Default for CaddyConfig {
    fn default() -> Self {
        Self {
            admin: "http://127.0.0.1:2019".into(),
            tls: false,
            http_port: 8088,
            https_port: 8443,
            listen_host: String::new(),
            acme_email: None,
            manage: true,
            bin: PathBuf::from("caddy"),
            routes: Vec::new(),
        }
    }
}
