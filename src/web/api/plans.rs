use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};

use crate::audit::Actor;
use crate::ops::{PlanEdit, PlanInput};
use crate::store::PlanRow;
use crate::web::error::WebError;
use crate::web::json::{ApiJson, ApiPath};
use crate::web::route::{Access, Route};
use crate::web::state::AppState;

pub fn routes() -> Vec<Route> {
    const T: Access = Access::Token;
    vec![
        Route::get("/api/v1/plans", T, list),
        Route::post("/api/v1/plans", T, create),
        Route::get("/api/v1/plans/{name}", T, show),
        Route::patch("/api/v1/plans/{name}", T, edit),
        Route::delete("/api/v1/plans/{name}", T, remove),
    ]
}

async fn list(State(s): State<AppState>) -> Result<Json<Vec<PlanRow>>, WebError> {
    Ok(Json(s.ops.list_plans().await?))
}

async fn create(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiJson(input): ApiJson<PlanInput>,
) -> Result<(StatusCode, Json<PlanRow>), WebError> {
    Ok((
        StatusCode::CREATED,
        Json(s.ops.create_plan(&actor, input).await?),
    ))
}

async fn show(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<PlanRow>, WebError> {
    Ok(Json(s.ops.get_plan(&name).await?))
}

async fn edit(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(name): ApiPath<String>,
    ApiJson(edit): ApiJson<PlanEdit>,
) -> Result<Json<PlanRow>, WebError> {
    Ok(Json(s.ops.edit_plan(&actor, &name, edit).await?))
}

async fn remove(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(name): ApiPath<String>,
) -> Result<StatusCode, WebError> {
    s.ops.delete_plan(&actor, &name).await?;
    Ok(StatusCode::NO_CONTENT)
}
