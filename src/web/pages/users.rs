//! Admin accounts: list, create, reset a password, delete (never yourself
//! or the last one).

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::Form;

use super::reply::{flash_refusal, see_other, unprocessable};
use crate::ops::OpsError;
use crate::web::error::WebResult;
use crate::web::forms::UserForm;
use crate::web::route::{Access, Route};
use crate::web::session::Ui;
use crate::web::state::AppState;
use crate::web::views::components::FormErrors;
use crate::web::views::users as view;

pub fn routes() -> Vec<Route> {
    const S: Access = Access::Session;
    vec![
        Route::get("/users", S, list),
        Route::post("/users", S, create),
        Route::post("/users/{name}/password", S, reset),
        Route::post("/users/{name}/delete", S, delete),
    ]
}

async fn list(State(s): State<AppState>, ui: Ui) -> WebResult {
    let users = s.ops.list_users().await?;
    let none = FormErrors::default();
    Ok(view::page(&ui.chrome().await, &users, "", &none).into_response())
}

async fn create(State(s): State<AppState>, ui: Ui, Form(f): Form<UserForm>) -> WebResult {
    match s.ops.create_user(&ui.actor(), &f.name, &f.password).await {
        Ok(()) => {
            ui.flash(true, format!("User {} created.", f.name.trim()))
                .await;
            Ok(see_other("/users"))
        }
        Err(e) => {
            let errors = FormErrors::from_ops(e)?;
            let users = s.ops.list_users().await?;
            let page = view::page(&ui.chrome().await, &users, &f.name, &errors);
            Ok(unprocessable(page))
        }
    }
}

async fn reset(
    State(s): State<AppState>,
    ui: Ui,
    Path(name): Path<String>,
    Form(f): Form<UserForm>,
) -> WebResult {
    match s.ops.reset_password(&ui.actor(), &name, &f.password).await {
        Ok(()) if name == ui.user => {
            // The reset voids every session of this account, this one too.
            Ok(see_other("/login"))
        }
        Ok(()) => {
            ui.flash(
                true,
                format!("Password of {name} changed; their sessions have ended."),
            )
            .await;
            Ok(see_other("/users"))
        }
        Err(OpsError::Invalid(d)) => {
            ui.flash(
                false,
                format!("Password of {name} not changed: {}", d.problem),
            )
            .await;
            Ok(see_other("/users"))
        }
        Err(e) => Err(e.into()),
    }
}

async fn delete(State(s): State<AppState>, ui: Ui, Path(name): Path<String>) -> WebResult {
    match s.ops.delete_user(&ui.actor(), &name).await {
        Ok(()) => ui.flash(true, format!("User {name} deleted.")).await,
        Err(e) => flash_refusal(&ui, e).await?,
    }
    Ok(see_other("/users"))
}
