//! `POST /api/v1/updates/check` runs an update check (pulls, so it may take
//! as long as the registry does); `GET /api/v1/updates` is the last one.

use axum::extract::State;
use axum::{Extension, Json};

use crate::audit::Actor;
use crate::ops::{CheckInput, UpdateReport};
use crate::web::error::WebError;
use crate::web::json::ApiJson;
use crate::web::route::{Access, Route};
use crate::web::state::AppState;

pub fn routes() -> Vec<Route> {
    const T: Access = Access::Token;
    vec![
        Route::get("/api/v1/updates", T, last),
        Route::post("/api/v1/updates/check", T, check),
    ]
}

async fn last(State(s): State<AppState>) -> Result<Json<UpdateReport>, WebError> {
    Ok(Json(s.ops.update_report().await?))
}

async fn check(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(input): ApiJson<CheckInput>,
) -> Result<Json<UpdateReport>, WebError> {
    Ok(Json(s.ops.check_updates(&actor, input).await?))
}
