use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use crate::audit::Actor;
use crate::ops::{views, AdminAccountView, InstanceAction, InstanceEdit, InstanceView, LogTail};
use crate::web::error::WebError;
use crate::web::json::{ApiJson, ApiPath, Confirm};
use crate::web::route::{Access, Route};
use crate::web::state::AppState;

pub fn routes() -> Vec<Route> {
    const T: Access = Access::Token;
    vec![
        Route::get("/api/v1/instances", T, list),
        Route::get("/api/v1/instances/{id}", T, show),
        Route::patch("/api/v1/instances/{id}", T, edit),
        Route::delete("/api/v1/instances/{id}", T, remove),
        Route::post("/api/v1/instances/{id}/start", T, start),
        Route::post("/api/v1/instances/{id}/stop", T, stop),
        Route::post("/api/v1/instances/{id}/restart", T, restart),
        Route::get("/api/v1/instances/{id}/admin", T, admin_account),
        Route::post("/api/v1/instances/{id}/admin/reveal", T, admin_reveal),
        Route::get("/api/v1/instances/{id}/logs", T, logs),
    ]
}

async fn list(State(s): State<AppState>) -> Result<Json<Vec<InstanceView>>, WebError> {
    Ok(Json(views(s.ops.list_instances(None).await?)))
}

async fn show(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<InstanceView>, WebError> {
    Ok(Json(s.ops.get_instance(id).await?.into()))
}

async fn edit(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(edit): ApiJson<InstanceEdit>,
) -> Result<Json<InstanceView>, WebError> {
    Ok(Json(s.ops.edit_instance(&a, id, edit).await?.into()))
}

async fn act(
    s: AppState,
    actor: Actor,
    id: i64,
    action: InstanceAction,
) -> Result<Json<InstanceView>, WebError> {
    Ok(Json(
        s.ops.instance_action(&actor, id, action).await?.into(),
    ))
}

async fn start(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<InstanceView>, WebError> {
    act(s, a, id, InstanceAction::Start).await
}

async fn stop(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<InstanceView>, WebError> {
    act(s, a, id, InstanceAction::Stop).await
}

async fn restart(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<InstanceView>, WebError> {
    act(s, a, id, InstanceAction::Restart).await
}

async fn remove(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    ApiPath(id): ApiPath<i64>,
    ApiJson(c): ApiJson<Confirm>,
) -> Result<Response, WebError> {
    let job = s.ops.remove_instance(&a, id, &c.confirm).await?;
    Ok(super::deletions::accepted(job))
}

/// The instance's pre-created admin account, without its password.
async fn admin_account(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<AdminAccountView>, WebError> {
    s.ops.admin_account(id).await?.map(Json).ok_or_else(|| {
        crate::ops::OpsError::NotFound(format!("instance {id} has no admin account made by berth"))
            .into()
    })
}

/// The admin password, the first time only (409 after).
async fn admin_reveal(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, WebError> {
    let creds = s.ops.reveal_admin_password(&a, id).await?;
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(creds),
    )
        .into_response())
}

#[derive(serde::Deserialize)]
struct TailQuery {
    tail: Option<usize>,
}

/// `?tail=N` (1..=10000, default 100): {lines: [..oldest first], note}.
/// A tail that is not a number, or out of range, is a 422.
async fn logs(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<i64>,
    q: Result<Query<TailQuery>, QueryRejection>,
) -> Result<Json<LogTail>, WebError> {
    let Query(q) = q.map_err(|e| {
        WebError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("tail: {}", e.body_text()),
        )
    })?;
    Ok(Json(s.ops.instance_logs(id, q.tail.unwrap_or(100)).await?))
}
