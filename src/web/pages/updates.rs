//! The updates page and its "Check now" button.

use axum::extract::State;
use axum::response::IntoResponse;
use axum::Form;
use serde::Deserialize;

use super::reply::see_other;
use crate::ops::{CheckInput, OpsError};
use crate::web::error::WebResult;
use crate::web::route::{Access, Route};
use crate::web::session::Ui;
use crate::web::state::AppState;
use crate::web::views::updates as view;

pub fn routes() -> Vec<Route> {
    const S: Access = Access::Session;
    vec![
        Route::get("/updates", S, show),
        Route::post("/updates/check", S, check),
    ]
}

#[derive(Debug, Default, Deserialize)]
struct CheckForm {
    #[serde(default)]
    blueprint: String,
    #[serde(default)]
    tag: String,
}

async fn show(State(s): State<AppState>, ui: Ui) -> WebResult {
    let report = s.ops.update_report().await?;
    let page = view::page(&ui.chrome().await, &s.ops.blueprint_images(), &report);
    Ok(page.into_response())
}

/// Runs the check while the request waits (a pull of a tag already here
/// takes a second); the outcome is a flash above the refreshed page.
async fn check(State(s): State<AppState>, ui: Ui, Form(f): Form<CheckForm>) -> WebResult {
    let input = CheckInput {
        blueprint: Some(f.blueprint),
        tag: Some(f.tag),
    };
    match s.ops.check_updates(&ui.actor(), input).await {
        Ok(report) => {
            let behind: usize = report.checks.iter().map(|c| c.outdated.len()).sum();
            match report.failures().next() {
                Some(c) => {
                    let e = c.error.as_deref().unwrap_or_default();
                    ui.flash(false, format!("Checking {} failed: {e}", c.image))
                        .await
                }
                None => {
                    ui.flash(
                        true,
                        format!("Checked: {behind} instance(s) run an older image."),
                    )
                    .await
                }
            }
        }
        Err(OpsError::Invalid(e)) => ui.flash(false, e.to_string()).await,
        Err(OpsError::Refused(m)) => ui.flash(false, m).await,
        Err(e) => return Err(e.into()),
    }
    Ok(see_other("/updates"))
}
