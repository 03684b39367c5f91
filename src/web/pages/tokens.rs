//! API tokens: create (the token is shown once), list, revoke.

use axum::extract::{Path, State};
use axum::response::IntoResponse;
use axum::Form;

use super::reply::{see_other, unprocessable};
use crate::ops::OpsError;
use crate::web::error::WebResult;
use crate::web::forms::TokenForm;
use crate::web::route::{Access, Route};
use crate::web::session::Ui;
use crate::web::state::AppState;
use crate::web::views::components::FormErrors;
use crate::web::views::tokens as view;

pub fn routes() -> Vec<Route> {
    const S: Access = Access::Session;
    vec![
        Route::get("/tokens", S, list),
        Route::post("/tokens", S, create),
        Route::post("/tokens/{name}/revoke", S, revoke),
    ]
}

async fn list(State(s): State<AppState>, ui: Ui) -> WebResult {
    let tokens = s.ops.list_tokens().await?;
    let none = FormErrors::default();
    let page = view::page(&ui.chrome().await, &tokens, None, "", &none);
    Ok(page.into_response())
}

/// Renders the token in the response itself (not a flash): it must never
/// be stored anywhere, the session included.
async fn create(State(s): State<AppState>, ui: Ui, Form(f): Form<TokenForm>) -> WebResult {
    match s.ops.create_token(&ui.actor(), &f.name).await {
        Ok(token) => {
            let tokens = s.ops.list_tokens().await?;
            let created = Some((f.name.trim(), token.as_str()));
            let none = FormErrors::default();
            let page = view::page(&ui.chrome().await, &tokens, created, "", &none);
            let mut res = page.into_response();
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
            let page = view::page(&ui.chrome().await, &tokens, None, &f.name, &errors);
            Ok(unprocessable(page))
        }
    }
}

async fn revoke(State(s): State<AppState>, ui: Ui, Path(name): Path<String>) -> WebResult {
    match s.ops.revoke_token(&ui.actor(), &name).await {
        Ok(()) => ui.flash(true, format!("Token {name} revoked.")).await,
        Err(OpsError::NotFound(m)) => ui.flash(false, m).await,
        Err(e) => return Err(e.into()),
    }
    Ok(see_other("/tokens"))
}
