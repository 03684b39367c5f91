use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::{Extension, Json};

use crate::audit::Actor;
use crate::domain::ClientStatus;
use crate::ops::{views, ClientEdit, ClientView, InstanceView, NewClientInput, NewInstanceInput};
use crate::store::ClientRow;
use crate::web::error::WebError;
use crate::web::json::{ApiJson, ApiPath, Confirm};
use crate::web::route::{Access, Route};
use crate::web::state::AppState;

pub fn routes() -> Vec<Route> {
    const T: Access = Access::Token;
    vec![
        Route::get("/api/v1/clients", T, list),
        Route::post("/api/v1/clients", T, create),
        Route::get("/api/v1/clients/{slug}", T, show),
        Route::patch("/api/v1/clients/{slug}", T, edit),
        Route::delete("/api/v1/clients/{slug}", T, remove),
        Route::post("/api/v1/clients/{slug}/suspend", T, suspend),
        Route::post("/api/v1/clients/{slug}/resume", T, resume),
        Route::get("/api/v1/clients/{slug}/instances", T, instances),
        Route::post("/api/v1/clients/{slug}/instances", T, add_instance),
    ]
}

async fn list(State(s): State<AppState>) -> Result<Json<Vec<ClientRow>>, WebError> {
    Ok(Json(s.ops.list_clients().await?))
}

async fn create(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(input): ApiJson<NewClientInput>,
) -> Result<(StatusCode, Json<ClientView>), WebError> {
    Ok((
        StatusCode::CREATED,
        Json(s.ops.create_client(&actor, input).await?),
    ))
}

async fn show(
    State(s): State<AppState>,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<ClientView>, WebError> {
    Ok(Json(s.ops.get_client(&slug).await?))
}

async fn edit(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(slug): ApiPath<String>,
    ApiJson(edit): ApiJson<ClientEdit>,
) -> Result<Json<ClientView>, WebError> {
    Ok(Json(s.ops.edit_client(&actor, &slug, edit).await?))
}

async fn remove(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(slug): ApiPath<String>,
    ApiJson(c): ApiJson<Confirm>,
) -> Result<Response, WebError> {
    let job = s.ops.delete_client(&actor, &slug, &c.confirm).await?;
    Ok(super::deletions::accepted(job))
}

async fn suspend(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<ClientView>, WebError> {
    set_status(s, actor, slug, ClientStatus::Suspended).await
}

async fn resume(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<ClientView>, WebError> {
    set_status(s, actor, slug, ClientStatus::Active).await
}

async fn set_status(
    s: AppState,
    actor: Actor,
    slug: String,
    status: ClientStatus,
) -> Result<Json<ClientView>, WebError> {
    Ok(Json(s.ops.set_client_status(&actor, &slug, status).await?))
}

async fn instances(
    State(s): State<AppState>,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<Vec<InstanceView>>, WebError> {
    Ok(Json(views(s.ops.list_instances(Some(&slug)).await?)))
}

async fn add_instance(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(slug): ApiPath<String>,
    ApiJson(input): ApiJson<NewInstanceInput>,
) -> Result<(StatusCode, Json<InstanceView>), WebError> {
    Ok((
        StatusCode::CREATED,
        Json(s.ops.add_instance(&actor, &slug, input).await?.into()),
    ))
}
