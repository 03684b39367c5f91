//! The portal's home page: the client's own instances.

use axum::extract::State;
use axum::response::IntoResponse;

use crate::web::error::WebResult;
use crate::web::portal_session::PortalUi;
use crate::web::route::{Access, Route};
use crate::web::state::AppState;
use crate::web::views::portal::home as view;

pub fn routes() -> Vec<Route> {
    vec![Route::get("/portal", Access::Portal, home)]
}

async fn home(State(s): State<AppState>, ui: PortalUi) -> WebResult {
    let instances = s.ops.portal_instances(&ui.identity()).await?;
    let chrome = ui.chrome(&s).await;
    Ok(view::home(&chrome, s.ops.config(), &instances).into_response())
}
