//! Offsite: targets' status, copies, snapshots, restores from a snapshot.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;

use crate::audit::Actor;
use crate::offsite::Snapshot;
use crate::ops::{OffsiteCloneInput, OffsiteRestoreInput, OffsiteRestoreProgress, OffsiteStatus};
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
        Route::post(
            "/api/v1/clients/{slug}/offsite-restore",
            T,
            restore_into_client,
        ),
        Route::get("/api/v1/offsite/{target}/restores", T, restores),
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

/// `{"target", "snapshot"?, "into"?}`: in place, or as a new instance `into`.
async fn restore(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<OffsiteRestoreInput>,
) -> Result<(StatusCode, Json<OffsiteRestoreRow>), WebError> {
    let row = s.ops.request_offsite_restore_as(&a, id, input).await?;
    Ok((StatusCode::ACCEPTED, Json(row)))
}

/// `{"target", "snapshot", "into", "blueprint"?}`: any instance's snapshot
/// (also of one deleted since) as a new instance of this client.
async fn restore_into_client(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    ApiPath(slug): ApiPath<String>,
    ApiJson(input): ApiJson<OffsiteCloneInput>,
) -> Result<(StatusCode, Json<OffsiteRestoreRow>), WebError> {
    let row = s.ops.request_offsite_clone(&a, &slug, input).await?;
    Ok((StatusCode::ACCEPTED, Json(row)))
}

async fn restores(
    State(s): State<AppState>,
    ApiPath(target): ApiPath<String>,
) -> Result<Json<Vec<OffsiteRestoreRow>>, WebError> {
    Ok(Json(s.ops.offsite_restores(&target, 100).await?))
}

/// The row plus its `stage` (queued, downloading, restoring, done,
/// failed), `detail` and the local restore once queued.
async fn show_restore(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<OffsiteRestoreProgress>, WebError> {
    Ok(Json(s.ops.offsite_restore_progress(id).await?))
}
