//! The portal's instance pages: the home list, its live status, one
//! instance (status, address, actions, recent output), and usage.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;

use super::frame::{back_with_outcome, page};
use crate::domain::Phase;
use crate::ops::InstanceAction;
use crate::web::api::usage::Params;
use crate::web::error::WebResult;
use crate::web::pages::usage::page_range;
use crate::web::portal_session::PortalUi;
use crate::web::route::{Access, Route};
use crate::web::state::AppState;
use crate::web::views::portal::{instances as view, usage as usage_view};

pub fn routes() -> Vec<Route> {
    const P: Access = Access::Portal;
    vec![
        Route::get("/portal", P, home),
        Route::get("/portal/status", P, status),
        Route::get("/portal/instances/{name}", P, instance),
        Route::post("/portal/instances/{name}/start", P, start),
        Route::post("/portal/instances/{name}/stop", P, stop),
        Route::post("/portal/instances/{name}/restart", P, restart),
        Route::get("/portal/usage", P, usage),
    ]
}

async fn home(State(s): State<AppState>, ui: PortalUi) -> WebResult {
    let h = s.ops.portal_home(&ui.identity()).await?;
    let body = view::home(s.ops.config(), &ui.csrf, &h, ui.is_owner());
    Ok(page(&s, &ui, "Instances", body).await.into_response())
}

/// What the status script needs to refresh the phase badges.
#[derive(Serialize)]
struct Status {
    id: i64,
    phase: Phase,
    message: String,
}

async fn status(State(s): State<AppState>, ui: PortalUi) -> WebResult {
    let h = s.ops.portal_home(&ui.identity()).await?;
    let list: Vec<Status> = h
        .instances
        .into_iter()
        .map(|i| Status {
            id: i.id,
            phase: i.phase,
            message: i.message,
        })
        .collect();
    Ok(Json(list).into_response())
}

async fn instance(State(s): State<AppState>, ui: PortalUi, Path(name): Path<String>) -> WebResult {
    let me = ui.identity();
    let inst = s.ops.portal_instance(&me, &name).await?;
    let logs = s.ops.portal_logs(&me, &name).await?;
    let has_admin = ui.is_owner() && s.ops.portal_admin_account(&me, &name).await?.is_some();
    let body = view::instance(s.ops.config(), &ui.csrf, &inst, &logs, has_admin);
    let title = format!("Instance {}", inst.name);
    Ok(page(&s, &ui, &title, body).await.into_response())
}

async fn act(s: AppState, ui: PortalUi, name: String, action: InstanceAction) -> WebResult {
    let outcome = s
        .ops
        .portal_action(&ui.actor(), &ui.identity(), &name, action)
        .await
        .map(|i| {
            let verb = match action {
                InstanceAction::Start => "starting",
                InstanceAction::Stop => "stopping",
                InstanceAction::Restart => "restarting",
            };
            format!("Instance {} is {verb}.", i.name)
        });
    back_with_outcome(&ui, &view::instance_url(&name), outcome).await
}

async fn start(State(s): State<AppState>, ui: PortalUi, Path(name): Path<String>) -> WebResult {
    act(s, ui, name, InstanceAction::Start).await
}

async fn stop(State(s): State<AppState>, ui: PortalUi, Path(name): Path<String>) -> WebResult {
    act(s, ui, name, InstanceAction::Stop).await
}

async fn restart(State(s): State<AppState>, ui: PortalUi, Path(name): Path<String>) -> WebResult {
    act(s, ui, name, InstanceAction::Restart).await
}

async fn usage(State(s): State<AppState>, ui: PortalUi, q: Params) -> WebResult {
    let u = s.ops.portal_usage(&ui.identity(), page_range(&q)?).await?;
    Ok(page(&s, &ui, "Usage", usage_view::usage(&u))
        .await
        .into_response())
}
