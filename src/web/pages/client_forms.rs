//! Client forms: new (with blueprint and domain), edit, suspend/resume and
//! the confirmed delete that ends on the deletion report.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::{see_other, seg, PageResult};
use crate::domain::ClientStatus;
use crate::ops::{ClientEdit, DeletionReport, NewClientInput};
use crate::web::routes::{Access, Route};
use crate::web::session::Ui;
use crate::web::views::components::{
    csrf_field, empty, field, select, size, FormErrors, Input, REQUIRED, TEXT,
};
use crate::web::views::layout::Nav;
use crate::web::AppState;

pub fn routes() -> Vec<Route> {
    const S: Access = Access::Session;
    vec![
        Route::get("/clients/new", S, new_form),
        Route::post("/clients", S, create),
        Route::get("/clients/{slug}/edit", S, edit_form),
        Route::post("/clients/{slug}/edit", S, edit),
        Route::post("/clients/{slug}/suspend", S, suspend),
        Route::post("/clients/{slug}/resume", S, resume),
        Route::get("/clients/{slug}/delete", S, delete_form),
        Route::post("/clients/{slug}/delete", S, delete),
    ]
}

#[derive(Debug, Default, Deserialize)]
pub struct ClientForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    plan: String,
    #[serde(default)]
    notes: String,
    #[serde(default)]
    blueprint: String,
    #[serde(default)]
    domain: String,
}

fn notes_field(value: &str, errors: &FormErrors) -> Markup {
    html! {
        label for="f-notes" class=[errors.field("notes").map(|_| "invalid")] {
            "Notes" span.hint { "for you; not shown to the client" }
            textarea id="f-notes" name="notes" rows="3" { (value) }
            @if let Some(e) = errors.field("notes") { span.field-error { (e) } }
        }
    }
}

async fn client_form(
    s: &AppState,
    ui: &Ui,
    title: &str,
    action: &str,
    f: &ClientForm,
    errors: &FormErrors,
    new: bool,
) -> PageResult<Markup> {
    let plans: Vec<(String, String)> = s
        .ops
        .list_plans()
        .await?
        .into_iter()
        .map(|p| {
            (
                p.name.clone(),
                format!("{} — {} CPU, {}", p.name, p.cpus, size(p.memory)),
            )
        })
        .collect();
    let blueprints: Vec<(String, String)> = s
        .ops
        .blueprint_choices()
        .into_iter()
        .map(|(n, d)| {
            let label = if d.is_empty() {
                n.clone()
            } else {
                format!("{n} — {d}")
            };
            (n, label)
        })
        .collect();
    let body = html! {
        h1 { (title) }
        @if plans.is_empty() {
            (empty("A client needs a plan (its CPU and memory limits). Create a plan first.", Some(("/plans/new", "New plan"))))
        } @else {
            (errors.render_general())
            form.stack.card method="post" action=(action) {
                (csrf_field(&ui.csrf))
                (field("Name", "name", &f.name, REQUIRED, errors))
                (field("Contact email", "email", &f.email, Input { kind: "email", ..REQUIRED }, errors))
                (select("Plan", "plan", &plans, &f.plan, errors))
                @if new {
                    (select("App (blueprint)", "blueprint", &blueprints, &f.blueprint, errors))
                    (field("Domain", "domain", &f.domain, Input { hint: Some(&format!("optional; default <slug>.{}", s.ops.config().base_domain)), ..TEXT }, errors))
                }
                (notes_field(&f.notes, errors))
                div { button type="submit" { (if new { "Create client" } else { "Save" }) } }
            }
        }
    };
    Ok(ui.page(title, Nav::Clients, body).await)
}

async fn new_form(State(s): State<AppState>, ui: Ui) -> PageResult {
    let f = ClientForm {
        blueprint: s.ops.default_blueprint().unwrap_or_default().to_owned(),
        ..Default::default()
    };
    Ok(client_form(
        &s,
        &ui,
        "New client",
        "/clients",
        &f,
        &FormErrors::default(),
        true,
    )
    .await?
    .into_response())
}

fn some(s: &str) -> Option<String> {
    Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_owned)
}

async fn create(State(s): State<AppState>, ui: Ui, Form(f): Form<ClientForm>) -> PageResult {
    let input = NewClientInput {
        name: f.name.clone(),
        email: f.email.clone(),
        plan: f.plan.clone(),
        notes: f.notes.clone(),
        blueprint: some(&f.blueprint),
        domain: some(&f.domain),
        env: None,
    };
    match s.ops.create_client(&ui.actor(), input).await {
        Ok(view) => {
            ui.flash(
                true,
                format!(
                    "Client {} created; its instance is starting.",
                    view.client.name
                ),
            )
            .await;
            Ok(see_other(&format!("/clients/{}", seg(&view.client.slug))))
        }
        Err(e) => {
            let errors = FormErrors::from_ops(e)?;
            let page = client_form(&s, &ui, "New client", "/clients", &f, &errors, true).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

async fn edit_form(State(s): State<AppState>, ui: Ui, Path(slug): Path<String>) -> PageResult {
    let c = s.ops.get_client(&slug).await?.client;
    let f = ClientForm {
        name: c.name,
        email: c.email,
        plan: c.plan,
        notes: c.notes,
        ..Default::default()
    };
    let action = format!("/clients/{}/edit", seg(&slug));
    Ok(client_form(
        &s,
        &ui,
        "Edit client",
        &action,
        &f,
        &FormErrors::default(),
        false,
    )
    .await?
    .into_response())
}

async fn edit(
    State(s): State<AppState>,
    ui: Ui,
    Path(slug): Path<String>,
    Form(f): Form<ClientForm>,
) -> PageResult {
    let edit = ClientEdit {
        name: Some(f.name.clone()),
        email: Some(f.email.clone()),
        plan: Some(f.plan.clone()),
        notes: Some(f.notes.clone()),
    };
    match s.ops.edit_client(&ui.actor(), &slug, edit).await {
        Ok(view) => {
            ui.flash(true, format!("Client {} saved.", view.client.name))
                .await;
            Ok(see_other(&format!("/clients/{}", seg(&slug))))
        }
        Err(e) => {
            let errors = FormErrors::from_ops(e)?;
            let action = format!("/clients/{}/edit", seg(&slug));
            let page = client_form(&s, &ui, "Edit client", &action, &f, &errors, false).await?;
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

async fn set_status(s: AppState, ui: Ui, slug: String, status: ClientStatus) -> PageResult {
    let view = s.ops.set_client_status(&ui.actor(), &slug, status).await?;
    let text = match status {
        ClientStatus::Suspended => "suspended: its instances stop and its domains show a notice",
        ClientStatus::Active => "resumed: its instances start again",
    };
    ui.flash(true, format!("Client {} {text}.", view.client.name))
        .await;
    Ok(see_other(&format!("/clients/{}", seg(&slug))))
}

async fn suspend(State(s): State<AppState>, ui: Ui, Path(slug): Path<String>) -> PageResult {
    set_status(s, ui, slug, ClientStatus::Suspended).await
}

async fn resume(State(s): State<AppState>, ui: Ui, Path(slug): Path<String>) -> PageResult {
    set_status(s, ui, slug, ClientStatus::Active).await
}

#[derive(Deserialize)]
pub struct ConfirmForm {
    #[serde(default)]
    pub confirm: String,
}

/// "Type the name back" confirmation shared by client and instance deletes.
pub fn confirm_page_body(
    title: &str,
    warning: Markup,
    expected: &str,
    action: &str,
    csrf: &str,
    error: Option<&str>,
) -> Markup {
    let errors = match error {
        Some(e) => {
            let mut f = FormErrors::default();
            f.fields.insert("confirm", e.to_owned());
            f
        }
        None => FormErrors::default(),
    };
    html! {
        h1 { (title) }
        div.card { (warning) }
        form.stack.card method="post" action=(action) {
            (csrf_field(csrf))
            (field(&format!("Type {expected} to confirm"), "confirm", "", Input { hint: None, ..REQUIRED }, &errors))
            div { button.danger type="submit" { "Delete permanently" } }
        }
    }
}

async fn delete_form(State(s): State<AppState>, ui: Ui, Path(slug): Path<String>) -> PageResult {
    let view = s.ops.get_client(&slug).await?;
    let body = delete_body(
        &ui,
        &view.client.slug,
        &view.client.name,
        view.instances.len(),
        None,
    );
    Ok(ui
        .page("Delete client", Nav::Clients, body)
        .await
        .into_response())
}

fn delete_body(ui: &Ui, slug: &str, name: &str, instances: usize, error: Option<&str>) -> Markup {
    let warning = html! {
        p { "This deletes " strong { (name) } " with its " (instances) " instance(s): containers, networks, routes, all data and all backups. It cannot be undone." }
    };
    confirm_page_body(
        "Delete client",
        warning,
        slug,
        &format!("/clients/{}/delete", seg(slug)),
        &ui.csrf,
        error,
    )
}

async fn delete(
    State(s): State<AppState>,
    ui: Ui,
    Path(slug): Path<String>,
    Form(f): Form<ConfirmForm>,
) -> PageResult {
    let view = s.ops.get_client(&slug).await?;
    if f.confirm.trim() != view.client.slug {
        let body = delete_body(
            &ui,
            &view.client.slug,
            &view.client.name,
            view.instances.len(),
            Some("does not match; nothing was deleted"),
        );
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            ui.page("Delete client", Nav::Clients, body).await,
        )
            .into_response());
    }
    let job = s
        .ops
        .delete_client(&ui.actor(), &slug, f.confirm.trim())
        .await?;
    Ok(see_other(&format!("/deletions/{}", job.id)))
}

/// What a delete removed, shown once it is done (also kept as a file).
pub fn report_body(r: &DeletionReport) -> Markup {
    html! {
        h1 { @if r.client_deleted { "Client " (r.client_name) " deleted" } @else { "Instance removed from " (r.client_name) } }
        div.flash.flash-ok role="status" { "Done. A copy of this report is kept at " code { (r.report_file) } "." }
        div.table-wrap { table {
            thead { tr { th { "Instance" } th { "Container" } th.optional { "Domains" } th { "Data removed" } } }
            tbody { @for i in &r.instances { tr {
                td { (i.name) } td { (i.container) }
                td.optional { (i.domains.join(", ")) }
                td { (size(i.data_bytes)) " in " (i.data_files) " files" div.muted { (i.data_dir) } }
            } } }
        } }
        p { (r.backups_removed.len()) " backup file(s) removed. Deleted by " (r.deleted_by) " at " (r.deleted_at) " (UTC)." }
        p { a.button href="/clients" { "Back to clients" } }
    }
}
