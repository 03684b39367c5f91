//! The usage pages: admin pages (signed-in session) like the rest of the UI.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;

use crate::metrics::Range;
use crate::web::api::usage::{range, Params};
use crate::web::error::{WebError, WebResult};
use crate::web::json::ApiPath;
use crate::web::route::{Access, Route};
use crate::web::session::Ui;
use crate::web::state::AppState;
use crate::web::views::usage as view;

pub fn routes() -> Vec<Route> {
    const S: Access = Access::Session;
    vec![
        Route::get("/usage", S, dashboard),
        Route::get("/usage/host", S, host),
        Route::get("/usage/clients/{slug}", S, client),
        Route::get("/usage/instances/{id}", S, instance),
    ]
}

/// A bad range on a page is a 422, whatever the API would answer.
pub(crate) fn page_range(q: &Params) -> Result<Range, WebError> {
    range(q).map_err(|e| match e {
        WebError::Edge(_, m) => WebError::new(StatusCode::UNPROCESSABLE_ENTITY, m),
        other => other,
    })
}

async fn dashboard(State(s): State<AppState>, ui: Ui) -> WebResult {
    let top = s.ops.top_consumers(Range::Day).await?;
    let warnings = s.ops.quota_warnings().await?;
    let host = s.ops.host_usage(Range::Day).await?;
    Ok(view::dashboard(&ui.chrome_without_flash(), &top, &warnings, &host).into_response())
}

async fn host(State(s): State<AppState>, ui: Ui, q: Params) -> WebResult {
    let host = s.ops.host_usage(page_range(&q)?).await?;
    Ok(view::host_page(&ui.chrome_without_flash(), &host).into_response())
}

async fn client(
    State(s): State<AppState>,
    ui: Ui,
    ApiPath(slug): ApiPath<String>,
    q: Params,
) -> WebResult {
    let usage = s.ops.client_usage(&slug, page_range(&q)?).await?;
    Ok(view::client_page(&ui.chrome_without_flash(), &usage).into_response())
}

async fn instance(
    State(s): State<AppState>,
    ui: Ui,
    ApiPath(id): ApiPath<i64>,
    q: Params,
) -> WebResult {
    let r = page_range(&q)?;
    let usage = s.ops.instance_usage(id, r).await?;
    Ok(view::instance_page(&ui.chrome_without_flash(), &usage, r).into_response())
}
