//! Instance pages: add one to a client, start/stop/restart, and the
//! confirmed removal.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::Form;

use super::reply::{see_other, unprocessable};
use crate::ops::{InstanceAction, NewInstanceInput};
use crate::web::error::WebResult;
use crate::web::forms::{ConfirmForm, InstanceForm};
use crate::web::route::{Access, Route};
use crate::web::session::Ui;
use crate::web::state::AppState;
use crate::web::views::client_forms as view;
use crate::web::views::components::{seg, FormErrors};

pub fn routes() -> Vec<Route> {
    const S: Access = Access::Session;
    vec![
        Route::get("/clients/{slug}/instances/new", S, new_form),
        Route::post("/clients/{slug}/instances", S, add),
        Route::post("/instances/{id}/start", S, start),
        Route::post("/instances/{id}/stop", S, stop),
        Route::post("/instances/{id}/restart", S, restart),
        Route::get("/instances/{id}/logs", S, logs),
        Route::get("/instances/{id}/remove", S, remove_form),
        Route::post("/instances/{id}/remove", S, remove),
    ]
}

async fn form_page(
    s: &AppState,
    ui: &Ui,
    slug: &str,
    f: &InstanceForm,
    errors: &FormErrors,
) -> maud::Markup {
    let blueprints: Vec<(String, String)> = s
        .ops
        .blueprint_choices()
        .into_iter()
        .map(|(n, _)| (n.clone(), n))
        .collect();
    let choices = (blueprints.as_slice(), s.ops.config().base_domain.as_str());
    view::instance_form(&ui.chrome().await, slug, choices, f, errors)
}

async fn new_form(State(s): State<AppState>, ui: Ui, Path(slug): Path<String>) -> WebResult {
    let client = s.ops.get_client(&slug).await?.client;
    let f = InstanceForm {
        blueprint: s.ops.default_blueprint().unwrap_or_default().to_owned(),
        ..Default::default()
    };
    let none = FormErrors::default();
    Ok(form_page(&s, &ui, &client.slug, &f, &none)
        .await
        .into_response())
}

async fn add(
    State(s): State<AppState>,
    ui: Ui,
    Path(slug): Path<String>,
    Form(f): Form<InstanceForm>,
) -> WebResult {
    let input = NewInstanceInput {
        name: Some(f.name.trim().to_owned()),
        blueprint: Some(f.blueprint.clone()).filter(|b| !b.is_empty()),
        domain: Some(f.domain.trim().to_owned()).filter(|d| !d.is_empty()),
        env: None,
    };
    match s.ops.add_instance(&ui.actor(), &slug, input).await {
        Ok(row) => {
            let text = format!("Instance {} added; it is starting.", row.name);
            ui.flash(true, text).await;
            Ok(see_other(&format!("/clients/{}", seg(&slug))))
        }
        Err(e) => {
            let errors = FormErrors::from_ops(e)?;
            Ok(unprocessable(form_page(&s, &ui, &slug, &f, &errors).await))
        }
    }
}

async fn act(s: AppState, ui: Ui, id: i64, action: InstanceAction) -> WebResult {
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

async fn start(State(s): State<AppState>, ui: Ui, Path(id): Path<i64>) -> WebResult {
    act(s, ui, id, InstanceAction::Start).await
}

async fn stop(State(s): State<AppState>, ui: Ui, Path(id): Path<i64>) -> WebResult {
    act(s, ui, id, InstanceAction::Stop).await
}

async fn restart(State(s): State<AppState>, ui: Ui, Path(id): Path<i64>) -> WebResult {
    act(s, ui, id, InstanceAction::Restart).await
}

async fn remove_form(State(s): State<AppState>, ui: Ui, Path(id): Path<i64>) -> WebResult {
    let row = s.ops.get_instance(id).await?;
    let expected = format!("{}/{}", row.client_slug, row.name);
    let page = view::remove_instance(&ui.chrome().await, id, &expected, None);
    Ok(page.into_response())
}

async fn remove(
    State(s): State<AppState>,
    ui: Ui,
    Path(id): Path<i64>,
    Form(f): Form<ConfirmForm>,
) -> WebResult {
    let row = s.ops.get_instance(id).await?;
    let expected = format!("{}/{}", row.client_slug, row.name);
    if f.confirm.trim() != expected {
        let why = Some("does not match; nothing was removed");
        let page = view::remove_instance(&ui.chrome().await, id, &expected, why);
        return Ok(unprocessable(page));
    }
    let job = s.ops.remove_instance(&ui.actor(), id, &expected).await?;
    Ok(see_other(&format!("/deletions/{}", job.id)))
}

#[derive(serde::Deserialize)]
pub struct TailQuery {
    pub tail: Option<usize>,
}

/// Lines shown when the page is opened without `?tail=`.
const DEFAULT_TAIL: usize = 200;

/// `?tail=N` (1..=10000): the instance's last N lines, ANSI stripped.
async fn logs(
    State(s): State<AppState>,
    ui: Ui,
    Path(id): Path<i64>,
    q: Result<Query<TailQuery>, QueryRejection>,
) -> WebResult {
    let tail = match q {
        Ok(Query(q)) => q.tail.unwrap_or(DEFAULT_TAIL),
        Err(e) => {
            return Err(crate::web::error::WebError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                e.body_text(),
            ))
        }
    };
    let row = s.ops.get_instance(id).await?;
    let tail_lines = s.ops.instance_logs(id, tail).await?;
    Ok(
        crate::web::views::instance_logs::page_for(&ui.chrome().await, &row, tail, &tail_lines)
            .into_response(),
    )
}
