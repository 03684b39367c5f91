//! Plans: list, create, edit (with the backup policy), delete.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::Form;
use maud::Markup;

use super::reply::{flash_refusal, see_other, unprocessable};
use crate::ops::{OpsError, PlanEdit};
use crate::web::error::WebResult;
use crate::web::forms::{PlanForm, PolicyForm};
use crate::web::route::{Access, Route};
use crate::web::session::Ui;
use crate::web::state::AppState;
use crate::web::views::components::FormErrors;
use crate::web::views::plans::{self as view, PlanEditPage};

pub fn routes() -> Vec<Route> {
    const S: Access = Access::Session;
    vec![
        Route::get("/plans", S, list),
        Route::get("/plans/new", S, new_form),
        Route::post("/plans", S, create),
        Route::get("/plans/{name}/edit", S, edit_form),
        Route::post("/plans/{name}/edit", S, edit),
        Route::post("/plans/{name}/delete", S, delete),
    ]
}

async fn list(State(s): State<AppState>, ui: Ui) -> WebResult {
    let plans = s.ops.list_plans().await?;
    Ok(view::list(&ui.chrome().await, &plans).into_response())
}

async fn new_form(ui: Ui) -> WebResult {
    let none = FormErrors::default();
    let page = view::new_plan(&ui.chrome().await, &PlanForm::default(), &none);
    Ok(page.into_response())
}

async fn create(State(s): State<AppState>, ui: Ui, Form(f): Form<PlanForm>) -> WebResult {
    let result = match f.parse() {
        Ok(input) => s.ops.create_plan(&ui.actor(), input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(plan) => {
            ui.flash(true, format!("Plan {} created.", plan.name)).await;
            Ok(see_other("/plans"))
        }
        Err(e) => {
            let errors = FormErrors::from_ops(e)?;
            Ok(unprocessable(view::new_plan(
                &ui.chrome().await,
                &f,
                &errors,
            )))
        }
    }
}

/// A plan's edit page; a form not given (with its errors) is shown as saved.
pub(super) async fn edit_page(
    s: &AppState,
    ui: &Ui,
    name: &str,
    plan: Option<(&PlanForm, FormErrors)>,
    policy: Option<(&PolicyForm, FormErrors)>,
) -> Result<Markup, OpsError> {
    let saved_plan;
    let (plan_form, plan_errors) = match plan {
        Some((f, e)) => (f, e),
        None => {
            saved_plan = PlanForm::from_row(&s.ops.get_plan(name).await?);
            (&saved_plan, FormErrors::default())
        }
    };
    let saved_policy;
    let (policy_form, policy_errors) = match policy {
        Some((f, e)) => (f, e),
        None => {
            saved_policy = PolicyForm::from_policy(&s.ops.get_backup_policy(name).await?);
            (&saved_policy, FormErrors::default())
        }
    };
    let page = PlanEditPage {
        name,
        plan: (plan_form, &plan_errors),
        policy: (policy_form, &policy_errors),
        global: &s.ops.config().backup,
    };
    Ok(view::edit_plan(&ui.chrome().await, &page))
}

async fn edit_form(State(s): State<AppState>, ui: Ui, Path(name): Path<String>) -> WebResult {
    Ok(edit_page(&s, &ui, &name, None, None).await?.into_response())
}

async fn edit(
    State(s): State<AppState>,
    ui: Ui,
    Path(name): Path<String>,
    Form(f): Form<PlanForm>,
) -> WebResult {
    // Checked here too so a bad value is reported beside its field.
    let result = match f.parse().and_then(|p| p.parse().map(|_| p)) {
        Ok(p) => {
            let edit = PlanEdit {
                name: Some(p.name),
                cpus: Some(p.cpus),
                memory: Some(p.memory),
                memory_reservation: p.memory_reservation,
                storage: p.storage,
                max_instances: p.max_instances,
                approval: Some(p.approval),
                portal_restore: Some(p.portal_restore),
                // Empty (cleared in the form) allows every blueprint again.
                blueprints: Some(p.blueprints.unwrap_or_default()),
                // Empty unpins: its instances run the blueprint's tag again.
                image_tag: Some(p.image_tag.unwrap_or_default()),
            };
            s.ops.edit_plan(&ui.actor(), &name, edit).await
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(plan) => {
            ui.flash(
                true,
                format!(
                    "Plan {} saved; instances on it are recreated with the new limits.",
                    plan.name
                ),
            )
            .await;
            Ok(see_other("/plans"))
        }
        Err(e) => {
            let errors = FormErrors::from_ops(e)?;
            let page = edit_page(&s, &ui, &name, Some((&f, errors)), None).await?;
            Ok(unprocessable(page))
        }
    }
}

async fn delete(State(s): State<AppState>, ui: Ui, Path(name): Path<String>) -> WebResult {
    match s.ops.delete_plan(&ui.actor(), &name).await {
        Ok(()) => ui.flash(true, format!("Plan {name} deleted.")).await,
        Err(e) => flash_refusal(&ui, e).await?,
    }
    Ok(see_other("/plans"))
}
