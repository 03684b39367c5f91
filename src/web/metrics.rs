//! `GET /metrics` for Prometheus: from loopback, or with a bearer token.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::error::WebError;
use super::route::{Access, Route};
use super::state::AppState;
use crate::metrics::prometheus;

pub fn routes() -> Vec<Route> {
    vec![Route::get("/metrics", Access::LoopbackOrToken, metrics)]
}

async fn metrics(State(s): State<AppState>) -> Result<impl IntoResponse, WebError> {
    let mut body = prometheus::render(&s.live.snapshot(), &s.stats.snapshot());
    prometheus::render_backup_ages(&mut body, &s.ops.backup_ages().await?);
    prometheus::render_llm(&mut body, &s.ops.llm_gauges().await?);
    prometheus::render_offsite(&mut body, &s.ops.offsite_gauges().await?);
    prometheus::render_offsite_maintenance(&mut body, &s.ops.offsite_maintenance_gauges().await?);
    Ok(([(header::CONTENT_TYPE, prometheus::CONTENT_TYPE)], body))
}
