//! Caddy, programmed only through its JSON admin API.
//!
//! - [`config`]: pure `routes → serde_json::Value`; `hash` gives [`config_hash`]:
//!   the reconciler loads a new config only when the live one's hash differs.
//! - [`admin`]: a small HTTP client for `GET /config/` and `POST /load`.
//! - [`supervisor`]: `[caddy] manage = true` — berth runs Caddy as a child;
//!   `child` starts and stops the process, `child_log` forwards its output
//!   and keeps its last error.

pub mod admin;
mod child;
mod child_log;
pub mod config;
mod hash;
pub mod supervisor;

pub use admin::CaddyAdmin;
pub use config::{config_hash, generate, CaddySettings, Route, RouteTarget};
pub use supervisor::{run_managed, run_managed_with, CaddyState, CaddyStatus, ManagedOptions};

use std::path::PathBuf;

/// Everything that can go wrong talking to or running Caddy.
#[derive(Debug, thiserror::Error)]
pub enum CaddyError {
    #[error("invalid Caddy admin URL {url:?}: {reason}")]
    BadUrl { url: String, reason: String },
    #[error("Caddy admin API at {url} is unreachable: {source}")]
    Unreachable {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("Caddy rejected the request ({status}): {message}")]
    Rejected { status: u16, message: String },
    #[error("Caddy at {url} sent an unreadable answer: {source}")]
    BadResponse {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{action} {path}: {source}", path = path.display())]
    Io {
        action: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
