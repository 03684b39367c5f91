use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

use super::{AppError, AppState};
use crate::audit::Actor;

/// Requires `Authorization: Bearer <token>`; puts the token's [`Actor`] (with
/// the peer address) into the request for handlers and the audit log.
pub async fn require_token(
    State(state): State<AppState>,
    mut req: Request,
    next: Next,
) -> Result<Response, AppError> {
    let token = req
        .headers()
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(AppError::unauthorized)?;
    let name = state
        .ops
        .authenticate_token(token)
        .await?
        .ok_or_else(AppError::unauthorized)?;
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
) -> Result<Response, AppError> {
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
