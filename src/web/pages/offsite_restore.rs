//! Restoring from offsite in the admin UI: an instance's snapshots per
//! target, the confirmation (in place, confirmed by typing
//! "<client>/<instance>", or as a new instance), the restore's progress
//! (reloads itself until done), and a target's recent copies and restores.

use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Form;

use super::reply::{see_other, unprocessable};
use crate::domain::{InstanceName, RestoreMode};
use crate::offsite::Snapshot;
use crate::ops::{OffsiteRestoreInput, OpsError};
use crate::store::InstanceRow;
use crate::web::error::WebResult;
use crate::web::forms::RestoreForm;
use crate::web::route::{Access, Route};
use crate::web::session::Ui;
use crate::web::state::AppState;
use crate::web::views::components::FormErrors;
use crate::web::views::offsite_restore as view;

/// Seconds between reloads of a running restore: downloads take seconds to minutes.
const RELOAD_SECS: &str = "2";

pub fn routes() -> Vec<Route> {
    const S: Access = Access::Session;
    vec![
        Route::get("/instances/{id}/offsite", S, snapshots),
        Route::get("/instances/{id}/offsite/{target}/{snapshot}", S, form),
        Route::post("/instances/{id}/offsite/{target}/{snapshot}", S, restore),
        Route::get("/offsite-restores/{id}", S, show),
        Route::get("/offsite/{target}", S, target),
    ]
}

async fn snapshots(State(s): State<AppState>, ui: Ui, Path(id): Path<i64>) -> WebResult {
    let (inst, targets) = s.ops.instance_offsite_snapshots(id).await?;
    Ok(view::snapshots(&ui.chrome().await, &inst, &targets).into_response())
}

/// The instance and the snapshot of it the URL names (404 if not its own).
async fn chosen(
    s: &AppState,
    id: i64,
    target: &str,
    snapshot: &str,
) -> Result<(InstanceRow, Snapshot), OpsError> {
    let inst = s.ops.get_instance(id).await?;
    let snap = s
        .ops
        .offsite_snapshots(target, Some(id))
        .await?
        .into_iter()
        .find(|x| x.id == snapshot || x.short_id == snapshot)
        .ok_or_else(|| {
            OpsError::NotFound(format!(
                "no snapshot {snapshot} of {}/{} on {target}",
                inst.client_slug, inst.name
            ))
        })?;
    Ok((inst, snap))
}

async fn form(
    State(s): State<AppState>,
    ui: Ui,
    Path((id, target, snapshot)): Path<(i64, String, String)>,
) -> WebResult {
    let (inst, snap) = chosen(&s, id, &target, &snapshot).await?;
    let none = FormErrors::default();
    let page = view::confirm(
        &ui.chrome().await,
        &inst,
        &target,
        &snap,
        &RestoreForm::default(),
        &none,
    );
    Ok(page.into_response())
}

async fn restore(
    State(s): State<AppState>,
    ui: Ui,
    Path((id, target, snapshot)): Path<(i64, String, String)>,
    Form(f): Form<RestoreForm>,
) -> WebResult {
    let (inst, snap) = chosen(&s, id, &target, &snapshot).await?;
    let expected = format!("{}/{}", inst.client_slug, inst.name);
    let into = if f.mode() == RestoreMode::Clone {
        // Checked here too so a bad name is reported beside its field.
        InstanceName::parse(f.instance.trim())
            .map(|_| Some(f.instance.trim().to_owned()))
            .map_err(OpsError::from)
    } else if f.confirm.trim() == expected {
        Ok(None)
    } else {
        Err(OpsError::Invalid(crate::domain::DomainError::new(
            "confirm",
            "does not match; nothing was restored",
        )))
    };
    let outcome = match into {
        Ok(into) => {
            let input = OffsiteRestoreInput {
                target: target.clone(),
                snapshot: Some(snap.id.clone()),
                into,
            };
            s.ops
                .request_offsite_restore_as(&ui.actor(), id, input)
                .await
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(r) => {
            let text = format!(
                "Offsite restore {} of snapshot {} queued.",
                r.id, snap.short_id
            );
            ui.flash(true, text).await;
            Ok(see_other(&format!("/offsite-restores/{}", r.id)))
        }
        Err(e) => {
            let errors = FormErrors::from_ops(e)?;
            let page = view::confirm(&ui.chrome().await, &inst, &target, &snap, &f, &errors);
            Ok(unprocessable(page))
        }
    }
}

async fn show(State(s): State<AppState>, ui: Ui, Path(id): Path<i64>) -> WebResult {
    let p = s.ops.offsite_restore_progress(id).await?;
    let page = view::progress(&ui.chrome().await, &p);
    if p.stage.is_finished() {
        return Ok(page.into_response());
    }
    // Complete without scripts: the browser reloads it until the restore ends.
    Ok(([(header::REFRESH, RELOAD_SECS)], page).into_response())
}

async fn target(State(s): State<AppState>, ui: Ui, Path(name): Path<String>) -> WebResult {
    let copies = s.ops.offsite_copies(&name, 20).await?;
    let restores = s.ops.offsite_restores(&name, 20).await?;
    Ok(view::target(&ui.chrome().await, &name, &copies, &restores).into_response())
}
