//! `GET /metrics` for Prometheus: from loopback, or with a bearer token.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

use super::{auth, AppError, AppState};
use crate::metrics::prometheus;

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/metrics", get(metrics))
        .route_layer(axum::middleware::from_fn_with_state(
            state,
            auth::loopback_or_token,
        ))
}

async fn metrics(State(s): State<AppState>) -> Result<impl IntoResponse, AppError> {
    let mut body = prometheus::render(&s.live.snapshot(), &s.stats.snapshot());
    prometheus::render_backup_ages(&mut body, &s.ops.backup_ages().await?);
    Ok(([(header::CONTENT_TYPE, prometheus::CONTENT_TYPE)], body))
}
