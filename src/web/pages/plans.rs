//! Plans: list, create, edit (with the backup policy), delete.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::plan_backups::{policy_form, PolicyForm};
use super::{see_other, seg, PageResult};
use crate::domain::size::SizeInput;
use crate::domain::DomainError;
use crate::ops::{OpsError, PlanEdit, PlanInput};
use crate::store::PlanRow;
use crate::web::routes::{Access, Route};
use crate::web::session::Ui;
use crate::web::views::components::{
    action_button, csrf_field, empty, field, size, FormErrors, Input, REQUIRED, TEXT,
};
use crate::web::views::layout::Nav;
use crate::web::AppState;

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

async fn list(State(s): State<AppState>, ui: Ui) -> PageResult {
    let plans = s.ops.list_plans().await?;
    let body = html! {
        h1 { "Plans" }
        p.actions { a.button href="/plans/new" { "New plan" } }
        @if plans.is_empty() {
            (empty("No plans yet. A plan sets the CPU, memory and storage limits of a client's instances.", Some(("/plans/new", "Create the first plan"))))
        } @else {
            div.table-wrap { table {
                thead { tr { th { "Name" } th { "CPU" } th { "Memory" } th.optional { "Storage" } th.optional { "Max instances" } th { "In use" } th { "Actions" } } }
                tbody { @for p in &plans { tr {
                    td { (p.name) }
                    td { (p.cpus) }
                    td { (size(p.memory)) }
                    td.optional { (p.storage.map(size).unwrap_or_else(|| "-".into())) }
                    td.optional { (p.max_instances.map(|m| m.to_string()).unwrap_or_else(|| "-".into())) }
                    td { (p.instances) }
                    td { div.actions {
                        a href={ "/plans/" (seg(&p.name)) "/edit" } { "Edit" }
                        (action_button(&format!("/plans/{}/delete", seg(&p.name)), "Delete", &ui.csrf, "secondary"))
                    } }
                } } }
            } }
        }
    };
    Ok(ui.page("Plans", Nav::Plans, body).await.into_response())
}

#[derive(Debug, Default, Deserialize)]
pub struct PlanForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    cpus: String,
    #[serde(default)]
    memory: String,
    #[serde(default)]
    memory_reservation: String,
    #[serde(default)]
    storage: String,
    #[serde(default)]
    max_instances: String,
}

impl PlanForm {
    pub(super) fn from_row(p: &PlanRow) -> Self {
        Self {
            name: p.name.clone(),
            cpus: p.cpus.to_string(),
            memory: size(p.memory),
            memory_reservation: p.memory_reservation.map(size).unwrap_or_default(),
            storage: p.storage.map(size).unwrap_or_default(),
            max_instances: p.max_instances.map(|m| m.to_string()).unwrap_or_default(),
        }
    }

    fn parse(&self) -> Result<PlanInput, OpsError> {
        let cpus = self
            .cpus
            .trim()
            .parse::<f64>()
            .map_err(|_| DomainError::new("cpus", "must be a number like 0.5 or 2"))?;
        let opt = |s: &str| {
            Some(s.trim())
                .filter(|s| !s.is_empty())
                .map(|s| SizeInput::Text(s.to_owned()))
        };
        let max_instances = match self.max_instances.trim() {
            "" => None,
            m => Some(
                m.parse::<u32>()
                    .map_err(|_| DomainError::new("max_instances", "must be a whole number"))?,
            ),
        };
        Ok(PlanInput {
            name: self.name.trim().to_owned(),
            cpus,
            memory: SizeInput::Text(self.memory.trim().to_owned()),
            memory_reservation: opt(&self.memory_reservation),
            storage: opt(&self.storage),
            max_instances,
        })
    }
}

pub(super) fn form_body(
    ui: &Ui,
    title: &str,
    action: &str,
    f: &PlanForm,
    errors: &FormErrors,
) -> Markup {
    html! {
        h1 { (title) }
        (errors.render_general())
        form.stack.card method="post" action=(action) {
            (csrf_field(&ui.csrf))
            (field("Name", "name", &f.name, REQUIRED, errors))
            (field("CPU cores", "cpus", &f.cpus, Input { hint: Some("per instance, e.g. 0.5"), ..REQUIRED }, errors))
            (field("Memory limit", "memory", &f.memory, Input { hint: Some("e.g. 512MiB or 2GiB"), ..REQUIRED }, errors))
            (field("Memory reservation", "memory_reservation", &f.memory_reservation, Input { hint: Some("optional soft limit"), ..TEXT }, errors))
            (field("Storage quota", "storage", &f.storage, Input { hint: Some("optional, e.g. 10GiB"), ..TEXT }, errors))
            (field("Max instances per client", "max_instances", &f.max_instances, Input { hint: Some("optional"), ..TEXT }, errors))
            div { button type="submit" { "Save plan" } }
        }
    }
}

async fn new_form(ui: Ui) -> PageResult {
    let body = form_body(
        &ui,
        "New plan",
        "/plans",
        &PlanForm::default(),
        &FormErrors::default(),
    );
    Ok(ui.page("New plan", Nav::Plans, body).await.into_response())
}

async fn create(State(s): State<AppState>, ui: Ui, Form(f): Form<PlanForm>) -> PageResult {
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
            let body = form_body(&ui, "New plan", "/plans", &f, &FormErrors::from_ops(e)?);
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                ui.page("New plan", Nav::Plans, body).await,
            )
                .into_response())
        }
    }
}

async fn edit_form(State(s): State<AppState>, ui: Ui, Path(name): Path<String>) -> PageResult {
    let plan = s.ops.get_plan(&name).await?;
    let action = format!("/plans/{}/edit", seg(&name));
    let none = FormErrors::default();
    let body = html! {
        (form_body(&ui, "Edit plan", &action, &PlanForm::from_row(&plan), &none))
        (policy_section(&s, &ui, &name).await?)
    };
    Ok(ui.page("Edit plan", Nav::Plans, body).await.into_response())
}

/// The plan's backup policy form, as saved.
async fn policy_section(s: &AppState, ui: &Ui, name: &str) -> PageResult<Markup> {
    let policy = s.ops.get_backup_policy(name).await?;
    let f = PolicyForm::from_policy(&policy);
    let none = FormErrors::default();
    Ok(policy_form(ui, name, &s.ops.config().backup, &f, &none))
}

async fn edit(
    State(s): State<AppState>,
    ui: Ui,
    Path(name): Path<String>,
    Form(f): Form<PlanForm>,
) -> PageResult {
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
            let action = format!("/plans/{}/edit", seg(&name));
            let body = html! {
                (form_body(&ui, "Edit plan", &action, &f, &FormErrors::from_ops(e)?))
                (policy_section(&s, &ui, &name).await?)
            };
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                ui.page("Edit plan", Nav::Plans, body).await,
            )
                .into_response())
        }
    }
}

async fn delete(State(s): State<AppState>, ui: Ui, Path(name): Path<String>) -> PageResult {
    match s.ops.delete_plan(&ui.actor(), &name).await {
        Ok(()) => ui.flash(true, format!("Plan {name} deleted.")).await,
        Err(OpsError::Conflict(m)) | Err(OpsError::Refused(m)) => ui.flash(false, m).await,
        Err(e) => return Err(e.into()),
    }
    Ok(see_other("/plans"))
}
