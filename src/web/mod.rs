//! The HTTP edge (axum only): the admin pages, the client portal under
//! `/portal`, the JSON API v1 and `/metrics`, all built from one route
//! table ([`routes`]). Handlers
//! extract, call one `ops` function, and render a view or JSON; they never
//! talk to Docker or Caddy.

mod api;
mod auth;
pub mod csrf;
mod error;
mod forms;
mod json;
mod metrics;
pub mod origin;
pub mod pages;
mod portal;
pub mod portal_session;
pub mod route;
pub mod routes;
mod security_headers;
pub mod session;
pub mod state;
mod urls;
pub mod views;

#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use tokio::net::TcpListener;

pub use state::AppState;

use route::Access;

/// Every route, behind the Host/Origin check for `listen` (the address
/// actually bound: tests bind port 0).
pub fn router(state: AppState, listen: SocketAddr) -> Router {
    let hosts = Arc::new(origin::HostPolicy::new(state.ops.config(), listen));
    let mut groups: [(Access, Router<AppState>); 6] = [
        (Access::Public, Router::new()),
        (Access::Session, Router::new()),
        (Access::Token, Router::new()),
        (Access::LoopbackOrToken, Router::new()),
        (Access::PortalPublic, Router::new()),
        (Access::Portal, Router::new()),
    ];
    for r in routes::all() {
        let (_, group) = groups
            .iter_mut()
            .find(|(a, _)| *a == r.access)
            .expect("a group per access");
        *group = std::mem::take(group).route(r.path, r.endpoint);
    }
    let [public, pages, api, metrics, portal_public, portal] =
        groups.map(|(access, group)| guard(access, group, &state));
    let ui = public
        .merge(pages)
        .fallback(error::not_found)
        .layer(session::layer(
            state.ui.sessions.clone(),
            state.ui.session_idle,
            state.ui.secure_cookies,
        ));
    // The portal's own session layer: its cookie never reaches the admin
    // pages' layer, nor theirs this one.
    let portal = portal_public.merge(portal).layer(portal_session::layer(
        state.ui.portal_sessions.clone(),
        state.ui.session_idle,
        state.ui.secure_cookies,
    ));
    Router::new()
        .merge(api)
        .merge(metrics)
        .merge(portal)
        .merge(ui)
        .layer(axum::middleware::from_fn(security_headers::add))
        .layer(axum::middleware::from_fn_with_state(hosts, origin::check))
        .layer(axum::extract::DefaultBodyLimit::max(64 * 1024))
        .with_state(state)
}

/// The checks an access level stands for, and its error shape outermost so
/// it also shapes the checks' own refusals. route_layer: the last one added
/// runs first, so the session check answers before the CSRF check reads
/// the body.
fn guard(access: Access, group: Router<AppState>, state: &AppState) -> Router<AppState> {
    use axum::middleware::{from_fn, from_fn_with_state};
    let group = match access {
        // Login and setup have no session yet: their token is a double-submit cookie.
        Access::Public => group.route_layer(from_fn_with_state(
            state.ui.secure_cookies,
            csrf::verify_anonymous,
        )),
        Access::Session => group
            .route_layer(from_fn(csrf::verify))
            .route_layer(from_fn_with_state(state.clone(), auth::require_user)),
        Access::Token => group.route_layer(from_fn_with_state(state.clone(), auth::require_token)),
        Access::LoopbackOrToken => {
            group.route_layer(from_fn_with_state(state.clone(), auth::loopback_or_token))
        }
        Access::PortalPublic => group.route_layer(from_fn_with_state(
            state.ui.secure_cookies,
            csrf::verify_anonymous,
        )),
        Access::Portal => group
            .route_layer(from_fn(csrf::verify))
            .route_layer(from_fn_with_state(
                state.clone(),
                portal_session::require_client_user,
            )),
    };
    group.route_layer(from_fn_with_state(access, error::render))
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
