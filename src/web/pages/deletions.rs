//! A confirmed delete's progress page: it reloads itself while the
//! deletion job runs and shows the report once it is done.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use maud::{html, Markup};

use super::client_forms::report_body;
use super::PageResult;
use crate::domain::DeletionStatus;
use crate::ops::DeletionJob;
use crate::web::routes::{Access, Route};
use crate::web::session::Ui;
use crate::web::views::layout::Nav;
use crate::web::AppState;

/// Seconds between reloads while the job runs: containers stop in seconds.
const RELOAD_SECS: &str = "1";

pub fn routes() -> Vec<Route> {
    vec![Route::get("/deletions/{id}", Access::Session, show)]
}

async fn show(State(s): State<AppState>, ui: Ui, Path(id): Path<i64>) -> PageResult {
    let job = s.ops.get_deletion(id).await?;
    if let Some(report) = &job.report {
        let title = if report.client_deleted {
            "Deleted"
        } else {
            "Removed"
        };
        return Ok(ui
            .page(title, Nav::Clients, report_body(report))
            .await
            .into_response());
    }
    let page = ui.page("Deleting", Nav::Clients, progress_body(&job)).await;
    if job.status.is_finished() {
        return Ok(page.into_response());
    }
    // The page is complete without scripts: the browser reloads it until the
    // report replaces it.
    Ok(([(header::REFRESH, RELOAD_SECS)], page).into_response())
}

fn progress_body(job: &DeletionJob) -> Markup {
    let what = if job.client_deleted {
        format!("client {}", job.client_name)
    } else {
        format!("an instance of {}", job.client_name)
    };
    html! {
        @match job.status {
            DeletionStatus::Failed => {
                h1 { "Deleting " (what) " failed" }
                div.flash.flash-error role="alert" { (job.error) }
                p { "The containers are gone and the rows are kept; confirm the delete again to finish it." }
            }
            DeletionStatus::Pending => {
                h1 { "Deleting " (what) "…" }
                p role="status" { "Waiting for the containers, networks and routes to be removed. This page reloads until the report is ready." }
            }
            DeletionStatus::Running | DeletionStatus::Done => {
                h1 { "Deleting " (what) "…" }
                p role="status" { "Removing data and backups. This page reloads until the report is ready." }
            }
        }
        p { a.button href="/clients" { "Back to clients" } }
    }
}
