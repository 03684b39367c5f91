//! Backup pages: an instance's history, "back up now", verify, and the
//! backups section of a client's page. Restores are in `restore`.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::Form;
use maud::Markup;
use serde::Serialize;

use super::reply::{flash_refusal, see_other};
use crate::domain::{BackupStatus, Trigger};
use crate::store::{BackupRow, InstanceRow};
use crate::web::error::WebResult;
use crate::web::forms::BackForm;
use crate::web::route::{Access, Route};
use crate::web::session::Ui;
use crate::web::state::AppState;
use crate::web::views::backups as view;

pub fn routes() -> Vec<Route> {
    const S: Access = Access::Session;
    vec![
        Route::get("/instances/{id}/backups", S, history),
        Route::post("/instances/{id}/backups", S, backup_now),
        Route::post("/backups/{id}/verify", S, verify),
    ]
}

/// A queued or running backup, for the status JSON the page script polls.
#[derive(Serialize)]
pub struct Progress {
    id: i64,
    status: BackupStatus,
    progress: String,
}

pub fn active(list: &[BackupRow]) -> Vec<Progress> {
    list.iter()
        .filter(|b| b.status.is_active())
        .map(|b| Progress {
            id: b.id,
            status: b.status,
            progress: view::progress(b),
        })
        .collect()
}

/// The client page's backups section.
pub async fn client_section(s: &AppState, csrf: &str, list: &[InstanceRow]) -> WebResult<Markup> {
    let mut parts = Vec::new();
    for i in list {
        parts.push((i, s.ops.list_backups(i.id).await?));
    }
    Ok(view::client_section(&parts, csrf))
}

async fn history(State(s): State<AppState>, ui: Ui, Path(id): Path<i64>) -> WebResult {
    let inst = s.ops.get_instance(id).await?;
    let rows = s.ops.list_backups(id).await?;
    Ok(view::history(&ui.chrome().await, &inst, &rows).into_response())
}

async fn backup_now(
    State(s): State<AppState>,
    ui: Ui,
    Path(id): Path<i64>,
    Form(f): Form<BackForm>,
) -> WebResult {
    let inst = s.ops.get_instance(id).await?;
    match s.ops.request_backup(&ui.actor(), id, Trigger::Ui).await {
        Ok(b) => {
            let text = format!(
                "Backup {} of {}/{} queued.",
                b.id, inst.client_slug, inst.name
            );
            ui.flash(true, text).await
        }
        Err(e) => flash_refusal(&ui, e).await?,
    }
    Ok(see_other(&f.url(&inst.client_slug, Some(id))))
}

async fn verify(
    State(s): State<AppState>,
    ui: Ui,
    Path(id): Path<i64>,
    Form(f): Form<BackForm>,
) -> WebResult {
    let b = s.ops.get_backup(id).await?;
    match s.ops.request_verify(&ui.actor(), id).await {
        Ok(_) => {
            ui.flash(true, format!("Backup {id} is being verified."))
                .await
        }
        Err(e) => flash_refusal(&ui, e).await?,
    }
    Ok(see_other(&f.url(&b.client_slug, b.instance_id)))
}
