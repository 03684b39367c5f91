//! The HTTP edge (axum only): the JSON API v1 and, later, the admin pages.
//! Handlers extract, call one `ops` function, and render; they never talk
//! to Docker or Caddy.

mod api;
mod auth;
mod error;
mod json;
mod metrics;
mod usage_pages;
pub mod views;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

pub use error::AppError;

use crate::ops::Ops;
use crate::reconcile::ReconcileStats;

#[derive(Clone)]
pub struct AppState {
    pub ops: Ops,
    pub stats: Arc<ReconcileStats>,
    /// The usage sampler's latest readings, for `/metrics`.
    pub live: crate::metrics::Live,
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .nest("/api/v1", api::router(state.clone()))
        .merge(metrics::router(state.clone()))
        .nest("/usage", usage_pages::router(state.clone()))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .with_state(state)
}

/// Serves until `shutdown` resolves; the caller owns the listener (tests bind port 0).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
