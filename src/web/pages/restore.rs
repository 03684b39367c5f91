//! Restoring a backup: into its own instance (confirmed by typing
//! "<client>/<instance>", as it replaces the data) or into a new instance.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::backups::history_url;
use super::{see_other, seg, PageResult};
use crate::domain::{InstanceName, RestoreMode};
use crate::ops::{OpsError, RestoreInput};
use crate::store::BackupRow;
use crate::web::routes::{Access, Route};
use crate::web::session::Ui;
use crate::web::views::components::{csrf_field, field, size, FormErrors, Input, REQUIRED};
use crate::web::views::layout::Nav;
use crate::web::AppState;

pub fn routes() -> Vec<Route> {
    const S: Access = Access::Session;
    vec![
        Route::get("/backups/{id}/restore", S, form),
        Route::post("/backups/{id}/restore", S, restore),
    ]
}

#[derive(Debug, Default, Deserialize)]
pub struct RestoreForm {
    /// "in_place" or "clone".
    #[serde(default)]
    mode: String,
    #[serde(default)]
    confirm: String,
    /// Named like the domain error's field, so the error lands beside it.
    #[serde(default)]
    instance: String,
}

impl RestoreForm {
    /// Anything but a clone is the in-place form, which asks for a confirmation.
    fn mode(&self) -> RestoreMode {
        RestoreMode::parse(&self.mode).unwrap_or(RestoreMode::InPlace)
    }
}

fn body(ui: &Ui, b: &BackupRow, f: &RestoreForm, errors: &FormErrors) -> Markup {
    let expected = format!("{}/{}", b.client_slug, b.instance_name);
    let action = format!("/backups/{}/restore", b.id);
    let none = FormErrors::default();
    let (in_place, clone) = if f.mode() == RestoreMode::Clone {
        (&none, errors)
    } else {
        (errors, &none)
    };
    html! {
        h1 { "Restore backup " (b.id) }
        (errors.render_general())
        div.card { p {
            "Backup of " strong { (expected) } " taken " (b.started_at.as_deref().unwrap_or(&b.created_at)) " UTC, "
            (b.size.map(size).unwrap_or_default()) ", sha256 " code { (b.sha256.as_deref().unwrap_or("-")) } "."
        } }
        @if b.instance_id.is_some() {
            h2 { "Into " (expected) }
            form.stack.card method="post" action=(action) {
                (csrf_field(&ui.csrf))
                input type="hidden" name="mode" value="in_place";
                p { "The instance is stopped and its data replaced by this backup. The current data is kept until the restored instance is healthy, and put back if it is not." }
                (field(&format!("Type {expected} to confirm"), "confirm", "", REQUIRED, in_place))
                div { button.danger type="submit" { "Replace the data" } }
            }
        }
        h2 { "Into a new instance" }
        form.stack.card method="post" action=(action) {
            (csrf_field(&ui.csrf))
            input type="hidden" name="mode" value="clone";
            p { "A new instance of " (b.client_slug) " with the same app, started with this backup's data." }
            (field("New instance name", "instance", &f.instance, Input { hint: Some("a-z, 0-9, '-'"), ..REQUIRED }, clone))
            div { button type="submit" { "Restore as a new instance" } }
        }
    }
}

async fn form(State(s): State<AppState>, ui: Ui, Path(id): Path<i64>) -> PageResult {
    let b = s.ops.get_backup(id).await?;
    let page = body(&ui, &b, &RestoreForm::default(), &FormErrors::default());
    Ok(ui.page("Restore", Nav::Clients, page).await.into_response())
}

async fn restore(
    State(s): State<AppState>,
    ui: Ui,
    Path(id): Path<i64>,
    Form(f): Form<RestoreForm>,
) -> PageResult {
    let b = s.ops.get_backup(id).await?;
    let expected = format!("{}/{}", b.client_slug, b.instance_name);
    let input = if f.mode() == RestoreMode::Clone {
        // Checked here too so a bad name is reported beside its field.
        InstanceName::parse(f.instance.trim())
            .map(|_| RestoreInput {
                into: Some(f.instance.trim().to_owned()),
            })
            .map_err(OpsError::from)
    } else if f.confirm.trim() == expected {
        Ok(RestoreInput::default())
    } else {
        Err(OpsError::Invalid(crate::domain::DomainError::new(
            "confirm",
            "does not match; nothing was restored",
        )))
    };
    let outcome = match input {
        Ok(input) => s.ops.request_restore(&ui.actor(), id, input).await,
        Err(e) => Err(e),
    };
    let r = match outcome {
        Ok(r) => r,
        Err(e) => return failed(&ui, &b, &f, FormErrors::from_ops(e)?).await,
    };
    let into = if r.mode == RestoreMode::Clone {
        format!("new instance {}", f.instance.trim())
    } else {
        expected
    };
    let text = format!("Restore {} of backup {id} into {into} queued.", r.id);
    ui.flash(true, text).await;
    let back = match (r.mode, b.instance_id) {
        (RestoreMode::InPlace, Some(i)) => history_url(i),
        _ => format!("/clients/{}", seg(&b.client_slug)),
    };
    Ok(see_other(&back))
}

async fn failed(ui: &Ui, b: &BackupRow, f: &RestoreForm, errors: FormErrors) -> PageResult {
    let page = body(ui, b, f, &errors);
    Ok((
        StatusCode::UNPROCESSABLE_ENTITY,
        ui.page("Restore", Nav::Clients, page).await,
    )
        .into_response())
}
