//! An owner's GDPR export of their own client, as a JSON download; the
//! client comes from the session, never from the URL.

use axum::extract::State;

use crate::web::error::WebResult;
use crate::web::portal_session::PortalUi;
use crate::web::route::{Access, Route};
use crate::web::state::AppState;

pub fn routes() -> Vec<Route> {
    vec![Route::get("/portal/export", Access::Portal, export)]
}

async fn export(State(s): State<AppState>, ui: PortalUi) -> WebResult {
    let export = s.ops.portal_export(&ui.actor(), &ui.identity()).await?;
    Ok(crate::web::bundle::json(&export))
}
