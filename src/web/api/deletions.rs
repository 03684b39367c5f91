//! Deletes are jobs: `DELETE` on a client or instance answers 202 with the
//! job and its status URL in `Location`; the job's report appears here once
//! it is done, and stays after the client is gone.

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
    vec![
        Route::get("/api/v1/deletions", Access::Token, list),
        Route::get("/api/v1/deletions/{id}", Access::Token, show),
        Route::get("/api/v1/deletions/{id}/report", Access::Token, download),
    ]
}

async fn list(State(s): State<AppState>) -> Result<Json<Vec<DeletionJob>>, WebError> {
    Ok(Json(s.ops.list_deletions().await?))
}

async fn show(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<DeletionJob>, WebError> {
    Ok(Json(s.ops.get_deletion(id).await?))
}

/// The report alone, as a file to keep (409 while the job runs).
async fn download(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, WebError> {
    let report = s.ops.deletion_report(id).await?;
    let disposition = format!("attachment; filename=\"berth-deletion-{id}.json\"");
    Ok(([(header::CONTENT_DISPOSITION, disposition)], Json(report)).into_response())
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
