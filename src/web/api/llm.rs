//! LLM keys: a client's key (status, budget, spend), rotation, the client's
//! budget override, a plan's LLM settings and the provider overview. No
//! answer here ever carries a key's plaintext.

use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};

use crate::audit::Actor;
use crate::ops::{LlmBudgetInput, LlmKeyView, LlmOverview, PlanLlmInput};
use crate::store::llm::PlanLlm;
use crate::web::error::WebError;
use crate::web::json::{ApiJson, ApiPath};
use crate::web::route::{Access, Route};
use crate::web::state::AppState;

pub fn routes() -> Vec<Route> {
    const T: Access = Access::Token;
    vec![
        Route::get("/api/v1/clients/{slug}/llm", T, show),
        Route::patch("/api/v1/clients/{slug}/llm", T, budget),
        Route::post("/api/v1/clients/{slug}/llm/rotate", T, rotate),
        Route::get("/api/v1/llm/overview", T, overview),
        Route::get("/api/v1/plans/{name}/llm", T, plan_show),
        Route::put("/api/v1/plans/{name}/llm", T, plan_set),
    ]
}

async fn show(
    State(s): State<AppState>,
    ApiPath(slug): ApiPath<String>,
) -> Result<Json<LlmKeyView>, WebError> {
    Ok(Json(s.ops.llm_status(&slug).await?))
}

async fn budget(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(slug): ApiPath<String>,
    ApiJson(input): ApiJson<LlmBudgetInput>,
) -> Result<Json<LlmKeyView>, WebError> {
    Ok(Json(s.ops.set_llm_budget(&actor, &slug, input).await?))
}

/// 202: the new key is made and the old one deleted by the key worker.
async fn rotate(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(slug): ApiPath<String>,
) -> Result<(StatusCode, Json<LlmKeyView>), WebError> {
    Ok((
        StatusCode::ACCEPTED,
        Json(s.ops.rotate_llm_key(&actor, &slug).await?),
    ))
}

async fn overview(State(s): State<AppState>) -> Result<Json<LlmOverview>, WebError> {
    Ok(Json(s.ops.llm_overview().await?))
}

async fn plan_show(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<PlanLlm>, WebError> {
    Ok(Json(s.ops.plan_llm(&name).await?))
}

async fn plan_set(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(name): ApiPath<String>,
    ApiJson(input): ApiJson<PlanLlmInput>,
) -> Result<Json<PlanLlm>, WebError> {
    Ok(Json(s.ops.set_plan_llm(&actor, &name, input).await?))
}
