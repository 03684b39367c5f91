//! The client page's GDPR export downloads: the JSON document, or a tar
//! with the newest backup archive of each instance.

use axum::extract::{Path, State};

use crate::web::error::WebResult;
use crate::web::route::{Access, Route};
use crate::web::session::Ui;
use crate::web::state::AppState;

pub fn routes() -> Vec<Route> {
    vec![
        Route::get("/clients/{slug}/export", Access::Session, json),
        Route::get("/clients/{slug}/export.tar", Access::Session, bundle),
    ]
}

async fn json(State(s): State<AppState>, ui: Ui, Path(slug): Path<String>) -> WebResult {
    let export = s.ops.export_client(&ui.actor(), &slug).await?;
    Ok(crate::web::bundle::json(&export))
}

async fn bundle(State(s): State<AppState>, ui: Ui, Path(slug): Path<String>) -> WebResult {
    let bundle = s.ops.export_bundle(&ui.actor(), &slug).await?;
    Ok(crate::web::bundle::download(bundle, &slug))
}
