//! Sign-in, sign-out and the first-run setup of the first admin account.

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use std::net::SocketAddr;
use tower_sessions::Session;

use super::reply::see_other;
use crate::audit::Actor;
use crate::ops::OpsError;
use crate::web::auth::direct_loopback;
use crate::web::csrf;
use crate::web::error::{internal_error, WebResult};
use crate::web::forms::{LoginForm, SetupForm};
use crate::web::route::{Access, Route};
use crate::web::session::{self, Ui};
use crate::web::state::AppState;
use crate::web::views::auth as view;
use crate::web::views::components::FormErrors;

pub fn routes() -> Vec<Route> {
    vec![
        Route::get("/login", Access::Public, login_form),
        Route::post("/login", Access::Public, login),
        Route::get("/setup", Access::Public, setup_form),
        Route::post("/setup", Access::Public, setup),
        Route::post("/logout", Access::Session, logout),
    ]
}

async fn login_form(State(s): State<AppState>, headers: HeaderMap) -> WebResult {
    if s.ops.user_count().await? == 0 {
        return Ok(see_other("/setup"));
    }
    let secure = s.ui.secure_cookies;
    let (token, fresh) = csrf::anonymous(&headers, secure);
    let page = view::login(&token, "", &FormErrors::default()).into_response();
    Ok(csrf::with_cookie(page, &token, fresh, secure))
}

async fn login(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    session: Session,
    Form(form): Form<LoginForm>,
) -> WebResult {
    let ip = peer.ip().to_string();
    match s.ops.login(&form.name, &form.password, &ip).await {
        Ok(()) => Ok(signed_in(&session, form.name.trim()).await),
        Err(e @ OpsError::Throttled(_)) | Err(e @ OpsError::Refused(_)) => {
            let status = if matches!(e, OpsError::Throttled(_)) {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::UNAUTHORIZED
            };
            // The POST passed the CSRF check, so the cookie is there to reuse.
            let (token, fresh) = csrf::anonymous(&headers, s.ui.secure_cookies);
            let page = view::login(&token, &form.name, &FormErrors::general(e.to_string()));
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

async fn setup_form(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> WebResult {
    if s.ops.user_count().await? > 0 {
        return Ok(see_other("/login"));
    }
    let secure = s.ui.secure_cookies;
    let (token, fresh) = csrf::anonymous(&headers, secure);
    let page = view::setup(
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
) -> WebResult {
    let local = direct_loopback(&peer, &headers);
    // The POST passed the CSRF check, so the cookie holds this token.
    let (token, _) = csrf::anonymous(&headers, s.ui.secure_cookies);
    let code_ok = csrf::constant_time_eq(form.code.trim().as_bytes(), s.ui.setup_code.as_bytes());
    if !local && !code_ok {
        let mut errors = FormErrors::default();
        errors
            .fields
            .insert("code", "does not match the code in berth's log".into());
        return Ok((
            StatusCode::FORBIDDEN,
            view::setup(&token, local, &form.name, &errors),
        )
            .into_response());
    }
    let actor = Actor::user(form.name.trim(), Some(peer.ip().to_string()));
    match s
        .ops
        .setup_first_user(&actor, &form.name, &form.password)
        .await
    {
        Ok(()) => Ok(signed_in(&session, form.name.trim()).await),
        Err(e) => {
            let errors = FormErrors::from_ops(e)?;
            let page = view::setup(&token, local, &form.name, &errors);
            Ok((StatusCode::UNPROCESSABLE_ENTITY, page).into_response())
        }
    }
}

/// After a good password (or the first account): a fresh session, then the dashboard.
async fn signed_in(session: &Session, name: &str) -> Response {
    if let Err(e) = session::sign_in(session, name).await {
        tracing::error!(error = %e, "storing session");
        return internal_error();
    }
    see_other("/")
}
