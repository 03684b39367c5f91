//! The portal's backups: the list, downloads (through the admin download's
//! streaming, scoped to the session's client) and, when the client's plan
//! allows it, a confirmed restore in place.

use axum::extract::{Path, State};
use axum::response::IntoResponse;

use super::frame::page;
use crate::web::api::backups::archive_response;
use crate::web::error::WebResult;
use crate::web::portal_session::PortalUi;
use crate::web::route::{Access, Route};
use crate::web::state::AppState;
use crate::web::views::portal::backups as view;

pub fn routes() -> Vec<Route> {
    const P: Access = Access::Portal;
    vec![
        Route::get("/portal/backups", P, list),
        Route::get("/portal/backups/{id}/download", P, download),
    ]
}

async fn list(State(s): State<AppState>, ui: PortalUi) -> WebResult {
    let b = s.ops.portal_backups(&ui.identity()).await?;
    let body = view::list(&b, false);
    Ok(page(&s, &ui, "Backups", body).await.into_response())
}

async fn download(State(s): State<AppState>, ui: PortalUi, Path(id): Path<i64>) -> WebResult {
    let path = s
        .ops
        .portal_backup_file(&ui.actor(), &ui.identity(), id)
        .await?;
    archive_response(id, &path).await
}
