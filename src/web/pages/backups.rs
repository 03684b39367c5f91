//! Backup pages: an instance's history, "back up now", verify, and the
//! backups section of a client's page. Restores are in `restore`.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::Form;
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

use super::{see_other, seg, PageResult};
use crate::domain::{BackupStatus, Trigger};
use crate::ops::OpsError;
use crate::store::{BackupRow, InstanceRow};
use crate::web::routes::{Access, Route};
use crate::web::session::Ui;
use crate::web::views::backups::{self, Back};
use crate::web::views::layout::Nav;
use crate::web::AppState;

/// Backups per instance on the client page; the rest are on the history page.
const NEWEST: usize = 3;

pub fn routes() -> Vec<Route> {
    const S: Access = Access::Session;
    let mut r = vec![
        Route::get("/instances/{id}/backups", S, history),
        Route::post("/instances/{id}/backups", S, backup_now),
        Route::post("/backups/{id}/verify", S, verify),
    ];
    r.extend(super::restore::routes());
    r
}

#[derive(Debug, Default, Deserialize)]
pub struct BackForm {
    #[serde(default)]
    back: String,
}

impl BackForm {
    /// Only these two places: the form names one, never a URL.
    fn url(&self, client_slug: &str, instance_id: Option<i64>) -> String {
        match (self.back.as_str(), instance_id) {
            ("history", Some(id)) => history_url(id),
            _ => format!("/clients/{}", seg(client_slug)),
        }
    }
}

pub fn history_url(instance_id: i64) -> String {
    format!("/instances/{instance_id}/backups")
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
            progress: backups::progress(b),
        })
        .collect()
}

/// The client page's backups: per instance the newest few and its actions.
pub async fn client_section(s: &AppState, ui: &Ui, list: &[InstanceRow]) -> PageResult<Markup> {
    let mut parts = Vec::new();
    for i in list {
        parts.push((i, s.ops.list_backups(i.id).await?));
    }
    Ok(html! {
        @for (i, rows) in &parts {
            h3 { (i.name) " " a.muted href=(history_url(i.id)) { "all backups (" (rows.len()) ")" } }
            @if rows.is_empty() {
                (backups::none_yet(i.id, &ui.csrf, Back::Client))
            } @else {
                div.actions { (backups::backup_button(i.id, &ui.csrf, Back::Client)) }
                (backups::table(&rows[..rows.len().min(NEWEST)], &ui.csrf, Back::Client))
            }
        }
    })
}

async fn history(State(s): State<AppState>, ui: Ui, Path(id): Path<i64>) -> PageResult {
    let inst = s.ops.get_instance(id).await?;
    let rows = s.ops.list_backups(id).await?;
    let title = format!("Backups of {}/{}", inst.client_slug, inst.name);
    let client_url = format!("/clients/{}", seg(&inst.client_slug));
    let body = html! {
        h1 { (title) }
        div.actions {
            (backups::backup_button(id, &ui.csrf, Back::History))
            a href=(client_url) { "Back to " (inst.client_slug) }
        }
        @if rows.is_empty() {
            (backups::none_yet(id, &ui.csrf, Back::History))
        } @else {
            p.muted { (rows.len()) " backups, newest first" }
            div data-status-url={ (client_url) "/status" } {
                (backups::table(&rows, &ui.csrf, Back::History))
            }
        }
    };
    Ok(ui.page(&title, Nav::Clients, body).await.into_response())
}

async fn backup_now(
    State(s): State<AppState>,
    ui: Ui,
    Path(id): Path<i64>,
    Form(f): Form<BackForm>,
) -> PageResult {
    let inst = s.ops.get_instance(id).await?;
    match s.ops.request_backup(&ui.actor(), id, Trigger::Ui).await {
        Ok(b) => {
            let text = format!(
                "Backup {} of {}/{} queued.",
                b.id, inst.client_slug, inst.name
            );
            ui.flash(true, text).await
        }
        Err(OpsError::Conflict(m)) => ui.flash(false, m).await,
        Err(e) => return Err(e.into()),
    }
    Ok(see_other(&f.url(&inst.client_slug, Some(id))))
}

async fn verify(
    State(s): State<AppState>,
    ui: Ui,
    Path(id): Path<i64>,
    Form(f): Form<BackForm>,
) -> PageResult {
    let b = s.ops.get_backup(id).await?;
    match s.ops.request_verify(&ui.actor(), id).await {
        Ok(_) => {
            ui.flash(true, format!("Backup {id} is being verified."))
                .await
        }
        Err(OpsError::Refused(m)) => ui.flash(false, m).await,
        Err(e) => return Err(e.into()),
    }
    Ok(see_other(&f.url(&b.client_slug, b.instance_id)))
}
