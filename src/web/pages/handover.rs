//! An instance's pre-created admin account: its state, and its password
//! revealed once to the provider (POST with CSRF; the answer is not cached).

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;

use super::reply::see_other;
use crate::web::error::WebResult;
use crate::web::route::{Access, Route};
use crate::web::session::Ui;
use crate::web::state::AppState;
use crate::web::views::handover as view;
use crate::web::views::layout::{page, Nav};

pub fn routes() -> Vec<Route> {
    const S: Access = Access::Session;
    vec![
        Route::get("/instances/{id}/admin", S, show),
        Route::post("/instances/{id}/admin/reveal", S, reveal),
    ]
}

async fn show(State(s): State<AppState>, ui: Ui, Path(id): Path<i64>) -> WebResult {
    let row = s.ops.get_instance(id).await?;
    let Some(account) = s.ops.admin_account(id).await? else {
        return Err(crate::ops::OpsError::NotFound(format!(
            "instance {id} has no admin account made by berth"
        ))
        .into());
    };
    let chrome = ui.chrome().await;
    let action = format!("/instances/{id}/admin/reveal");
    let body = view::account(
        &action,
        &chrome.csrf,
        &account,
        account.revealed_to_provider,
    );
    let title = format!("{}/{}: admin account", row.client_slug, row.name);
    Ok(page(&title, Nav::Clients, &chrome, body).into_response())
}

async fn reveal(State(s): State<AppState>, ui: Ui, Path(id): Path<i64>) -> WebResult {
    match s.ops.reveal_admin_password(&ui.actor(), id).await {
        Ok(creds) => {
            let chrome = ui.chrome().await;
            let title = format!("{}/{}: admin account", creds.client, creds.instance);
            let body = page(&title, Nav::Clients, &chrome, view::credentials(&creds));
            Ok(([(header::CACHE_CONTROL, "no-store")], body).into_response())
        }
        Err(e) => {
            super::reply::flash_refusal(&ui, e).await?;
            Ok(see_other(&format!("/instances/{id}/admin")))
        }
    }
}
