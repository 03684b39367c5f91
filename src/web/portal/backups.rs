//! The portal's backups: the list, downloads (through the admin download's
//! streaming, scoped to the session's client) and, when the client's plan
//! allows it, a confirmed restore in place.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::Form;

use super::frame::{back_with_outcome, page};
use crate::ops::OpsError;
use crate::web::api::backups::archive_response;
use crate::web::error::WebResult;
use crate::web::forms::ConfirmForm;
use crate::web::pages::reply::unprocessable;
use crate::web::portal_session::PortalUi;
use crate::web::route::{Access, Route};
use crate::web::state::AppState;
use crate::web::views::components::FormErrors;
use crate::web::views::portal::backups as view;

pub fn routes() -> Vec<Route> {
    const P: Access = Access::Portal;
    vec![
        Route::get("/portal/backups", P, list),
        Route::get("/portal/backups/{id}/download", P, download),
        Route::get("/portal/backups/{id}/restore", P, restore_form),
        Route::post("/portal/backups/{id}/restore", P, restore),
    ]
}

async fn list(State(s): State<AppState>, ui: PortalUi) -> WebResult {
    let b = s.ops.portal_backups(&ui.identity()).await?;
    let body = view::list(&b);
    Ok(page(&s, &ui, "Backups", body).await.into_response())
}

async fn download(State(s): State<AppState>, ui: PortalUi, Path(id): Path<i64>) -> WebResult {
    let path = s
        .ops
        .portal_backup_file(&ui.actor(), &ui.identity(), id)
        .await?;
    archive_response(id, &path).await
}

async fn restore_form(State(s): State<AppState>, ui: PortalUi, Path(id): Path<i64>) -> WebResult {
    let (instance, backup) = s.ops.portal_restorable(&ui.identity(), id).await?;
    let body = view::restore_form(&ui.csrf, &backup, &instance, &FormErrors::default());
    Ok(page(&s, &ui, "Restore", body).await.into_response())
}

async fn restore(
    State(s): State<AppState>,
    ui: PortalUi,
    Path(id): Path<i64>,
    Form(f): Form<ConfirmForm>,
) -> WebResult {
    let me = ui.identity();
    let (instance, backup) = s.ops.portal_restorable(&me, id).await?;
    if f.confirm.trim() != instance {
        let errors = FormErrors::from_ops(OpsError::Invalid(crate::domain::DomainError::new(
            "confirm",
            "does not match; nothing was restored",
        )))?;
        let body = view::restore_form(&ui.csrf, &backup, &instance, &errors);
        return Ok(unprocessable(page(&s, &ui, "Restore", body).await));
    }
    let outcome = s
        .ops
        .portal_restore(&ui.actor(), &me, id)
        .await
        .map(|_| format!("Backup {id} is being restored into {instance}."));
    back_with_outcome(&ui, "/portal/backups", outcome).await
}
