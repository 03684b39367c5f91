//! A confirmed delete's progress page: it reloads itself while the
//! deletion job runs and shows the report once it is done.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;

use crate::web::error::WebResult;
use crate::web::route::{Access, Route};
use crate::web::session::Ui;
use crate::web::state::AppState;
use crate::web::views::{client_forms, deletions as view};

/// Seconds between reloads while the job runs: containers stop in seconds.
const RELOAD_SECS: &str = "1";

pub fn routes() -> Vec<Route> {
    vec![Route::get("/deletions/{id}", Access::Session, show)]
}

async fn show(State(s): State<AppState>, ui: Ui, Path(id): Path<i64>) -> WebResult {
    let job = s.ops.get_deletion(id).await?;
    let chrome = ui.chrome().await;
    if let Some(report) = &job.report {
        let title = if report.client_deleted {
            "Deleted"
        } else {
            "Removed"
        };
        return Ok(client_forms::report(&chrome, title, report).into_response());
    }
    let page = view::progress(&chrome, &job);
    if job.status.is_finished() {
        return Ok(page.into_response());
    }
    // The page is complete without scripts: the browser reloads it until the
    // report replaces it.
    Ok(([(header::REFRESH, RELOAD_SECS)], page).into_response())
}
