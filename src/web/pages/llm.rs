//! A client's LLM key on the admin side: rotate it, set or drop its own
//! budget. Both go through the same `ops` as the API; the key worker does
//! the provider work.

use axum::extract::{Path, State};
use axum::Form;
use serde::Deserialize;

use super::reply::see_other;
use crate::ops::{LlmBudgetInput, OpsError};
use crate::web::error::WebResult;
use crate::web::route::{Access, Route};
use crate::web::session::Ui;
use crate::web::state::AppState;
use crate::web::views::components::seg;

pub fn routes() -> Vec<Route> {
    const S: Access = Access::Session;
    vec![
        Route::post("/clients/{slug}/llm/rotate", S, rotate),
        Route::post("/clients/{slug}/llm/budget", S, budget),
    ]
}

#[derive(Deserialize)]
struct BudgetForm {
    #[serde(default)]
    limit_usd: String,
    #[serde(default)]
    limit_reset: String,
    #[serde(default)]
    use_plan: String,
}

fn section(slug: &str) -> String {
    format!("/clients/{}#llm", seg(slug))
}

/// Refusals and bad input become a flash on the client's page; a missing
/// client stays a 404.
async fn answer(ui: &Ui, slug: &str, done: Result<&str, OpsError>) -> WebResult {
    match done {
        Ok(message) => ui.flash(true, message).await,
        Err(OpsError::NotFound(m)) => return Err(OpsError::NotFound(m).into()),
        Err(OpsError::Invalid(d)) => ui.flash(false, d.to_string()).await,
        Err(e) => match e.user_message() {
            Some(m) => ui.flash(false, m).await,
            None => return Err(e.into()),
        },
    }
    Ok(see_other(&section(slug)))
}

async fn rotate(State(s): State<AppState>, ui: Ui, Path(slug): Path<String>) -> WebResult {
    let done = s.ops.rotate_llm_key(&ui.actor(), &slug).await;
    let done = done.map(|_| "A new key is being made; the old one is deleted once it is in use.");
    answer(&ui, &slug, done).await
}

async fn budget(
    State(s): State<AppState>,
    ui: Ui,
    Path(slug): Path<String>,
    Form(f): Form<BudgetForm>,
) -> WebResult {
    let input = if f.use_plan == "true" {
        Ok(LlmBudgetInput {
            use_plan: true,
            ..LlmBudgetInput::default()
        })
    } else {
        let limit = f.limit_usd.trim();
        match (limit.is_empty(), limit.parse::<f64>()) {
            (true, _) => Ok(None),
            (false, Ok(v)) => Ok(Some(v)),
            (false, Err(_)) => Err(OpsError::Refused(format!(
                "limit {limit:?} is not a number of USD"
            ))),
        }
        .map(|limit_usd| LlmBudgetInput {
            limit_usd,
            limit_reset: Some(f.limit_reset.trim().to_owned()).filter(|r| !r.is_empty()),
            use_plan: false,
        })
    };
    let done = match input {
        Ok(input) => s
            .ops
            .set_llm_budget(&ui.actor(), &slug, input)
            .await
            .map(|_| "Budget saved; the key's limit follows shortly."),
        Err(e) => Err(e),
    };
    answer(&ui, &slug, done).await
}
