//! API tokens: create (the token is shown once), list, revoke.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::{see_other, seg, PageResult};
use crate::ops::OpsError;
use crate::store::TokenRow;
use crate::web::routes::{Access, Route};
use crate::web::session::Ui;
use crate::web::views::components::{
    action_button, csrf_field, empty, field, FormErrors, REQUIRED,
};
use crate::web::views::layout::Nav;
use crate::web::AppState;

pub fn routes() -> Vec<Route> {
    const S: Access = Access::Session;
    vec![
        Route::get("/tokens", S, list),
        Route::post("/tokens", S, create),
        Route::post("/tokens/{name}/revoke", S, revoke),
    ]
}

#[derive(Deserialize)]
pub struct TokenForm {
    #[serde(default)]
    name: String,
}

fn body(
    ui: &Ui,
    tokens: &[TokenRow],
    created: Option<(&str, &str)>,
    name: &str,
    errors: &FormErrors,
) -> Markup {
    html! {
        h1 { "API tokens" }
        p.muted { "A token lets scripts use the JSON API at /api/v1 (header " code { "Authorization: Bearer <token>" } ")." }
        @if let Some((name, token)) = created {
            div.card role="status" {
                p { strong { "Token " (name) " created." } " Copy it now: it is not shown again." }
                code.secret { (token) }
            }
        }
        (errors.render_general())
        form.toolbar method="post" action="/tokens" {
            (csrf_field(&ui.csrf))
            (field("New token name", "name", name, REQUIRED, errors))
            button type="submit" { "Create token" }
        }
        @if tokens.is_empty() {
            (empty("No API tokens. Create one for each script or tool that uses the API.", None))
        } @else {
            div.table-wrap { table {
                thead { tr { th { "Name" } th.optional { "Created (UTC)" } th { "Last used" } th { "" } } }
                tbody { @for t in tokens { tr {
                    td { (t.name) }
                    td.optional { (t.created_at) }
                    td { (t.last_used_at.as_deref().unwrap_or("never")) }
                    td { (action_button(&format!("/tokens/{}/revoke", seg(&t.name)), "Revoke", &ui.csrf, "secondary")) }
                } } }
            } }
        }
    }
}

async fn list(State(s): State<AppState>, ui: Ui) -> PageResult {
    let tokens = s.ops.list_tokens().await?;
    let b = body(&ui, &tokens, None, "", &FormErrors::default());
    Ok(ui.page("API tokens", Nav::Tokens, b).await.into_response())
}

/// Renders the token in the response itself (not a flash): it must never
/// be stored anywhere, the session included.
async fn create(State(s): State<AppState>, ui: Ui, Form(f): Form<TokenForm>) -> PageResult {
    match s.ops.create_token(&ui.actor(), &f.name).await {
        Ok(token) => {
            let tokens = s.ops.list_tokens().await?;
            let b = body(
                &ui,
                &tokens,
                Some((f.name.trim(), &token)),
                "",
                &FormErrors::default(),
            );
            let mut res = ui.page("API tokens", Nav::Tokens, b).await.into_response();
            res.headers_mut().insert(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
            Ok(res)
        }
        Err(e) => {
            let mut errors = FormErrors::from_ops(e)?;
            if let Some(m) = errors.general.take() {
                errors.fields.insert("name", m);
            }
            let tokens = s.ops.list_tokens().await?;
            let b = body(&ui, &tokens, None, &f.name, &errors);
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                ui.page("API tokens", Nav::Tokens, b).await,
            )
                .into_response())
        }
    }
}

async fn revoke(State(s): State<AppState>, ui: Ui, Path(name): Path<String>) -> PageResult {
    match s.ops.revoke_token(&ui.actor(), &name).await {
        Ok(()) => ui.flash(true, format!("Token {name} revoked.")).await,
        Err(OpsError::NotFound(m)) => ui.flash(false, m).await,
        Err(e) => return Err(e.into()),
    }
    Ok(see_other("/tokens"))
}
