//! Instance pages: add one to a client, start/stop/restart, and the
//! confirmed removal.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::client_forms::{confirm_page_body, ConfirmForm};
use super::{see_other, seg, PageResult};
use crate::ops::{InstanceAction, NewInstanceInput};
use crate::web::routes::{Access, Route};
use crate::web::session::Ui;
use crate::web::views::components::{csrf_field, field, select, FormErrors, Input, REQUIRED, TEXT};
use crate::web::views::layout::Nav;
use crate::web::AppState;

pub fn routes() -> Vec<Route> {
    const S: Access = Access::Session;
    vec![
        Route::get("/clients/{slug}/instances/new", S, new_form),
        Route::post("/clients/{slug}/instances", S, add),
        Route::post("/instances/{id}/start", S, start),
        Route::post("/instances/{id}/stop", S, stop),
        Route::post("/instances/{id}/restart", S, restart),
        Route::get("/instances/{id}/remove", S, remove_form),
        Route::post("/instances/{id}/remove", S, remove),
    ]
}

#[derive(Debug, Default, Deserialize)]
pub struct InstanceForm {
    /// Named like the domain error's field, so the error lands beside it.
    #[serde(default, rename = "instance")]
    name: String,
    #[serde(default)]
    blueprint: String,
    #[serde(default)]
    domain: String,
}

fn form_body(s: &AppState, ui: &Ui, slug: &str, f: &InstanceForm, errors: &FormErrors) -> Markup {
    let blueprints: Vec<(String, String)> = s
        .ops
        .blueprint_choices()
        .into_iter()
        .map(|(n, _)| (n.clone(), n))
        .collect();
    html! {
        h1 { "Add an instance to " (slug) }
        (errors.render_general())
        form.stack.card method="post" action={ "/clients/" (seg(slug)) "/instances" } {
            (csrf_field(&ui.csrf))
            (field("Instance name", "instance", &f.name, Input { hint: Some("e.g. staging; a-z, 0-9, '-'"), ..REQUIRED }, errors))
            (select("App (blueprint)", "blueprint", &blueprints, &f.blueprint, errors))
            (field("Domain", "domain", &f.domain, Input { hint: Some(&format!("optional; default {slug}-<name>.{}", s.ops.config().base_domain)), ..TEXT }, errors))
            div { button type="submit" { "Add instance" } }
        }
    }
}

async fn new_form(State(s): State<AppState>, ui: Ui, Path(slug): Path<String>) -> PageResult {
    let client = s.ops.get_client(&slug).await?.client;
    let f = InstanceForm {
        blueprint: s.ops.default_blueprint().unwrap_or_default().to_owned(),
        ..Default::default()
    };
    let body = form_body(&s, &ui, &client.slug, &f, &FormErrors::default());
    Ok(ui
        .page("Add instance", Nav::Clients, body)
        .await
        .into_response())
}

async fn add(
    State(s): State<AppState>,
    ui: Ui,
    Path(slug): Path<String>,
    Form(f): Form<InstanceForm>,
) -> PageResult {
    let input = NewInstanceInput {
        name: Some(f.name.trim().to_owned()),
        blueprint: Some(f.blueprint.clone()).filter(|b| !b.is_empty()),
        domain: Some(f.domain.trim().to_owned()).filter(|d| !d.is_empty()),
        env: None,
    };
    match s.ops.add_instance(&ui.actor(), &slug, input).await {
        Ok(row) => {
            ui.flash(
                true,
                format!("Instance {} added; it is starting.", row.name),
            )
            .await;
            Ok(see_other(&format!("/clients/{}", seg(&slug))))
        }
        Err(e) => {
            let errors = FormErrors::from_ops(e)?;
            let body = form_body(&s, &ui, &slug, &f, &errors);
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                ui.page("Add instance", Nav::Clients, body).await,
            )
                .into_response())
        }
    }
}

async fn act(s: AppState, ui: Ui, id: i64, action: InstanceAction) -> PageResult {
    let row = s.ops.instance_action(&ui.actor(), id, action).await?;
    let verb = match action {
        InstanceAction::Start => "starting",
        InstanceAction::Stop => "stopping",
        InstanceAction::Restart => "restarting",
    };
    ui.flash(
        true,
        format!("Instance {}/{} is {verb}.", row.client_slug, row.name),
    )
    .await;
    Ok(see_other(&format!("/clients/{}", seg(&row.client_slug))))
}

async fn start(State(s): State<AppState>, ui: Ui, Path(id): Path<i64>) -> PageResult {
    act(s, ui, id, InstanceAction::Start).await
}

async fn stop(State(s): State<AppState>, ui: Ui, Path(id): Path<i64>) -> PageResult {
    act(s, ui, id, InstanceAction::Stop).await
}

async fn restart(State(s): State<AppState>, ui: Ui, Path(id): Path<i64>) -> PageResult {
    act(s, ui, id, InstanceAction::Restart).await
}

fn remove_body(ui: &Ui, id: i64, expected: &str, error: Option<&str>) -> Markup {
    let warning = html! { p { "This removes instance " strong { (expected) } " with its container, route and all its data and backups." } };
    confirm_page_body(
        "Remove instance",
        warning,
        expected,
        &format!("/instances/{id}/remove"),
        &ui.csrf,
        error,
    )
}

async fn remove_form(State(s): State<AppState>, ui: Ui, Path(id): Path<i64>) -> PageResult {
    let row = s.ops.get_instance(id).await?;
    let body = remove_body(&ui, id, &format!("{}/{}", row.client_slug, row.name), None);
    Ok(ui
        .page("Remove instance", Nav::Clients, body)
        .await
        .into_response())
}

async fn remove(
    State(s): State<AppState>,
    ui: Ui,
    Path(id): Path<i64>,
    Form(f): Form<ConfirmForm>,
) -> PageResult {
    let row = s.ops.get_instance(id).await?;
    let expected = format!("{}/{}", row.client_slug, row.name);
    if f.confirm.trim() != expected {
        let body = remove_body(
            &ui,
            id,
            &expected,
            Some("does not match; nothing was removed"),
        );
        return Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            ui.page("Remove instance", Nav::Clients, body).await,
        )
            .into_response());
    }
    let job = s.ops.remove_instance(&ui.actor(), id, &expected).await?;
    Ok(see_other(&format!("/deletions/{}", job.id)))
}
