//! A client's portal users on the admin side: add one (with its role) and
//! see its one-time invitation link, make a new link, remove one.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::Form;
use serde::Deserialize;

use super::reply::see_other;
use crate::domain::ClientRole;
use crate::ops::{Invitation, NewClientUserInput, OpsError};
use crate::web::error::WebResult;
use crate::web::route::{Access, Route};
use crate::web::session::Ui;
use crate::web::state::AppState;
use crate::web::views::client_users as view;
use crate::web::views::components::seg;

pub fn routes() -> Vec<Route> {
    const S: Access = Access::Session;
    vec![
        Route::post("/clients/{slug}/users", S, add),
        Route::post("/clients/{slug}/users/{id}/link", S, new_link),
        Route::post("/clients/{slug}/users/{id}/delete", S, remove),
    ]
}

#[derive(Deserialize)]
struct AddForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
}

fn client_page(slug: &str) -> String {
    format!("/clients/{}", seg(slug))
}

/// Bad input and refusals become a flash on the client's page.
async fn refused(ui: &Ui, slug: &str, e: OpsError) -> WebResult {
    match e {
        OpsError::Invalid(d) => ui.flash(false, d.to_string()).await,
        e => match e.user_message() {
            Some(m) => ui.flash(false, m).await,
            None => return Err(e.into()),
        },
    }
    Ok(see_other(&client_page(slug)))
}

/// The link page: the only time the link is shown.
async fn shown(ui: &Ui, slug: &str, inv: &Invitation) -> WebResult {
    Ok(view::link_page(&ui.chrome().await, slug, inv).into_response())
}

async fn add(
    State(s): State<AppState>,
    ui: Ui,
    Path(slug): Path<String>,
    Form(f): Form<AddForm>,
) -> WebResult {
    let role = match ClientRole::parse(f.role.trim()) {
        Ok(r) => r,
        Err(e) => return refused(&ui, &slug, e.into()).await,
    };
    let input = NewClientUserInput {
        email: f.email,
        name: f.name,
        role: Some(role),
    };
    match s.ops.add_client_user(&ui.actor(), &slug, input).await {
        Ok(inv) => shown(&ui, &slug, &inv).await,
        Err(OpsError::NotFound(m)) => Err(OpsError::NotFound(m).into()),
        Err(e) => refused(&ui, &slug, e).await,
    }
}

async fn new_link(
    State(s): State<AppState>,
    ui: Ui,
    Path((slug, id)): Path<(String, i64)>,
) -> WebResult {
    let inv = s.ops.client_user_link(&ui.actor(), &slug, id).await?;
    shown(&ui, &slug, &inv).await
}

async fn remove(
    State(s): State<AppState>,
    ui: Ui,
    Path((slug, id)): Path<(String, i64)>,
) -> WebResult {
    s.ops.remove_client_user(&ui.actor(), &slug, id).await?;
    ui.flash(true, "Portal user removed; their sessions have ended.")
        .await;
    Ok(see_other(&client_page(&slug)))
}
