//! The portal's activity page: the audit entries about the client.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;

use super::frame::page;
use crate::web::error::{WebError, WebResult};
use crate::web::portal_session::PortalUi;
use crate::web::route::{Access, Route};
use crate::web::state::AppState;
use crate::web::views::portal::activity as view;

pub fn routes() -> Vec<Route> {
    vec![Route::get("/portal/activity", Access::Portal, activity)]
}

async fn activity(
    State(s): State<AppState>,
    ui: PortalUi,
    Query(q): Query<HashMap<String, String>>,
) -> WebResult {
    let before = match q.get("before").filter(|b| !b.is_empty()) {
        None => None,
        Some(b) => Some(b.parse::<i64>().map_err(|_| {
            WebError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "before: expected an entry number",
            )
        })?),
    };
    let p = s.ops.portal_activity(&ui.identity(), before).await?;
    Ok(page(&s, &ui, "Activity", view::activity(&p))
        .await
        .into_response())
}
