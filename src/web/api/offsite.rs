//! Offsite: targets' status, copies, snapshots, restores from a snapshot.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;

use crate::audit::Actor;
use crate::offsite::Snapshot;
use crate::ops::OffsiteStatus;
use crate::store::offsite::{CopyRow, OffsiteRestoreRow};
use crate::web::error::WebError;
use crate::web::json::{ApiJson, ApiPath};
use crate::web::route::{Access, Route};
use crate::web::state::AppState;

pub fn routes() -> Vec<Route> {
    const T: Access = Access::Token;
    vec![
        Route::get("/api/v1/offsite", T, status),
        Route::get("/api/v1/offsite/{target}/copies", T, copies),
        Route::post("/api/v1/offsite/{target}/copies", T, copy),
        Route::get("/api/v1/offsite/{target}/snapshots", T, snapshots),
        Route::get("/api/v1/offsite-copies/{id}", T, show_copy),
        Route::post("/api/v1/instances/{id}/offsite-restore", T, restore),
        Route::get("/api/v1/offsite-restores/{id}", T, show_restore),
    ]
}

async fn status(State(s): State<AppState>) -> Result<Json<Vec<OffsiteStatus>>, WebError> {
    Ok(Json(s.ops.offsite_status().await?))
}

async fn copies(
    State(s): State<AppState>,
    ApiPath(target): ApiPath<String>,
) -> Result<Json<Vec<CopyRow>>, WebError> {
    Ok(Json(s.ops.offsite_copies(&target, 100).await?))
}

/// `{"instance": ID}` copies its newest good backup; `{}` berth's state.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CopyInput {
    instance: Option<i64>,
}

async fn copy(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    ApiPath(target): ApiPath<String>,
    ApiJson(input): ApiJson<CopyInput>,
) -> Result<(StatusCode, Json<CopyRow>), WebError> {
    let row = s
        .ops
        .request_offsite_copy(&a, &target, input.instance)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(row)))
}

async fn show_copy(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<CopyRow>, WebError> {
    Ok(Json(s.ops.offsite_copy(id).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SnapshotFilter {
    instance: Option<i64>,
}

async fn snapshots(
    State(s): State<AppState>,
    ApiPath(target): ApiPath<String>,
    Query(f): Query<SnapshotFilter>,
) -> Result<Json<Vec<Snapshot>>, WebError> {
    Ok(Json(s.ops.offsite_snapshots(&target, f.instance).await?))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RestoreInput {
    target: String,
    /// Default: the instance's newest snapshot on the target.
    snapshot: Option<String>,
}

async fn restore(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<RestoreInput>,
) -> Result<(StatusCode, Json<OffsiteRestoreRow>), WebError> {
    let row = s
        .ops
        .request_offsite_restore(&a, id, &input.target, input.snapshot)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(row)))
}

async fn show_restore(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<OffsiteRestoreRow>, WebError> {
    Ok(Json(s.ops.get_offsite_restore(id).await?))
}
