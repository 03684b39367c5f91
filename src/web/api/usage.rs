use std::collections::HashMap;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::metrics::export;
use crate::metrics::Range;
use crate::ops::{ClientUsage, Consumer, HostUsage, InstanceUsage};
use crate::store::usage::QuotaWarning;
use crate::web::error::WebError;
use crate::web::json::ApiPath;
use crate::web::route::{Access, Route};
use crate::web::state::AppState;

pub fn routes() -> Vec<Route> {
    const T: Access = Access::Token;
    vec![
        Route::get("/api/v1/clients/{slug}/usage", T, client),
        Route::get("/api/v1/instances/{id}/usage", T, instance),
        Route::get("/api/v1/usage/export", T, export_month),
        Route::get("/api/v1/usage/top", T, top),
        Route::get("/api/v1/usage/host", T, host),
        Route::get("/api/v1/usage/warnings", T, warnings),
    ]
}

pub type Params = Result<Query<HashMap<String, String>>, QueryRejection>;

/// `?range=` (default 24h) as a 422 on anything but 1h, 24h, 7d, 30d.
pub fn range(q: &Params) -> Result<Range, WebError> {
    let q = q
        .as_ref()
        .map_err(|e| WebError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    Range::parse(q.get("range").map_or("24h", String::as_str))
        .map_err(|e| WebError::new(StatusCode::UNPROCESSABLE_ENTITY, e))
}

async fn client(
    State(s): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    q: Params,
) -> Result<Json<ClientUsage>, WebError> {
    Ok(Json(s.ops.client_usage(&slug, range(&q)?).await?))
}

async fn instance(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    q: Params,
) -> Result<Json<InstanceUsage>, WebError> {
    Ok(Json(s.ops.instance_usage(id, range(&q)?).await?))
}

async fn top(State(s): State<AppState>, q: Params) -> Result<Json<Vec<Consumer>>, WebError> {
    Ok(Json(s.ops.top_consumers(range(&q)?).await?))
}

async fn host(State(s): State<AppState>, q: Params) -> Result<Json<HostUsage>, WebError> {
    Ok(Json(s.ops.host_usage(range(&q)?).await?))
}

async fn warnings(State(s): State<AppState>) -> Result<Json<Vec<QuotaWarning>>, WebError> {
    Ok(Json(s.ops.quota_warnings().await?))
}

async fn export_month(State(s): State<AppState>, q: Params) -> Result<Response, WebError> {
    let q = q.map_err(|e| WebError::new(StatusCode::BAD_REQUEST, e.body_text()))?;
    let month = q.get("month").ok_or_else(|| {
        WebError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "month=YYYY-MM is required",
        )
    })?;
    let lines = s.ops.billing_export(month).await?;
    match q.get("format").map_or("json", String::as_str) {
        "json" => Ok(Json(lines).into_response()),
        "csv" => Ok((
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"berth-usage-{month}.csv\""),
                ),
            ],
            export::csv(&lines),
        )
            .into_response()),
        other => Err(WebError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("format {other:?} is not csv or json"),
        )),
    }
}
