//! Typed configuration: code defaults → TOML file → `BERTH_*` environment.
//! Every value is checked once here; the rest of berth takes it as given.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

mod duration;
mod env;
mod llm;
mod offsite;
mod paths;
mod portal;
mod ports;
mod sections;
#[cfg(test)]
mod tests;
mod updates;

use duration as humantime_serde_lite;
use env::{env_value, set_dotted};
pub use llm::{LlmConfig, ManagementKey, MANAGEMENT_KEY_ENV};
pub use offsite::{mask_userinfo, OffsiteTarget, RepoKind, RepoPassword};
pub use portal::{PortalConfig, SmtpConfig, SmtpTls};
use ports::parse_pool;
pub use ports::PortRange;
pub use sections::{
    AuditConfig, BackupConfig, CaddyConfig, DockerConfig, MetricsConfig, StaticRoute, WebConfig,
};
pub use updates::{RegistryConfig, RegistryPassword, UpdatesConfig};

/// The documented example, compiled in so `berth config example` prints it.
pub const EXAMPLE: &str = include_str!("../../config.example.toml");

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Where the admin UI and JSON API listen.
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    /// Defaults to `<data_dir>/backups`.
    pub backup_dir: Option<PathBuf>,
    /// Host address published container ports bind to; 127.0.0.1 when Caddy fronts them.
    pub bind_address: IpAddr,
    pub port_range: PortRange,
    /// Default domain of a client's first instance: `<slug>.<base_domain>`.
    pub base_domain: String,
    pub blueprint_dir: Option<PathBuf>,
    #[serde(with = "humantime_serde_lite")]
    pub reconcile_interval: Duration,
    pub docker: DockerConfig,
    pub caddy: CaddyConfig,
    pub backup: BackupConfig,
    pub web: WebConfig,
    pub audit: AuditConfig,
    pub metrics: MetricsConfig,
    /// Mails invitation and reset links when present.
    pub smtp: Option<SmtpConfig>,
    pub portal: PortalConfig,
    pub llm: LlmConfig,
    pub updates: UpdatesConfig,
    /// Logins for private registries, one `[[registry]]` table each.
    #[serde(rename = "registry")]
    pub registries: Vec<RegistryConfig>,
    /// `[[offsite]]`: restic repositories verified backups are copied to.
    pub offsite: Vec<OffsiteTarget>,
    /// The file this config was loaded from (absolute), copied offsite with
    /// the database so a host can be rebuilt; never from TOML.
    #[serde(skip)]
    pub source_file: Option<PathBuf>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:7070".parse().expect("literal"),
            data_dir: PathBuf::from("berth-data"),
            backup_dir: None,
            bind_address: IpAddr::from([127, 0, 0, 1]),
            port_range: PortRange {
                first: 8001,
                last: 8999,
            },
            base_domain: "localhost".into(),
            blueprint_dir: None,
            reconcile_interval: Duration::from_secs(30),
            docker: DockerConfig::default(),
            caddy: CaddyConfig::default(),
            backup: BackupConfig::default(),
            web: WebConfig::default(),
            audit: AuditConfig::default(),
            metrics: MetricsConfig::default(),
            smtp: None,
            portal: PortalConfig::default(),
            llm: LlmConfig::default(),
            updates: UpdatesConfig::default(),
            registries: Vec::new(),
            offsite: Vec::new(),
            source_file: None,
        }
    }
}

/// A configuration problem, always naming the key.
#[derive(Debug, thiserror::Error)]
#[error("config: {0}")]
pub struct ConfigError(pub String);

/// Environment variables that override a key, as (variable, dotted key).
pub const ENV_KEYS: &[(&str, &str)] = &[
    ("BERTH_LISTEN", "listen"),
    ("BERTH_DATA_DIR", "data_dir"),
    ("BERTH_BACKUP_DIR", "backup_dir"),
    ("BERTH_BIND_ADDRESS", "bind_address"),
    ("BERTH_PORT_RANGE", "port_range"),
    ("BERTH_BASE_DOMAIN", "base_domain"),
    ("BERTH_BLUEPRINT_DIR", "blueprint_dir"),
    ("BERTH_RECONCILE_INTERVAL", "reconcile_interval"),
    ("BERTH_DOCKER_SOCKET", "docker.socket"),
    ("BERTH_DOCKER_OWNER", "docker.owner"),
    ("BERTH_DOCKER_NAME_PREFIX", "docker.name_prefix"),
    ("BERTH_DOCKER_BUSYBOX", "docker.busybox"),
    ("BERTH_DOCKER_NETWORK_POOL", "docker.network_pool"),
    ("BERTH_DOCKER_PULL_TIMEOUT", "docker.pull_timeout"),
    ("BERTH_CADDY_ADMIN", "caddy.admin"),
    ("BERTH_CADDY_TLS", "caddy.tls"),
    ("BERTH_CADDY_HTTP_PORT", "caddy.http_port"),
    ("BERTH_CADDY_HTTPS_PORT", "caddy.https_port"),
    ("BERTH_CADDY_LISTEN_HOST", "caddy.listen_host"),
    ("BERTH_CADDY_ACME_EMAIL", "caddy.acme_email"),
    ("BERTH_CADDY_MANAGE", "caddy.manage"),
    ("BERTH_CADDY_BIN", "caddy.bin"),
    ("BERTH_BACKUP_SCHEDULE", "backup.schedule"),
    ("BERTH_BACKUP_LEVEL", "backup.level"),
    ("BERTH_BACKUP_CONCURRENCY", "backup.concurrency"),
    ("BERTH_BACKUP_FAILURE_WEBHOOK", "backup.failure_webhook"),
    (
        "BERTH_BACKUP_OFFSITE_CONCURRENCY",
        "backup.offsite_concurrency",
    ),
    ("BERTH_WEB_SESSION_IDLE", "web.session_idle"),
    ("BERTH_AUDIT_RETENTION", "audit.retention"),
    ("BERTH_METRICS_ENABLED", "metrics.enabled"),
    ("BERTH_METRICS_INTERVAL", "metrics.interval"),
    ("BERTH_METRICS_QUOTA_WEBHOOK", "metrics.quota_webhook"),
    ("BERTH_LLM_PROVIDER", "llm.provider"),
    ("BERTH_LLM_BASE_URL", "llm.base_url"),
    ("BERTH_LLM_MANAGEMENT_KEY_FILE", "llm.management_key_file"),
    ("BERTH_LLM_POLL_INTERVAL", "llm.poll_interval"),
    ("BERTH_LLM_INFERENCE_URL", "llm.inference_url"),
    ("BERTH_UPDATES_HEALTH_TIMEOUT", "updates.health_timeout"),
    ("BERTH_UPDATES_PARALLEL", "updates.parallel"),
    ("BERTH_UPDATES_CHECK_SCHEDULE", "updates.check_schedule"),
];

impl Config {
    /// Loads defaults, then the file (if given), then the environment.
    pub fn load(
        file: Option<&Path>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Self, ConfigError> {
        let mut table = match file {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| ConfigError(format!("cannot read {}: {e}", path.display())))?;
                text.parse::<toml::Table>().map_err(|e| {
                    ConfigError(format!("{}: {}", path.display(), one_line(&e.to_string())))
                })?
            }
            None => toml::Table::new(),
        };
        for (var, key) in ENV_KEYS {
            if let Some(value) = env(var) {
                set_dotted(&mut table, key, env_value(&value));
            }
        }
        let mut config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(|e: toml::de::Error| ConfigError(one_line(&e.to_string())))?;
        config.resolve_smtp_password(&env)?;
        config.validate()?;
        let cwd = std::env::current_dir()
            .map_err(|e| ConfigError(format!("cannot read the current directory: {e}")))?;
        config.resolve_paths(&cwd);
        config.source_file = file.map(|p| cwd.join(p));
        config.llm.load_key(&env)?;
        for (i, r) in config.registries.iter_mut().enumerate() {
            r.load_password(i, &env, &cwd)?;
        }
        offsite::load(&mut config.offsite, &env)?;
        Ok(config)
    }

    /// Makes every configured path absolute against `cwd`, once. Relative
    /// paths are written for a person in a shell (`data_dir = "berth-data"`),
    /// but berth hands them to processes with other working directories:
    /// Docker resolves bind mounts in the engine, a managed Caddy runs in
    /// its own state dir. Resolving here means nothing downstream has to care.
    pub fn resolve_paths(&mut self, cwd: &Path) {
        let abs = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = cwd.join(&*p);
            }
        };
        abs(&mut self.data_dir);
        if let Some(dir) = &mut self.backup_dir {
            abs(dir);
        }
        match &mut self.blueprint_dir {
            Some(dir) => abs(dir),
            // The default is decided now too, so a later chdir cannot change it.
            None => self.blueprint_dir = Some(paths::default_blueprint_dir(cwd)),
        }
        self.portal.resolve_paths(cwd);
        abs(&mut self.docker.socket);
        abs(&mut self.docker.busybox);
        // A bare name ("caddy") is looked up in PATH at spawn; only a path
        // with a directory part ("./caddy") is relative to the current dir.
        if self.caddy.bin.components().count() > 1 {
            abs(&mut self.caddy.bin);
        }
        self.llm.resolve_paths(cwd, &self.data_dir);
        offsite::resolve_paths(&mut self.offsite, cwd);
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let bad = |key: &str, why: String| Err(ConfigError(format!("{key}: {why}")));
        if self.data_dir.as_os_str().is_empty() {
            return bad("data_dir", "is empty".into());
        }
        if let Err(e) = crate::domain::Hostname::parse(&self.base_domain) {
            return bad("base_domain", e.problem);
        }
        let admin_ok = self.caddy.admin.starts_with("http://")
            && reqwest::Url::parse(&self.caddy.admin).is_ok();
        if !admin_ok {
            return bad(
                "caddy.admin",
                format!("{:?} is not an http:// URL", self.caddy.admin),
            );
        }
        if self.caddy.tls
            && self
                .caddy
                .acme_email
                .as_deref()
                .is_none_or(|e| crate::domain::Email::parse(e).is_err())
        {
            return bad(
                "caddy.acme_email",
                "a valid email is required when caddy.tls = true".into(),
            );
        }
        if self.caddy.http_port == 0 || (self.caddy.tls && self.caddy.https_port == 0) {
            return bad("caddy.http_port", "ports must be non-zero".into());
        }
        if self.web.session_idle < Duration::from_secs(1) {
            return bad("web.session_idle", "must be at least 1s".into());
        }
        if self.audit.retention < Duration::from_secs(86400) {
            return bad("audit.retention", "must be at least 1d".into());
        }
        if self.reconcile_interval < Duration::from_secs(1) {
            return bad("reconcile_interval", "must be at least 1s".into());
        }
        if self.updates.health_timeout < Duration::from_secs(1) {
            return bad("updates.health_timeout", "must be at least 1s".into());
        }
        if self.metrics.interval < Duration::from_secs(1) {
            return bad("metrics.interval", "must be at least 1s".into());
        }
        if let Some(hook) = &self.metrics.quota_webhook {
            if !(hook.starts_with("http://") || hook.starts_with("https://"))
                || reqwest::Url::parse(hook).is_err()
            {
                return bad(
                    "metrics.quota_webhook",
                    format!("{hook:?} is not an http(s) URL"),
                );
            }
        }
        let prefix_ok = !self.docker.name_prefix.is_empty()
            && self.docker.name_prefix.len() <= 16
            && self
                .docker
                .name_prefix
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !prefix_ok {
            return bad("docker.name_prefix", "must be 1-16 of a-z, 0-9, '-'".into());
        }
        if self.docker.owner.is_empty() {
            return bad("docker.owner", "is empty".into());
        }
        if let Err(why) = parse_pool(&self.docker.subnet_pool, self.port_range) {
            return bad("docker.subnet_pool", why);
        }
        if !(1..=19).contains(&self.backup.level) {
            return bad("backup.level", "must be 1-19".into());
        }
        if self.updates.parallel == 0 {
            return bad("updates.parallel", "must be at least 1".into());
        }
        if self.backup.offsite_concurrency == 0 {
            return bad("backup.offsite_concurrency", "must be at least 1".into());
        }
        if self.backup.concurrency == 0 {
            return bad("backup.concurrency", "must be at least 1".into());
        }
        if !(Duration::from_secs(1)..=Duration::from_secs(60)).contains(&self.backup.schedule_tick)
        {
            return bad("backup.schedule_tick", "must be 1s-60s".into());
        }
        for (key, expr) in [
            ("backup.schedule", &self.backup.schedule),
            ("backup.verify_schedule", &self.backup.verify_schedule),
            ("updates.check_schedule", &self.updates.check_schedule),
        ] {
            if let Err(why) = crate::domain::schedule::parse_optional(expr) {
                return bad(key, why);
            }
        }
        if let Some(url) = &self.backup.failure_webhook {
            if reqwest::Url::parse(url).is_err() {
                return bad("backup.failure_webhook", format!("{url:?} is not a URL"));
            }
        }
        self.validate_portal()?;
        self.llm.validate()?;
        for (i, route) in self.caddy.routes.iter().enumerate() {
            if let Err(e) = crate::domain::Hostname::parse(&route.host) {
                return bad(&format!("caddy.routes[{i}].host"), e.problem);
            }
            if route.upstream.is_some() == route.respond.is_some() {
                return bad(
                    &format!("caddy.routes[{i}]"),
                    "needs exactly one of upstream or respond".into(),
                );
            }
        }
        Ok(())
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // No secrets live in the config yet; keep Debug explicit so adding one
        // (an SMTP password, a webhook token) means deciding how to mask it.
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("backup_dir", &self.backup_dir())
            .field("blueprint_dir", &self.blueprint_dir())
            .field("port_range", &self.port_range)
            .field("base_domain", &self.base_domain)
            .field("docker", &self.docker)
            .field("caddy", &self.caddy)
            // The webhook URL may carry a token in its query: show only that one is set.
            .field("backup.schedule", &self.backup.schedule)
            .field(
                "backup.failure_webhook",
                &self.backup.failure_webhook.as_ref().map(|_| "<set>"),
            )
            .field("web", &self.web)
            .field("audit", &self.audit)
            .field("metrics", &self.metrics)
            .field("smtp", &self.smtp)
            .field("portal", &self.portal)
            .field("llm", &self.llm)
            .field("updates", &self.updates)
            .field("registries", &self.registries)
            .field("offsite", &self.offsite)
            .finish_non_exhaustive()
    }
}
