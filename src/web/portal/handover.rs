//! The client owner's one look at their instance's admin password.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;

use super::frame::{back_with_outcome, page};
use crate::web::error::WebResult;
use crate::web::portal_session::PortalUi;
use crate::web::route::{Access, Route};
use crate::web::state::AppState;
use crate::web::views::handover as view;

pub fn routes() -> Vec<Route> {
    const P: Access = Access::Portal;
    vec![
        Route::get("/portal/instances/{name}/admin", P, show),
        Route::post("/portal/instances/{name}/admin/reveal", P, reveal),
    ]
}

fn url(name: &str) -> String {
    format!(
        "{}/admin",
        crate::web::views::portal::instances::instance_url(name)
    )
}

async fn show(State(s): State<AppState>, ui: PortalUi, Path(name): Path<String>) -> WebResult {
    let Some(account) = s.ops.portal_admin_account(&ui.identity(), &name).await? else {
        return Err(crate::ops::OpsError::NotFound(format!("instance {name} not found")).into());
    };
    let seen = account.revealed_to_owner || !ui.is_owner();
    let body = view::account(&format!("{}/reveal", url(&name)), &ui.csrf, &account, seen);
    Ok(page(&s, &ui, "Admin account", body).await.into_response())
}

async fn reveal(State(s): State<AppState>, ui: PortalUi, Path(name): Path<String>) -> WebResult {
    let shown = s
        .ops
        .portal_reveal_admin_password(&ui.actor(), &ui.identity(), &name)
        .await;
    match shown {
        Ok(creds) => {
            let body = page(&s, &ui, "Admin account", view::credentials(&creds)).await;
            Ok(([(header::CACHE_CONTROL, "no-store")], body).into_response())
        }
        Err(e) => back_with_outcome(&ui, &url(&name), Err::<String, _>(e)).await,
    }
}
