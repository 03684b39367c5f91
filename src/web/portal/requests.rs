//! The client's requests for new instances: an owner asks (name and app)
//! and everyone sees the list with its live status. The client is the
//! signed-in user's own; nothing in the URL or the form names one.

use axum::extract::State;
use axum::response::{IntoResponse, Redirect};
use axum::{Form, Json};
use serde::Deserialize;

use crate::domain::RequestStatus;
use crate::ops::{OpsError, PortalRequest, RequestInput};
use crate::web::error::WebResult;
use crate::web::portal_session::PortalUi;
use crate::web::route::{Access, Route};
use crate::web::state::AppState;
use crate::web::views::portal::requests as view;

const PAGE: &str = "/portal/requests";

pub fn routes() -> Vec<Route> {
    vec![
        Route::get(PAGE, Access::Portal, list),
        Route::post(PAGE, Access::Portal, ask),
        Route::get("/portal/requests/status", Access::Portal, status),
    ]
}

#[derive(Deserialize)]
struct AskForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    blueprint: String,
}

async fn list(State(s): State<AppState>, ui: PortalUi) -> WebResult {
    let me = ui.identity();
    let requests = s.ops.portal_requests(&me).await?;
    let options = if ui.is_owner() {
        Some(s.ops.portal_request_options(&me).await?)
    } else {
        None
    };
    let chrome = ui.chrome(&s).await;
    Ok(view::list(&chrome, &requests, options.as_ref()).into_response())
}

async fn ask(State(s): State<AppState>, ui: PortalUi, Form(f): Form<AskForm>) -> WebResult {
    let input = RequestInput {
        name: f.name,
        blueprint: Some(f.blueprint).filter(|b| !b.trim().is_empty()),
    };
    match s
        .ops
        .portal_request_instance(&ui.actor(), &ui.identity(), input)
        .await
    {
        Ok(r) => {
            let (ok, text) = match r.status {
                RequestStatus::Requested => (
                    true,
                    format!(
                        "Requested {}: it waits for your provider's approval.",
                        r.instance_name
                    ),
                ),
                RequestStatus::Failed | RequestStatus::Rejected => (
                    false,
                    format!("{} could not be created: {}", r.instance_name, r.why),
                ),
                _ => (
                    true,
                    format!("{} is approved and being created.", r.instance_name),
                ),
            };
            ui.flash(ok, text).await;
        }
        Err(e) => {
            let text = match &e {
                OpsError::Invalid(d) => d.to_string(),
                _ => match e.user_message() {
                    Some(m) => m.to_owned(),
                    None => return Err(e.into()),
                },
            };
            ui.flash(false, text).await;
        }
    }
    Ok(Redirect::to(PAGE).into_response())
}

/// The list as JSON for the page's live status (status.js).
async fn status(State(s): State<AppState>, ui: PortalUi) -> WebResult<Json<Vec<PortalRequest>>> {
    Ok(Json(s.ops.portal_requests(&ui.identity()).await?))
}
