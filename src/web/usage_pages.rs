//! The usage pages under `/usage`. Until the admin UI's session auth is
//! merged they sit behind the API's bearer-token check, like the JSON API.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::Router;
use maud::Markup;

use super::api::usage::{range, Params};
use super::views::usage as view;
use super::{auth, AppError, AppState};
use crate::metrics::Range;

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/", get(dashboard))
        .route("/host", get(host))
        .route("/clients/{slug}", get(client))
        .route("/instances/{id}", get(instance))
        .route_layer(axum::middleware::from_fn_with_state(
            state,
            auth::require_token,
        ))
}

async fn dashboard(State(s): State<AppState>) -> Result<Markup, AppError> {
    let top = s.ops.top_consumers(Range::Day).await?;
    let warnings = s.ops.quota_warnings().await?;
    let host = s.ops.host_usage(Range::Day).await?;
    Ok(view::dashboard(&top, &warnings, &host))
}

async fn host(State(s): State<AppState>, q: Params) -> Result<Markup, AppError> {
    Ok(view::host_page(&s.ops.host_usage(range(&q)?).await?))
}

async fn client(
    State(s): State<AppState>,
    Path(slug): Path<String>,
    q: Params,
) -> Result<Markup, AppError> {
    Ok(view::client_page(
        &s.ops.client_usage(&slug, range(&q)?).await?,
    ))
}

async fn instance(
    State(s): State<AppState>,
    Path(id): Path<i64>,
    q: Params,
) -> Result<Markup, AppError> {
    let r = range(&q)?;
    Ok(view::instance_page(&s.ops.instance_usage(id, r).await?, r))
}
