//! The usage pages: admin pages (signed-in session) like the rest of the UI.

use axum::extract::State;
use axum::response::{IntoResponse, Response};

use super::api::usage::{range, Params};
use super::json::ApiPath;
use super::pages::PageResult;
use super::routes::{Access, Route};
use super::session::Ui;
use super::views::usage as view;
use super::AppState;
use crate::metrics::Range;
use crate::ops::OpsError;

pub fn routes() -> Vec<Route> {
    const S: Access = Access::Session;
    vec![
        Route::get("/usage", S, dashboard),
        Route::get("/usage/host", S, host),
        Route::get("/usage/clients/{slug}", S, client),
        Route::get("/usage/instances/{id}", S, instance),
    ]
}

fn page_range(q: &Params) -> Result<Range, OpsError> {
    range(q).map_err(|e| OpsError::Refused(e.message))
}

async fn dashboard(State(s): State<AppState>, ui: Ui) -> PageResult {
    let top = s.ops.top_consumers(Range::Day).await?;
    let warnings = s.ops.quota_warnings().await?;
    let host = s.ops.host_usage(Range::Day).await?;
    Ok(view::dashboard(&ui, &top, &warnings, &host).into_response())
}

async fn host(State(s): State<AppState>, ui: Ui, q: Params) -> PageResult {
    let host = s.ops.host_usage(page_range(&q)?).await?;
    Ok(view::host_page(&ui, &host).into_response())
}

async fn client(
    State(s): State<AppState>,
    ui: Ui,
    ApiPath(slug): ApiPath<String>,
    q: Params,
) -> PageResult {
    let usage = s.ops.client_usage(&slug, page_range(&q)?).await?;
    Ok(view::client_page(&ui, &usage).into_response())
}

async fn instance(
    State(s): State<AppState>,
    ui: Ui,
    ApiPath(id): ApiPath<i64>,
    q: Params,
) -> PageResult<Response> {
    let r = page_range(&q)?;
    let usage = s.ops.instance_usage(id, r).await?;
    Ok(view::instance_page(&ui, &usage, r).into_response())
}
