//! JSON API v1. Everything but `/health` needs a bearer token.

mod backups;
mod clients;
mod deletions;
mod instances;
mod plans;
pub(crate) mod usage;

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

use super::routes::{Access, Route};
use super::{AppError, AppState};

pub fn routes() -> Vec<Route> {
    let mut routes = vec![Route::get("/api/v1/health", Access::Public, health)];
    routes.extend(plans::routes());
    routes.extend(clients::routes());
    routes.extend(instances::routes());
    routes.extend(deletions::routes());
    routes.extend(backups::routes());
    routes.extend(usage::routes());
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

/// API clients parse every error as `{"error": ...}`; axum's own rejections
/// (a body over the size limit, a bad query string) are plain text, so they
/// are rewrapped here once instead of in every extractor.
pub async fn json_errors(req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !(res.status().is_client_error() || res.status().is_server_error()) || is_json {
        return res;
    }
    let status = res.status();
    let text = axum::body::to_bytes(res.into_body(), 16 * 1024)
        .await
        .map(|b| {
            String::from_utf8_lossy(&b)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    AppError::new(status, message).into_response()
}
