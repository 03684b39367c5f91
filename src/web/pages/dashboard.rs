//! The dashboard: host load, instances by phase, committed plan limits
//! against host capacity (overcommit), backup health, and what is failing
//! right now.

use std::sync::atomic::Ordering;

use axum::extract::{Query, State};
use axum::response::IntoResponse;

use crate::web::error::WebResult;
use crate::web::route::{Access, Route};
use crate::web::session::Ui;
use crate::web::state::AppState;
use crate::web::views::dashboard::{self as view, Dashboard};

/// Rows of instances lacking a backup shown before "show all": enough to
/// act on, few enough that 32 admins refreshing stay cheap.
const BACKUP_ROWS: usize = 20;

#[derive(serde::Deserialize)]
struct DashboardQuery {
    /// `all`: every instance lacking a recent backup, not only the first.
    #[serde(default)]
    backups: String,
}

pub fn routes() -> Vec<Route> {
    vec![Route::get("/", Access::Session, dashboard)]
}

async fn dashboard(
    State(s): State<AppState>,
    ui: Ui,
    Query(q): Query<DashboardQuery>,
) -> WebResult {
    let backup_rows = if q.backups == "all" {
        usize::MAX
    } else {
        BACKUP_ROWS
    };
    let host_state = s.ui.clone();
    let host = tokio::task::spawn_blocking(move || host_state.host.read())
        .await
        .unwrap_or_default();
    let d = Dashboard {
        host,
        caddy: s.caddy.get(),
        overview: s.ops.overview().await?,
        failed_logins: s.ops.recent_failed_logins().await?,
        backups: s.ops.backup_summary(backup_rows).await?,
        reconcile_errors: s.stats.errors.load(Ordering::Relaxed),
        pending_requests: s.ops.pending_requests().await?,
        llm: match s.ops.config().llm.provider {
            Some(_) => Some(s.ops.llm_overview().await?),
            None => None,
        },
        offsite: s.ops.offsite_status().await?,
    };
    Ok(view::dashboard(&ui.chrome().await, &d).into_response())
}
