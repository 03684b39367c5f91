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
