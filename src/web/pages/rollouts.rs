//! Rollout pages: the list, the form that starts one, a rollout live (it
//! reloads itself until finished), halt/resume, and an instance's manual
//! rollback behind a confirmation.

use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::Form;
use serde::Deserialize;

use super::reply::{flash_refusal, see_other, unprocessable};
use crate::domain::RolloutStatus;
use crate::ops::{OpsError, RolloutInput};
use crate::web::error::WebResult;
use crate::web::route::{Access, Route};
use crate::web::session::Ui;
use crate::web::state::AppState;
use crate::web::views::components::FormErrors;
use crate::web::views::rollouts::{self as view, RolloutForm};

/// Seconds between reloads of a running rollout: steps take seconds to minutes.
const RELOAD_SECS: &str = "2";

pub fn routes() -> Vec<Route> {
    const S: Access = Access::Session;
    vec![
        Route::get("/rollouts", S, list),
        Route::get("/rollouts/new", S, new_form),
        Route::post("/rollouts", S, start),
        Route::get("/rollouts/{id}", S, show),
        Route::post("/rollouts/{id}/halt", S, halt),
        Route::post("/rollouts/{id}/resume", S, resume),
        Route::post("/rollouts/{id}/cancel", S, cancel),
        Route::get("/instances/{id}/rollback", S, rollback_form),
        Route::post("/instances/{id}/rollback", S, rollback),
    ]
}

async fn list(State(s): State<AppState>, ui: Ui) -> WebResult {
    let rollouts = s.ops.list_rollouts().await?;
    Ok(view::list(&ui.chrome().await, &rollouts).into_response())
}

#[derive(Debug, Default, Deserialize)]
struct NewQuery {
    #[serde(default)]
    blueprint: String,
    #[serde(default)]
    tag: String,
}

async fn form_page(
    s: &AppState,
    ui: &Ui,
    f: &RolloutForm,
    errors: &FormErrors,
) -> WebResult<maud::Markup> {
    let blueprints: Vec<(String, String)> = s
        .ops
        .blueprint_choices()
        .into_iter()
        .map(|(n, _)| (n.clone(), n))
        .collect();
    let candidates = s.ops.rollout_candidates(&f.blueprint).await?;
    Ok(view::new_form(
        &ui.chrome().await,
        &blueprints,
        &candidates,
        f,
        errors,
    ))
}

async fn new_form(State(s): State<AppState>, ui: Ui, Query(q): Query<NewQuery>) -> WebResult {
    let blueprint = if q.blueprint.is_empty() {
        s.ops.default_blueprint().unwrap_or_default().to_owned()
    } else if s
        .ops
        .blueprint_choices()
        .iter()
        .any(|(n, _)| *n == q.blueprint)
    {
        q.blueprint
    } else {
        return Err(OpsError::NotFound(format!("no blueprint named {}", q.blueprint)).into());
    };
    let f = RolloutForm {
        blueprint,
        tag: q.tag,
        instances: None,
        waves: "1,all".into(),
        keep_going: false,
    };
    Ok(form_page(&s, &ui, &f, &FormErrors::default())
        .await?
        .into_response())
}

/// The form's fields; checkboxes repeat `instance`, so the body is read as
/// pairs (serde's structs take a key once).
fn read_form(pairs: Vec<(String, String)>) -> Result<RolloutForm, FormErrors> {
    let mut f = RolloutForm {
        instances: Some(Vec::new()),
        ..Default::default()
    };
    for (k, v) in pairs {
        match k.as_str() {
            "blueprint" => f.blueprint = v,
            "tag" => f.tag = v.trim().to_owned(),
            "waves" => f.waves = v.trim().to_owned(),
            "keep_going" => f.keep_going = true,
            "instance" => match v.parse() {
                Ok(id) => f.instances.get_or_insert_with(Vec::new).push(id),
                Err(_) => return Err(FormErrors::general(format!("bad instance id {v:?}"))),
            },
            _ => {}
        }
    }
    Ok(f)
}

async fn start(
    State(s): State<AppState>,
    ui: Ui,
    Form(pairs): Form<Vec<(String, String)>>,
) -> WebResult {
    let f = match read_form(pairs) {
        Ok(f) => f,
        Err(errors) => {
            let f = RolloutForm::default();
            return Ok(unprocessable(form_page(&s, &ui, &f, &errors).await?));
        }
    };
    let input = RolloutInput {
        blueprint: f.blueprint.clone(),
        tag: Some(f.tag.clone()).filter(|t| !t.is_empty()),
        // What the admin saw checked: an empty choice is refused by ops.
        instances: f.instances.clone(),
        waves: Some(f.waves.clone()).filter(|w| !w.is_empty()),
        keep_going: f.keep_going,
    };
    match s.ops.start_rollout(&ui.actor(), input).await {
        Ok(r) => {
            let text = format!("Rollout {} of {} started.", r.id, r.blueprint);
            ui.flash(true, text).await;
            Ok(see_other(&format!("/rollouts/{}", r.id)))
        }
        Err(e) => {
            let errors = FormErrors::from_ops(e)?;
            Ok(unprocessable(form_page(&s, &ui, &f, &errors).await?))
        }
    }
}

async fn show(State(s): State<AppState>, ui: Ui, Path(id): Path<i64>) -> WebResult {
    let r = s.ops.get_rollout(id).await?;
    let page = view::detail(&ui.chrome().await, &r);
    // Complete without scripts: the browser reloads it while steps move.
    if r.status.is_finished() || r.status == RolloutStatus::Halted {
        return Ok(page.into_response());
    }
    Ok(([(header::REFRESH, RELOAD_SECS)], page).into_response())
}

async fn halt(State(s): State<AppState>, ui: Ui, Path(id): Path<i64>) -> WebResult {
    match s.ops.halt_rollout(&ui.actor(), id).await {
        Ok(_) => ui.flash(true, format!("Rollout {id} halted.")).await,
        Err(e) => flash_refusal(&ui, e).await?,
    }
    Ok(see_other(&format!("/rollouts/{id}")))
}

async fn resume(State(s): State<AppState>, ui: Ui, Path(id): Path<i64>) -> WebResult {
    match s.ops.resume_rollout(&ui.actor(), id).await {
        Ok(_) => ui.flash(true, format!("Rollout {id} resumed.")).await,
        Err(e) => flash_refusal(&ui, e).await?,
    }
    Ok(see_other(&format!("/rollouts/{id}")))
}

async fn cancel(State(s): State<AppState>, ui: Ui, Path(id): Path<i64>) -> WebResult {
    match s.ops.cancel_rollout(&ui.actor(), id).await {
        Ok(_) => ui.flash(true, format!("Rollout {id} cancelled.")).await,
        Err(e) => flash_refusal(&ui, e).await?,
    }
    Ok(see_other(&format!("/rollouts/{id}")))
}

async fn rollback_form(State(s): State<AppState>, ui: Ui, Path(id): Path<i64>) -> WebResult {
    let row = s.ops.get_instance(id).await?;
    let label = format!("{}/{}", row.client_slug, row.name);
    let info = s.ops.instance_rollouts(vec![id]).await?.remove(&id);
    let Some(to) = info.and_then(|i| i.rollback_to) else {
        return Err(OpsError::Refused(format!(
            "nothing to roll back to: {label} has no rollback point now"
        ))
        .into());
    };
    Ok(view::rollback_confirm(&ui.chrome().await, id, &label, &to).into_response())
}

async fn rollback(State(s): State<AppState>, ui: Ui, Path(id): Path<i64>) -> WebResult {
    match s.ops.rollback_instance(&ui.actor(), id).await {
        Ok(r) => {
            ui.flash(true, format!("Rollback {} started.", r.id)).await;
            Ok(see_other(&format!("/rollouts/{}", r.id)))
        }
        Err(e) => {
            flash_refusal(&ui, e).await?;
            let row = s.ops.get_instance(id).await?;
            Ok(see_other(&format!(
                "/clients/{}",
                crate::web::urls::seg(&row.client_slug)
            )))
        }
    }
}
