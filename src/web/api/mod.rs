//! JSON API v1. Everything but `/health` needs a bearer token.

pub(super) mod backups;
mod client_users;
mod clients;
mod deletions;
mod export;
mod instances;
mod llm;
mod offsite;
mod offsite_runs;
mod plans;
mod requests;
mod rollouts;
mod updates;
pub(crate) mod usage;

use axum::extract::State;
use axum::Json;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

use super::route::{Access, Route};
use super::state::AppState;

pub fn routes() -> Vec<Route> {
    let mut routes = vec![Route::get("/api/v1/health", Access::Public, health)];
    routes.extend(plans::routes());
    routes.extend(requests::routes());
    routes.extend(clients::routes());
    routes.extend(client_users::routes());
    routes.extend(instances::routes());
    routes.extend(deletions::routes());
    routes.extend(export::routes());
    routes.extend(backups::routes());
    routes.extend(usage::routes());
    routes.extend(llm::routes());
    routes.extend(rollouts::routes());
    routes.extend(updates::routes());
    routes.extend(offsite::routes());
    routes.extend(offsite_runs::routes());
    routes
}

/// Public, so `berth doctor` and monitoring can tell a running berth (and
/// why its managed Caddy keeps failing) from anything else on the port.
async fn health(State(state): State<AppState>) -> Json<Value> {
    let caddy = state.caddy.get();
    let caddy_failing = caddy.managed && !caddy.up && caddy.failures > 0;
    Json(json!({
        "status": if caddy_failing { "degraded" } else { "ok" },
        "version": env!("CARGO_PKG_VERSION"),
        "pid": std::process::id(),
        "caddy": caddy,
        "reconcile": {
            "passes": state.stats.passes.load(Ordering::Relaxed),
            "errors": state.stats.errors.load(Ordering::Relaxed),
            "caddy_loads": state.stats.caddy_loads.load(Ordering::Relaxed),
            "caddy_errors": state.stats.caddy_errors.load(Ordering::Relaxed),
        }
    }))
}
