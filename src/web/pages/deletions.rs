//! Confirmed deletes: a job's progress page (it reloads itself while the
//! job runs and shows the report once it is done), the report as a JSON
//! download, and the list of every deletion.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Json;

use crate::web::error::WebResult;
use crate::web::route::{Access, Route};
use crate::web::session::Ui;
use crate::web::state::AppState;
use crate::web::views::deletions as view;

/// Seconds between reloads while the job runs: containers stop in seconds.
const RELOAD_SECS: &str = "1";

pub fn routes() -> Vec<Route> {
    vec![
        Route::get("/deletions", Access::Session, list),
        Route::get("/deletions/{id}", Access::Session, show),
        Route::get("/deletions/{id}/report.json", Access::Session, download),
    ]
}

async fn list(State(s): State<AppState>, ui: Ui) -> WebResult {
    let jobs = s.ops.list_deletions().await?;
    Ok(view::list(&ui.chrome().await, &jobs).into_response())
}

async fn show(State(s): State<AppState>, ui: Ui, Path(id): Path<i64>) -> WebResult {
    let job = s.ops.get_deletion(id).await?;
    let chrome = ui.chrome().await;
    if let Some(report) = &job.report {
        return Ok(view::report(&chrome, job.id, report).into_response());
    }
    let page = view::progress(&chrome, &job);
    if job.status.is_finished() {
        return Ok(page.into_response());
    }
    // The page is complete without scripts: the browser reloads it until the
    // report replaces it.
    Ok(([(header::REFRESH, RELOAD_SECS)], page).into_response())
}

async fn download(State(s): State<AppState>, _ui: Ui, Path(id): Path<i64>) -> WebResult {
    let report = s.ops.deletion_report(id).await?;
    let disposition = format!("attachment; filename=\"berth-deletion-{id}.json\"");
    Ok(([(header::CONTENT_DISPOSITION, disposition)], Json(report)).into_response())
}
