use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
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

/// For `/metrics`: a scraper on this host needs no token (the admin listener
/// is on loopback by default); from anywhere else a bearer token is required.
pub async fn loopback_or_token(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Result<Response, AppError> {
    let loopback = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .is_some_and(|c| c.0.ip().is_loopback());
    let has_token = req
        .headers()
        .contains_key(axum::http::header::AUTHORIZATION);
    if loopback && !has_token {
        return Ok(next.run(req).await);
    }
    require_token(State(state), req, next).await
}
