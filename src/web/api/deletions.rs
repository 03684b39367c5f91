//! Deletes are jobs: `DELETE` on a client or instance answers 202 with the
//! job and its status URL in `Location`; the job's report appears here once
//! it is done.

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;

use crate::ops::DeletionJob;
use crate::web::error::WebError;
use crate::web::json::ApiPath;
use crate::web::route::{Access, Route};
use crate::web::state::AppState;

pub fn routes() -> Vec<Route> {
    vec![Route::get("/api/v1/deletions/{id}", Access::Token, show)]
}

async fn show(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<DeletionJob>, WebError> {
    Ok(Json(s.ops.get_deletion(id).await?))
}

/// 202 with the job, pointing at where to follow it.
pub fn accepted(job: DeletionJob) -> Response {
    (
        StatusCode::ACCEPTED,
        [(header::LOCATION, job.api_path())],
        Json(job),
    )
        .into_response()
}
