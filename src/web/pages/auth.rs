//! Sign-in, sign-out and the first-run setup of the first admin account.

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use maud::{html, Markup};
use rand::distr::{Alphanumeric, SampleString};
use serde::Deserialize;
use std::net::SocketAddr;
use tower_sessions::Session;

use super::{internal_error, see_other, PageResult};
use crate::audit::Actor;
use crate::ops::OpsError;
use crate::web::auth::direct_loopback;
use crate::web::csrf;
use crate::web::routes::{Access, Route};
use crate::web::session::{self, Ui};
use crate::web::views::components::{csrf_field, field, FormErrors, Input, REQUIRED};
use crate::web::views::layout;
use crate::web::AppState;

pub fn routes() -> Vec<Route> {
    vec![
        Route::get("/login", Access::Public, login_form),
        Route::post("/login", Access::Public, login),
        Route::get("/setup", Access::Public, setup_form),
        Route::post("/setup", Access::Public, setup),
        Route::post("/logout", Access::Session, logout),
    ]
}

pub fn new_setup_code() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 12)
}

const PASSWORD: Input = Input {
    kind: "password",
    required: true,
    hint: None,
};

#[derive(Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
}

fn login_page(csrf: &str, name: &str, errors: &FormErrors) -> Markup {
    layout::bare(
        "Sign in",
        html! {
            h1 { "Sign in to berth" }
            (errors.render_general())
            form.stack.card method="post" action="/login" {
                (csrf_field(csrf))
                (field("Name", "name", name, REQUIRED, errors))
                (field("Password", "password", "", PASSWORD, errors))
                div { button type="submit" { "Sign in" } }
            }
        },
    )
}

async fn login_form(State(s): State<AppState>, headers: HeaderMap) -> PageResult {
    if s.ops.user_count().await? == 0 {
        return Ok(see_other("/setup"));
    }
    let secure = s.ui.secure_cookies;
    let (token, fresh) = csrf::anonymous(&headers, secure);
    let page = login_page(&token, "", &FormErrors::default()).into_response();
    Ok(csrf::with_cookie(page, &token, fresh, secure))
}

async fn login(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    session: Session,
    Form(form): Form<LoginForm>,
) -> PageResult {
    let ip = peer.ip().to_string();
    match s.ops.login(&form.name, &form.password, &ip).await {
        Ok(()) => {
            if let Err(e) = session::sign_in(&session, form.name.trim()).await {
                tracing::error!(error = %e, "storing session");
                return Ok(internal_error());
            }
            Ok(see_other("/"))
        }
        Err(e @ OpsError::Throttled(_)) | Err(e @ OpsError::Refused(_)) => {
            let status = if matches!(e, OpsError::Throttled(_)) {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::UNAUTHORIZED
            };
            // The POST passed the CSRF check, so the cookie is there to reuse.
            let (token, fresh) = csrf::anonymous(&headers, s.ui.secure_cookies);
            let page = login_page(&token, &form.name, &FormErrors::general(e.to_string()));
            let res = (status, page).into_response();
            Ok(csrf::with_cookie(res, &token, fresh, s.ui.secure_cookies))
        }
        Err(e) => Err(e.into()),
    }
}

async fn logout(ui: Ui) -> Response {
    if let Err(e) = ui.session.flush().await {
        tracing::warn!(error = %e, "ending session");
    }
    Redirect::to("/login").into_response()
}

#[derive(Deserialize)]
pub struct SetupForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

fn setup_page(csrf: &str, local: bool, name: &str, errors: &FormErrors) -> Markup {
    layout::bare(
        "First-run setup",
        html! {
            h1 { "Create the first admin account" }
            p.muted { "No account exists yet. The account you create here can add others later." }
            (errors.render_general())
            form.stack.card method="post" action="/setup" {
                (csrf_field(csrf))
                (field("Name", "name", name, REQUIRED, errors))
                (field("Password", "password", "", Input { hint: Some("at least 10 characters"), ..PASSWORD }, errors))
                @if !local {
                    (field("Setup code", "code", "", Input { hint: Some("printed in berth's log at start-up; needed when not browsing from the server itself"), ..REQUIRED }, errors))
                }
                div { button type="submit" { "Create account and sign in" } }
            }
        },
    )
}

async fn setup_form(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> PageResult {
    if s.ops.user_count().await? > 0 {
        return Ok(see_other("/login"));
    }
    let secure = s.ui.secure_cookies;
    let (token, fresh) = csrf::anonymous(&headers, secure);
    let page = setup_page(
        &token,
        direct_loopback(&peer, &headers),
        "",
        &FormErrors::default(),
    );
    Ok(csrf::with_cookie(
        page.into_response(),
        &token,
        fresh,
        secure,
    ))
}

async fn setup(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    session: Session,
    Form(form): Form<SetupForm>,
) -> PageResult {
    let local = direct_loopback(&peer, &headers);
    // The POST passed the CSRF check, so the cookie holds this token.
    let (token, _) = csrf::anonymous(&headers, s.ui.secure_cookies);
    let code_ok = csrf_eq(form.code.trim(), &s.ui.setup_code);
    if !local && !code_ok {
        let mut errors = FormErrors::default();
        errors
            .fields
            .insert("code", "does not match the code in berth's log".into());
        return Ok((
            StatusCode::FORBIDDEN,
            setup_page(&token, local, &form.name, &errors),
        )
            .into_response());
    }
    let actor = Actor::user(form.name.trim(), Some(peer.ip().to_string()));
    match s
        .ops
        .setup_first_user(&actor, &form.name, &form.password)
        .await
    {
        Ok(()) => {
            if let Err(e) = session::sign_in(&session, form.name.trim()).await {
                tracing::error!(error = %e, "storing session");
                return Ok(internal_error());
            }
            Ok(see_other("/"))
        }
        Err(e) => {
            let errors = FormErrors::from_ops(e)?;
            let page = setup_page(&token, local, &form.name, &errors);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

fn csrf_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}
