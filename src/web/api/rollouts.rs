//! Rollouts and manual rollbacks: start (202), list, show, halt, resume, cancel.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};

use crate::audit::Actor;
use crate::ops::{RolloutInput, RolloutView};
use crate::web::error::WebError;
use crate::web::json::{ApiJson, ApiPath};
use crate::web::route::{Access, Route};
use crate::web::state::AppState;

pub fn routes() -> Vec<Route> {
    const T: Access = Access::Token;
    vec![
        Route::get("/api/v1/rollouts", T, list),
        Route::post("/api/v1/rollouts", T, start),
        Route::get("/api/v1/rollouts/{id}", T, show),
        Route::post("/api/v1/rollouts/{id}/halt", T, halt),
        Route::post("/api/v1/rollouts/{id}/resume", T, resume),
        Route::post("/api/v1/rollouts/{id}/cancel", T, cancel),
        Route::post("/api/v1/instances/{id}/rollback", T, rollback),
    ]
}

async fn start(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    ApiJson(input): ApiJson<RolloutInput>,
) -> Result<(StatusCode, Json<RolloutView>), WebError> {
    Ok((
        StatusCode::ACCEPTED,
        Json(s.ops.start_rollout(&a, input).await?),
    ))
}

async fn list(State(s): State<AppState>) -> Result<Json<Vec<RolloutView>>, WebError> {
    Ok(Json(s.ops.list_rollouts().await?))
}

async fn show(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<RolloutView>, WebError> {
    Ok(Json(s.ops.get_rollout(id).await?))
}

async fn halt(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<RolloutView>, WebError> {
    Ok(Json(s.ops.halt_rollout(&a, id).await?))
}

async fn resume(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<RolloutView>, WebError> {
    Ok(Json(s.ops.resume_rollout(&a, id).await?))
}

async fn cancel(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<RolloutView>, WebError> {
    Ok(Json(s.ops.cancel_rollout(&a, id).await?))
}

/// 202: the rollback runs as a rollout of kind "rollback"; follow it at
/// `/api/v1/rollouts/{id}`.
async fn rollback(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    ApiPath(id): ApiPath<i64>,
) -> Result<(StatusCode, Json<RolloutView>), WebError> {
    Ok((
        StatusCode::ACCEPTED,
        Json(s.ops.rollback_instance(&a, id).await?),
    ))
}
