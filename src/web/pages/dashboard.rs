//! The dashboard: host load, instances by phase, committed plan limits
//! against host capacity (overcommit), backup health, and what is failing
//! right now.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::response::IntoResponse;

use crate::web::error::WebResult;
use crate::web::route::{Access, Route};
use crate::web::session::Ui;
use crate::web::state::AppState;
use crate::web::views::dashboard::{self as view, Dashboard};

pub fn routes() -> Vec<Route> {
    vec![Route::get("/", Access::Session, dashboard)]
}

async fn dashboard(State(s): State<AppState>, ui: Ui) -> WebResult {
    let host_state = s.ui.clone();
    let host = tokio::task::spawn_blocking(move || host_state.host.read())
        .await
        .unwrap_or_default();
    let d = Dashboard {
        host,
        caddy: s.caddy.get(),
        overview: s.ops.overview().await?,
        failed_logins: s.ops.recent_failed_logins().await?,
        backups: s.ops.backup_status().await?,
        reconcile_errors: s.stats.errors.load(Ordering::Relaxed),
    };
    Ok(view::dashboard(&ui.chrome().await, &d).into_response())
}
