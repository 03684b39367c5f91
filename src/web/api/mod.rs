//! JSON API v1. Everything but `/health` needs a bearer token.

mod clients;
mod instances;
mod plans;
pub(crate) mod usage;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use std::sync::atomic::Ordering;

use super::{auth, AppState};

pub fn router(state: AppState) -> Router<AppState> {
    let protected = Router::new()
        .merge(plans::router())
        .merge(clients::router())
        .merge(instances::router())
        .merge(usage::router())
        .route_layer(axum::middleware::from_fn_with_state(
            state,
            auth::require_token,
        ));
    Router::new()
        .route("/health", get(health))
        .merge(protected)
        .fallback(not_found)
}

async fn not_found(uri: axum::http::Uri) -> super::AppError {
    super::AppError::new(
        axum::http::StatusCode::NOT_FOUND,
        format!("no API route {}", uri.path()),
    )
}

async fn health(State(state): State<AppState>) -> Json<Value> {
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "reconcile": {
            "passes": state.stats.passes.load(Ordering::Relaxed),
            "errors": state.stats.errors.load(Ordering::Relaxed),
            "caddy_loads": state.stats.caddy_loads.load(Ordering::Relaxed),
            "caddy_errors": state.stats.caddy_errors.load(Ordering::Relaxed),
        }
    }))
}
