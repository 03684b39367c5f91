//! A client's portal users: list, add (the answer holds the one-time
//! invitation link, shown this once), remove, and a new link.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};

use crate::audit::Actor;
use crate::ops::{Invitation, NewClientUserInput};
use crate::store::ClientUserRow;
use crate::web::error::WebError;
use crate::web::json::{ApiJson, ApiPath};
use crate::web::route::{Access, Route};
use crate::web::state::AppState;

pub fn routes() -> Vec<Route> {
    const T: Access = Access::Token;
    vec![
        Route::get("/api/v1/clients/{slug}/users", T, list),
        Route::post("/api/v1/clients/{slug}/users", T, add),
        Route::delete("/api/v1/clients/{slug}/users/{id}", T, remove),
        Route::post("/api/v1/clients/{slug}/users/{id}/reset", T, new_link),
    ]
}

async fn list(
    State(s): State<AppState>,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<Vec<ClientUserRow>>, WebError> {
    Ok(Json(s.ops.list_client_users(&slug).await?))
}

async fn add(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(slug): ApiPath<String>,
    ApiJson(input): ApiJson<NewClientUserInput>,
) -> Result<(StatusCode, Json<Invitation>), WebError> {
    Ok((
        StatusCode::CREATED,
        Json(s.ops.add_client_user(&actor, &slug, input).await?),
    ))
}

async fn remove(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath((slug, id)): ApiPath<(String, i64)>,
) -> Result<StatusCode, WebError> {
    s.ops.remove_client_user(&actor, &slug, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An invitation link while the user has no password yet, else a reset link.
async fn new_link(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath((slug, id)): ApiPath<(String, i64)>,
) -> Result<Json<Invitation>, WebError> {
    Ok(Json(s.ops.client_user_link(&actor, &slug, id).await?))
}
