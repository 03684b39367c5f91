//! Admin accounts: list, create, reset a password, delete (never yourself
//! or the last one).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::{see_other, seg, PageResult};
use crate::ops::OpsError;
use crate::store::UserRow;
use crate::web::routes::{Access, Route};
use crate::web::session::Ui;
use crate::web::views::components::{
    action_button, csrf_field, field, FormErrors, Input, REQUIRED,
};
use crate::web::views::layout::Nav;
use crate::web::AppState;

pub fn routes() -> Vec<Route> {
    const S: Access = Access::Session;
    vec![
        Route::get("/users", S, list),
        Route::post("/users", S, create),
        Route::post("/users/{name}/password", S, reset),
        Route::post("/users/{name}/delete", S, delete),
    ]
}

const PASSWORD: Input = Input {
    kind: "password",
    required: true,
    hint: Some("at least 10 characters"),
};

#[derive(Deserialize)]
pub struct UserForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

fn body(ui: &Ui, users: &[UserRow], name: &str, errors: &FormErrors) -> Markup {
    html! {
        h1 { "Users" }
        p.muted { "Every user is an administrator. Resetting a password signs that user out everywhere." }
        div.table-wrap { table {
            thead { tr { th { "Name" } th.optional { "Created (UTC)" } th { "Reset password" } th { "" } } }
            tbody { @for u in users { tr {
                td { (u.name) @if u.name == ui.user { " " span.muted { "(you)" } } }
                td.optional { (u.created_at) }
                td {
                    form.actions method="post" action={ "/users/" (seg(&u.name)) "/password" } {
                        (csrf_field(&ui.csrf))
                        input type="password" name="password" required aria-label={ "New password for " (u.name) } autocomplete="new-password";
                        button.secondary type="submit" { "Set" }
                    }
                }
                td { @if u.name != ui.user && users.len() > 1 {
                    (action_button(&format!("/users/{}/delete", seg(&u.name)), "Delete", &ui.csrf, "secondary"))
                } }
            } } }
        } }
        h2 { "Add a user" }
        (errors.render_general())
        form.stack.card method="post" action="/users" {
            (csrf_field(&ui.csrf))
            (field("Name", "name", name, REQUIRED, errors))
            (field("Password", "password", "", PASSWORD, errors))
            div { button type="submit" { "Create user" } }
        }
    }
}

async fn list(State(s): State<AppState>, ui: Ui) -> PageResult {
    let users = s.ops.list_users().await?;
    let b = body(&ui, &users, "", &FormErrors::default());
    Ok(ui.page("Users", Nav::Users, b).await.into_response())
}

async fn create(State(s): State<AppState>, ui: Ui, Form(f): Form<UserForm>) -> PageResult {
    match s.ops.create_user(&ui.actor(), &f.name, &f.password).await {
        Ok(()) => {
            ui.flash(true, format!("User {} created.", f.name.trim()))
                .await;
            Ok(see_other("/users"))
        }
        Err(e) => {
            let errors = FormErrors::from_ops(e)?;
            let users = s.ops.list_users().await?;
            let b = body(&ui, &users, &f.name, &errors);
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                ui.page("Users", Nav::Users, b).await,
            )
                .into_response())
        }
    }
}

async fn reset(
    State(s): State<AppState>,
    ui: Ui,
    Path(name): Path<String>,
    Form(f): Form<UserForm>,
) -> PageResult {
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

async fn delete(State(s): State<AppState>, ui: Ui, Path(name): Path<String>) -> PageResult {
    match s.ops.delete_user(&ui.actor(), &name).await {
        Ok(()) => ui.flash(true, format!("User {name} deleted.")).await,
        Err(OpsError::Refused(m)) => ui.flash(false, m).await,
        Err(e) => return Err(e.into()),
    }
    Ok(see_other("/users"))
}
