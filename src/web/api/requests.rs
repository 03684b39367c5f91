//! Clients' instance requests, for the provider: list (by status or
//! client), show, approve, reject with a reason.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;

use crate::audit::Actor;
use crate::ops::RequestFilter;
use crate::store::RequestRow;
use crate::web::error::{one_line, WebError};
use crate::web::json::{ApiJson, ApiPath};
use crate::web::route::{Access, Route};
use crate::web::state::AppState;

pub fn routes() -> Vec<Route> {
    const T: Access = Access::Token;
    vec![
        Route::get("/api/v1/requests", T, list),
        Route::get("/api/v1/requests/{id}", T, show),
        Route::post("/api/v1/requests/{id}/approve", T, approve),
        Route::post("/api/v1/requests/{id}/reject", T, reject),
    ]
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Reject {
    reason: String,
}

/// `?status=requested|approved|provisioning|running|rejected|failed&client=<slug>`.
async fn list(
    State(s): State<AppState>,
    q: Result<Query<RequestFilter>, QueryRejection>,
) -> Result<Json<Vec<RequestRow>>, WebError> {
    let Query(filter) =
        q.map_err(|e| WebError::new(StatusCode::BAD_REQUEST, one_line(&e.body_text())))?;
    Ok(Json(s.ops.list_requests(filter).await?))
}

async fn show(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<RequestRow>, WebError> {
    Ok(Json(s.ops.get_request(id).await?))
}

/// 200 with the request: `approved` (the instance is being created) or
/// `failed` with `error` when it could not be.
async fn approve(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<RequestRow>, WebError> {
    Ok(Json(s.ops.approve_request(&actor, id).await?))
}

async fn reject(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(body): ApiJson<Reject>,
) -> Result<Json<RequestRow>, WebError> {
    Ok(Json(s.ops.reject_request(&actor, id, &body.reason).await?))
}
