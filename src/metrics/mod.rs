//! Usage: what every instance uses, kept as history, rolled up, billed and
//! exported to Prometheus.
//!
//! - [`cgroup`]: reads a container's counters straight from its cgroup (v1
//!   or v2) and its network namespace, falling back to Docker's stats API.
//! - [`sampler`]: the infrastructure worker (like the reconciler it may talk
//!   to Docker, read-only): every `metrics.interval` it turns counter
//!   readings into samples, writes them in one transaction, rolls up, prunes,
//!   walks data dirs now and then and checks quotas.
//! - [`disk`]: the slower loop walking data directories for their size.
//! - [`export`]: the monthly billing export (CSV, JSON).
//! - [`prometheus`]: the `/metrics` text exposition.
//! - [`quota`]: storage over quota → warning + webhook.
//! - [`host`]: host CPU, memory, disk and load via sysinfo.
//!
//! The pure bucket maths shared by rollups, charts and billing, and how long
//! each tier is kept, live in [`crate::domain::rollup`], below the store
//! that keeps the tiers.

pub mod cgroup;
pub mod disk;
mod error;
pub mod export;
pub mod host;
pub mod live;
pub mod prometheus;
pub mod quota;
mod reading;
pub mod sampler;

pub use error::SamplerError;
pub use live::Live;
pub use sampler::Sampler;

/// A chart's time range, as the API and pages accept it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Range {
    #[serde(rename = "1h")]
    Hour,
    #[serde(rename = "24h")]
    Day,
    #[serde(rename = "7d")]
    Week,
    #[serde(rename = "30d")]
    Month,
}

impl Range {
    pub fn parse(s: &str) -> Result<Self, String> {
        match s {
            "1h" => Ok(Self::Hour),
            "24h" => Ok(Self::Day),
            "7d" => Ok(Self::Week),
            "30d" => Ok(Self::Month),
            _ => Err(format!("range {s:?} is not one of 1h, 24h, 7d, 30d")),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "1h",
            Self::Day => "24h",
            Self::Week => "7d",
            Self::Month => "30d",
        }
    }

    pub fn secs(self) -> i64 {
        match self {
            Self::Hour => 3600,
            Self::Day => 86400,
            Self::Week => 7 * 86400,
            Self::Month => 30 * 86400,
        }
    }

    /// Bucket width of a chart point: a few hundred points per chart at most.
    /// 0 means one point per raw sample.
    pub fn step(self) -> i64 {
        match self {
            Self::Hour => 0,
            Self::Day => 300,
            Self::Week => 1800,
            Self::Month => 3600,
        }
    }

    pub const ALL: [Range; 4] = [Self::Hour, Self::Day, Self::Week, Self::Month];
}

pub fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
