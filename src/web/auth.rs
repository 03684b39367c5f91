//! Who may pass: a bearer token for the API, a signed-in session for the
//! admin pages, loopback or a token for `/metrics`. Each guard runs as a
//! route layer chosen by the route's `Access`.

use std::net::SocketAddr;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::Session;

use super::csrf;
use super::error::{internal_error, WebError};
use super::session::{self, Ui};
use super::state::AppState;
use crate::audit::Actor;

/// Requires `Authorization: Bearer <token>`; puts the token's [`Actor`] (with
/// the peer address) into the request for handlers and the audit log.
pub async fn require_token(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, WebError> {
    let token = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(WebError::unauthorized)?;
    let name = state
        .ops
        .authenticate_token(token)
        .await?
        .ok_or_else(WebError::unauthorized)?;
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    req.extensions_mut().insert(Actor::token(&name, ip));
    Ok(next.run(req).await)
}

/// Headers a proxy adds: Caddy sets X-Forwarded-For on every request it
/// relays, others use Forwarded, X-Real-IP or Via.
const PROXY_HEADERS: [&str; 4] = ["x-forwarded-for", "forwarded", "x-real-ip", "via"];

/// A request from this host itself: a loopback peer that no proxy relayed.
/// A reverse proxy on this host (the managed Caddy) makes every visitor,
/// tenant containers included, look local, so any forwarding header
/// disqualifies. The one rule for the setup page and `/metrics`.
pub fn direct_loopback(peer: &SocketAddr, headers: &HeaderMap) -> bool {
    peer.ip().is_loopback() && !PROXY_HEADERS.iter().any(|h| headers.contains_key(*h))
}

/// For `/metrics`: a scraper on this host needs no token (the admin listener
/// is on loopback by default); from anywhere else, or through a proxy, a
/// bearer token is required.
pub async fn loopback_or_token(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, WebError> {
    let local = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|c| direct_loopback(&c.0, req.headers()));
    let has_token = req
        .headers()
        .contains_key(axum::http::header::AUTHORIZATION);
    if local && !has_token {
        return Ok(next.run(req).await);
    }
    require_token(State(state), req, next).await
}

/// Guards every admin page: no valid session → redirect to /login. A
/// session is void once its user is deleted or its password reset.
pub async fn require_user(
    State(state): State<AppState>,
    session: Session,
    mut req: Request,
    next: Next,
) -> Response {
    let user: Option<String> = session.get(session::USER).await.ok().flatten();
    let Some(user) = user else {
        return Redirect::to("/login").into_response();
    };
    let login_at: i64 = session
        .get(session::LOGIN_AT)
        .await
        .ok()
        .flatten()
        .unwrap_or(0);
    let valid = match state.ops.password_changed_at(&user).await {
        Ok(Some(changed)) => session::changed_micros(&changed) <= login_at,
        Ok(None) => false,
        Err(e) => {
            tracing::error!(error = %e, "checking session user");
            return internal_error();
        }
    };
    if !valid {
        let _ = session.flush().await;
        return Redirect::to("/login").into_response();
    }
    let idle = state.ui.session_idle;
    let touch_every = (idle / 8).min(Duration::from_secs(60)).as_micros() as i64;
    let touched: i64 = session
        .get(session::TOUCHED)
        .await
        .ok()
        .flatten()
        .unwrap_or(0);
    if session::now_micros() - touched >= touch_every {
        let _ = session
            .insert(session::TOUCHED, session::now_micros())
            .await;
    }
    let csrf = csrf::ensure(&session).await;
    let ip = session::peer_ip(req.extensions());
    req.extensions_mut().insert(Ui {
        user,
        csrf,
        ip,
        session,
    });
    next.run(req).await
}
