//! The users of the signed-in user's own client: everyone sees the list;
//! an owner invites members (the link is shown once, and mailed when
//! `[smtp]` is set) and removes members, or themselves unless they are the
//! last owner.

use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use axum::Form;
use serde::Deserialize;

use crate::ops::OpsError;
use crate::web::error::WebResult;
use crate::web::portal_session::{PortalUi, LOGIN};
use crate::web::route::{Access, Route};
use crate::web::state::AppState;
use crate::web::views::portal::members as view;

const PAGE: &str = "/portal/members";

pub fn routes() -> Vec<Route> {
    vec![
        Route::get(PAGE, Access::Portal, list),
        Route::post(PAGE, Access::Portal, invite),
        Route::post("/portal/members/{id}/delete", Access::Portal, remove),
    ]
}

#[derive(Deserialize)]
struct InviteForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
}

async fn list(State(s): State<AppState>, ui: PortalUi) -> WebResult {
    let users = s.ops.portal_users(&ui.identity()).await?;
    let chrome = ui.chrome(&s).await;
    Ok(view::list(&chrome, &users, ui.user_id).into_response())
}

/// A refusal or bad input: a flash on the list.
async fn refused(ui: &PortalUi, e: OpsError) -> WebResult {
    let text = match &e {
        OpsError::Invalid(d) => d.to_string(),
        _ => match e.user_message() {
            Some(m) => m.to_owned(),
            None => return Err(e.into()),
        },
    };
    ui.flash(false, text).await;
    Ok(Redirect::to(PAGE).into_response())
}

async fn invite(State(s): State<AppState>, ui: PortalUi, Form(f): Form<InviteForm>) -> WebResult {
    match s
        .ops
        .portal_invite_member(&ui.actor(), &ui.identity(), &f.email, &f.name)
        .await
    {
        Ok(inv) => {
            let chrome = ui.chrome(&s).await;
            Ok(view::invited(&chrome, &inv).into_response())
        }
        Err(e) => refused(&ui, e).await,
    }
}

async fn remove(State(s): State<AppState>, ui: PortalUi, Path(id): Path<i64>) -> WebResult {
    match s
        .ops
        .portal_remove_user(&ui.actor(), &ui.identity(), id)
        .await
    {
        // Their own account: the session has nothing left to stand on.
        Ok(()) if id == ui.user_id => {
            let _ = ui.session.flush().await;
            Ok(Redirect::to(LOGIN).into_response())
        }
        Ok(()) => {
            ui.flash(true, "User removed.").await;
            Ok(Redirect::to(PAGE).into_response())
        }
        Err(e @ OpsError::NotFound(_)) => Err(e.into()),
        Err(e) => refused(&ui, e).await,
    }
}
