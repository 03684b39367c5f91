//! Client forms: new (with blueprint and domain), edit, suspend/resume and
//! the confirmed delete that ends on the deletion report.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Form;

use super::reply::{see_other, unprocessable};
use crate::domain::ClientStatus;
use crate::ops::{ClientEdit, NewClientInput, OpsError};
use crate::web::error::WebResult;
use crate::web::forms::{ClientForm, ConfirmForm};
use crate::web::route::{Access, Route};
use crate::web::session::Ui;
use crate::web::state::AppState;
use crate::web::views::client_forms::{self as view, ClientChoices};
use crate::web::views::components::{seg, size, FormErrors};

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

/// The plans and apps a client form offers.
async fn choices(s: &AppState) -> Result<ClientChoices, OpsError> {
    let plans = s
        .ops
        .list_plans()
        .await?
        .into_iter()
        .map(|p| {
            let label = format!("{} — {} CPU, {}", p.name, p.cpus, size(p.memory));
            (p.name, label)
        })
        .collect();
    let blueprints = s
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
    Ok(ClientChoices {
        plans,
        blueprints,
        base_domain: s.ops.config().base_domain.clone(),
    })
}

/// The new (`None`) or edit (`Some(slug)`) form, with `errors` as a 422.
async fn form_page(
    s: &AppState,
    ui: &Ui,
    slug: Option<&str>,
    f: &ClientForm,
    errors: Option<FormErrors>,
) -> WebResult {
    let choices = choices(s).await?;
    let (title, action) = match slug {
        None => ("New client", "/clients".to_owned()),
        Some(slug) => ("Edit client", format!("/clients/{}/edit", seg(slug))),
    };
    let status = match errors {
        Some(_) => StatusCode::UNPROCESSABLE_ENTITY,
        None => StatusCode::OK,
    };
    let errors = errors.unwrap_or_default();
    let chrome = ui.chrome().await;
    let page = view::client_form(
        &chrome,
        (title, &action, slug.is_none()),
        &choices,
        f,
        &errors,
    );
    Ok((status, page).into_response())
}

async fn new_form(State(s): State<AppState>, ui: Ui) -> WebResult {
    let f = ClientForm {
        blueprint: s.ops.default_blueprint().unwrap_or_default().to_owned(),
        ..Default::default()
    };
    form_page(&s, &ui, None, &f, None).await
}

fn some(s: &str) -> Option<String> {
    Some(s.trim()).filter(|s| !s.is_empty()).map(str::to_owned)
}

async fn create(State(s): State<AppState>, ui: Ui, Form(f): Form<ClientForm>) -> WebResult {
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
            let name = &view.client.name;
            let text = format!("Client {name} created; its instance is starting.");
            ui.flash(true, text).await;
            Ok(see_other(&format!("/clients/{}", seg(&view.client.slug))))
        }
        Err(e) => form_page(&s, &ui, None, &f, Some(FormErrors::from_ops(e)?)).await,
    }
}

async fn edit_form(State(s): State<AppState>, ui: Ui, Path(slug): Path<String>) -> WebResult {
    let c = s.ops.get_client(&slug).await?.client;
    let f = ClientForm {
        name: c.name,
        email: c.email,
        plan: c.plan,
        notes: c.notes,
        ..Default::default()
    };
    form_page(&s, &ui, Some(&slug), &f, None).await
}

async fn edit(
    State(s): State<AppState>,
    ui: Ui,
    Path(slug): Path<String>,
    Form(f): Form<ClientForm>,
) -> WebResult {
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
        Err(e) => form_page(&s, &ui, Some(&slug), &f, Some(FormErrors::from_ops(e)?)).await,
    }
}

async fn set_status(s: AppState, ui: Ui, slug: String, status: ClientStatus) -> WebResult {
    let view = s.ops.set_client_status(&ui.actor(), &slug, status).await?;
    let text = match status {
        ClientStatus::Suspended => "suspended: its instances stop and its domains show a notice",
        ClientStatus::Active => "resumed: its instances start again",
    };
    ui.flash(true, format!("Client {} {text}.", view.client.name))
        .await;
    Ok(see_other(&format!("/clients/{}", seg(&slug))))
}

async fn suspend(State(s): State<AppState>, ui: Ui, Path(slug): Path<String>) -> WebResult {
    set_status(s, ui, slug, ClientStatus::Suspended).await
}

async fn resume(State(s): State<AppState>, ui: Ui, Path(slug): Path<String>) -> WebResult {
    set_status(s, ui, slug, ClientStatus::Active).await
}

async fn delete_form(State(s): State<AppState>, ui: Ui, Path(slug): Path<String>) -> WebResult {
    let c = s.ops.get_client(&slug).await?;
    let (client, n) = (&c.client, c.instances.len());
    let page = view::delete_client(&ui.chrome().await, &client.slug, &client.name, n, None);
    Ok(page.into_response())
}

async fn delete(
    State(s): State<AppState>,
    ui: Ui,
    Path(slug): Path<String>,
    Form(f): Form<ConfirmForm>,
) -> WebResult {
    let c = s.ops.get_client(&slug).await?;
    if f.confirm.trim() != c.client.slug {
        let (client, n) = (&c.client, c.instances.len());
        let why = Some("does not match; nothing was deleted");
        let page = view::delete_client(&ui.chrome().await, &client.slug, &client.name, n, why);
        return Ok(unprocessable(page));
    }
    let job = s
        .ops
        .delete_client(&ui.actor(), &slug, f.confirm.trim())
        .await?;
    Ok(see_other(&format!("/deletions/{}", job.id)))
}
