//! Restoring a backup: into its own instance (confirmed by typing
//! "<client>/<instance>", as it replaces the data) or into a new instance.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::Form;

use super::reply::{see_other, unprocessable};
use crate::domain::{InstanceName, RestoreMode};
use crate::ops::{OpsError, RestoreInput};
use crate::web::error::WebResult;
use crate::web::forms::RestoreForm;
use crate::web::route::{Access, Route};
use crate::web::session::Ui;
use crate::web::state::AppState;
use crate::web::urls::history_url;
use crate::web::views::components::{seg, FormErrors};
use crate::web::views::restore as view;

pub fn routes() -> Vec<Route> {
    const S: Access = Access::Session;
    vec![
        Route::get("/backups/{id}/restore", S, form),
        Route::post("/backups/{id}/restore", S, restore),
    ]
}

async fn form(State(s): State<AppState>, ui: Ui, Path(id): Path<i64>) -> WebResult {
    let b = s.ops.get_backup(id).await?;
    let none = FormErrors::default();
    let page = view::page(&ui.chrome().await, &b, &RestoreForm::default(), &none);
    Ok(page.into_response())
}

async fn restore(
    State(s): State<AppState>,
    ui: Ui,
    Path(id): Path<i64>,
    Form(f): Form<RestoreForm>,
) -> WebResult {
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
        Err(e) => {
            let errors = FormErrors::from_ops(e)?;
            return Ok(unprocessable(view::page(
                &ui.chrome().await,
                &b,
                &f,
                &errors,
            )));
        }
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
