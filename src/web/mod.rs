//! The HTTP edge (axum only): the admin pages and the JSON API v1, both
//! built from one route table ([`routes`]). Handlers extract, call one `ops`
//! function, and render; they never talk to Docker or Caddy.

mod api;
mod auth;
pub mod csrf;
mod error;
pub mod host;
mod json;
mod metrics;
pub mod origin;
pub mod pages;
pub mod routes;
mod security_headers;
pub mod session;
mod usage_pages;
pub mod views;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tower_sessions_rusqlite_store::RusqliteStore;

pub use error::AppError;

use crate::ops::Ops;
use crate::reconcile::ReconcileStats;
use routes::Access;

#[derive(Clone)]
pub struct AppState {
    pub ops: Ops,
    pub stats: Arc<ReconcileStats>,
    pub ui: Arc<UiState>,
    /// The usage sampler's latest readings, for `/metrics`.
    pub live: crate::metrics::Live,
    /// The managed Caddy's state, for `/api/v1/health` and the dashboard.
    pub caddy: crate::caddy::CaddyStatus,
}

/// What the admin pages need beyond `Ops`.
pub struct UiState {
    pub sessions: RusqliteStore,
    pub session_idle: Duration,
    pub secure_cookies: bool,
    pub host: host::Host,
    /// Lets the first admin be created from a non-loopback address; printed
    /// in the log at start-up while no account exists.
    pub setup_code: String,
}

impl AppState {
    /// Opens the session store (`<data_dir>/sessions.db`) beside `ops`.
    pub async fn new(ops: Ops, stats: Arc<ReconcileStats>) -> anyhow::Result<Self> {
        let config = ops.config();
        std::fs::create_dir_all(&config.data_dir)?;
        let sessions = session::open_store(&config.data_dir.join("sessions.db")).await?;
        let ui = UiState {
            sessions,
            session_idle: config.web.session_idle,
            secure_cookies: config.caddy.tls,
            host: host::Host::new(config.data_dir.clone()),
            setup_code: pages::auth::new_setup_code(),
        };
        Ok(Self {
            ops,
            stats,
            ui: Arc::new(ui),
            live: crate::metrics::Live::default(),
            caddy: crate::caddy::CaddyStatus::default(),
        })
    }
}

/// Every route, behind the Host/Origin check for `listen` (the address
/// actually bound: tests bind port 0).
pub fn router(state: AppState, listen: SocketAddr) -> Router {
    let hosts = Arc::new(origin::HostPolicy::new(state.ops.config(), listen));
    let (mut public, mut pages, mut api) = (Router::new(), Router::new(), Router::new());
    for r in routes::all() {
        match r.access {
            Access::Public => public = public.route(r.path, r.endpoint),
            Access::Session => pages = pages.route(r.path, r.endpoint),
            Access::Token => api = api.route(r.path, r.endpoint),
        }
    }
    // route_layer: the last one added runs first, so the session check
    // answers before the CSRF check reads the body.
    let pages = pages
        .route_layer(axum::middleware::from_fn(csrf::verify))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            session::require_user,
        ));
    // Login and setup have no session yet: their token is a double-submit cookie.
    let public = public.route_layer(axum::middleware::from_fn_with_state(
        state.clone(),
        csrf::verify_anonymous,
    ));
    let ui = public
        .merge(pages)
        .fallback(pages::not_found)
        .layer(session::layer(
            state.ui.sessions.clone(),
            state.ui.session_idle,
            state.ui.secure_cookies,
        ));
    let api = api
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_token,
        ))
        .route_layer(axum::middleware::from_fn(api::json_errors));
    Router::new()
        .merge(api)
        .merge(ui)
        .merge(metrics::router(state.clone()))
        .layer(axum::middleware::from_fn(security_headers::add))
        .layer(axum::middleware::from_fn_with_state(hosts, origin::check))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .with_state(state)
}

/// Serves until `shutdown` resolves; the caller owns the listener (tests bind port 0).
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app =
        router(state, listener.local_addr()?).into_make_service_with_connect_info::<SocketAddr>();
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}
