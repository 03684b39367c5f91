//! Clients' instance requests: the list, approve, reject (with a reason).
//! Both decisions return to the page they were made on.

use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::Form;
use serde::Deserialize;

use super::reply::{flash_refusal, see_other};
use crate::domain::RequestStatus;
use crate::ops::RequestFilter;
use crate::web::error::{WebError, WebResult};
use crate::web::route::{Access, Route};
use crate::web::session::Ui;
use crate::web::state::AppState;
use crate::web::views::requests::{self as view, RequestsPage};

pub fn routes() -> Vec<Route> {
    const S: Access = Access::Session;
    vec![
        Route::get("/requests", S, list),
        Route::post("/requests/{id}/approve", S, approve),
        Route::post("/requests/{id}/reject", S, reject),
    ]
}

#[derive(Deserialize)]
struct ListQuery {
    #[serde(default)]
    status: String,
}

#[derive(Deserialize)]
struct Decide {
    #[serde(default)]
    back: String,
    #[serde(default)]
    reason: String,
}

/// Only the two pages that show the forms; anything else is the list.
fn back_to(back: &str) -> &'static str {
    if back == "dashboard" {
        "/"
    } else {
        "/requests"
    }
}

async fn list(State(s): State<AppState>, ui: Ui, Query(q): Query<ListQuery>) -> WebResult {
    let status = match q.status.as_str() {
        "" => None,
        word => Some(
            RequestStatus::parse(word)
                .map_err(|e| WebError::new(axum::http::StatusCode::BAD_REQUEST, e.to_string()))?,
        ),
    };
    let pending = s.ops.pending_requests().await?;
    let all = s
        .ops
        .list_requests(RequestFilter {
            status,
            client: None,
        })
        .await?;
    let page = RequestsPage {
        pending: &pending,
        all: &all,
        status,
    };
    Ok(view::list(&ui.chrome().await, &page).into_response())
}

async fn approve(
    State(s): State<AppState>,
    ui: Ui,
    Path(id): Path<i64>,
    Form(f): Form<Decide>,
) -> WebResult {
    match s.ops.approve_request(&ui.actor(), id).await {
        Ok(r) if r.status == RequestStatus::Failed => {
            let message = format!("Request {id} failed: {}", r.error);
            ui.flash(false, message).await;
        }
        Ok(r) => {
            let message = format!(
                "Request {id} approved: {}/{} is being created.",
                r.client_slug, r.instance_name
            );
            ui.flash(true, message).await;
        }
        Err(e) => flash_refusal(&ui, e).await?,
    }
    Ok(see_other(back_to(&f.back)))
}

async fn reject(
    State(s): State<AppState>,
    ui: Ui,
    Path(id): Path<i64>,
    Form(f): Form<Decide>,
) -> WebResult {
    match s.ops.reject_request(&ui.actor(), id, &f.reason).await {
        Ok(r) => {
            let message = format!(
                "Request {id} ({}/{}) rejected.",
                r.client_slug, r.instance_name
            );
            ui.flash(true, message).await;
        }
        Err(crate::ops::OpsError::Invalid(d)) => ui.flash(false, d.to_string()).await,
        Err(e) => flash_refusal(&ui, e).await?,
    }
    Ok(see_other(back_to(&f.back)))
}
