//! Offsite maintenance: a target's runs, and forget, prune, check or
//! test-restore queued now (202 with the run; the offsite worker runs it).

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use serde::Deserialize;

use crate::audit::Actor;
use crate::domain::OffsiteRunKind;
use crate::ops::RunOptions;
use crate::store::offsite_runs::RunRow;
use crate::web::error::WebError;
use crate::web::json::{ApiJson, ApiPath};
use crate::web::route::{Access, Route};
use crate::web::state::AppState;

pub fn routes() -> Vec<Route> {
    const T: Access = Access::Token;
    vec![
        Route::get("/api/v1/offsite/{target}/runs", T, runs),
        Route::post("/api/v1/offsite/{target}/forget", T, forget),
        Route::post("/api/v1/offsite/{target}/prune", T, prune),
        Route::post("/api/v1/offsite/{target}/check", T, check),
        Route::post("/api/v1/offsite/{target}/test-restore", T, test_restore),
        Route::get("/api/v1/offsite-runs/{id}", T, show),
    ]
}

async fn runs(
    State(s): State<AppState>,
    ApiPath(target): ApiPath<String>,
) -> Result<Json<Vec<RunRow>>, WebError> {
    Ok(Json(s.ops.offsite_runs(&target, 100).await?))
}

async fn show(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<RunRow>, WebError> {
    Ok(Json(s.ops.offsite_run(id).await?))
}

/// `{}`; `{"dry_run": true}` for a forget, `{"instance": ID}` for a
/// test-restore, `{"read_data": "10%"}` for a check.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RunInput {
    #[serde(default)]
    dry_run: bool,
    instance: Option<i64>,
    read_data: Option<String>,
}

async fn queue(
    s: AppState,
    a: Actor,
    target: String,
    kind: OffsiteRunKind,
    input: RunInput,
) -> Result<(StatusCode, Json<RunRow>), WebError> {
    let opts = RunOptions {
        dry_run: input.dry_run,
        instance: input.instance,
        read_data: input.read_data,
    };
    let row = s.ops.request_offsite_run(&a, &target, kind, opts).await?;
    Ok((StatusCode::ACCEPTED, Json(row)))
}

async fn forget(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    ApiPath(target): ApiPath<String>,
    ApiJson(input): ApiJson<RunInput>,
) -> Result<(StatusCode, Json<RunRow>), WebError> {
    queue(s, a, target, OffsiteRunKind::Forget, input).await
}

async fn prune(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    ApiPath(target): ApiPath<String>,
    ApiJson(input): ApiJson<RunInput>,
) -> Result<(StatusCode, Json<RunRow>), WebError> {
    queue(s, a, target, OffsiteRunKind::Prune, input).await
}

async fn check(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    ApiPath(target): ApiPath<String>,
    ApiJson(input): ApiJson<RunInput>,
) -> Result<(StatusCode, Json<RunRow>), WebError> {
    queue(s, a, target, OffsiteRunKind::Check, input).await
}

async fn test_restore(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    ApiPath(target): ApiPath<String>,
    ApiJson(input): ApiJson<RunInput>,
) -> Result<(StatusCode, Json<RunRow>), WebError> {
    queue(s, a, target, OffsiteRunKind::TestRestore, input).await
}
