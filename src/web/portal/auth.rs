//! Portal sign-in and sign-out, the one-time link pages (invitation,
//! password reset), "forgot my password" and the provider's logo.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use serde::Deserialize;
use tower_sessions::Session;

use crate::domain::LinkKind;
use crate::ops::{LinkCheck, OpsError};
use crate::web::csrf;
use crate::web::error::{internal_error, WebError, WebResult};
use crate::web::portal_session::{self, PortalUi};
use crate::web::route::{Access, Route};
use crate::web::state::AppState;
use crate::web::views::components::FormErrors;
use crate::web::views::portal::auth as view;
use crate::web::views::portal::PortalChrome;

pub fn routes() -> Vec<Route> {
    const P: Access = Access::PortalPublic;
    vec![
        Route::get("/portal/login", P, login_form),
        Route::post("/portal/login", P, login),
        Route::post("/portal/logout", Access::Portal, logout),
        Route::get("/portal/invite/{token}", P, invite_form),
        Route::post("/portal/invite/{token}", P, invite),
        Route::get("/portal/reset/{token}", P, reset_form),
        Route::post("/portal/reset/{token}", P, reset),
        Route::get("/portal/forgot", P, forgot_form),
        Route::post("/portal/forgot", P, forgot),
        Route::get("/portal/logo", P, logo),
    ]
}

#[derive(Deserialize)]
struct Ended {
    #[serde(default)]
    ended: Option<String>,
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

#[derive(Deserialize)]
struct ForgotForm {
    #[serde(default)]
    email: String,
}

/// An anonymous page with its double-submit CSRF cookie.
fn anonymous(
    s: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    render: impl FnOnce(&PortalChrome, &str) -> maud::Markup,
) -> Response {
    let secure = s.ui.secure_cookies;
    let (token, fresh) = csrf::anonymous(headers, secure);
    let chrome = PortalChrome::anonymous(s.ops.config());
    let page = (status, render(&chrome, &token)).into_response();
    csrf::with_cookie(page, &token, fresh, secure)
}

async fn login_form(
    State(s): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<Ended>,
) -> Response {
    let ended = q.ended.is_some();
    anonymous(&s, &headers, StatusCode::OK, |c, t| {
        view::login(c, t, "", ended, &FormErrors::default())
    })
}

async fn login(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    session: Session,
    Form(form): Form<LoginForm>,
) -> WebResult {
    let ip = peer.ip().to_string();
    match s.ops.portal_login(&form.email, &form.password, &ip).await {
        Ok(id) => Ok(signed_in(&session, id).await),
        Err(e @ (OpsError::Throttled(_) | OpsError::Refused(_))) => {
            let status = if matches!(e, OpsError::Throttled(_)) {
                StatusCode::TOO_MANY_REQUESTS
            } else {
                StatusCode::UNAUTHORIZED
            };
            let errors = FormErrors::general(e.to_string());
            Ok(anonymous(&s, &headers, status, |c, t| {
                view::login(c, t, &form.email, false, &errors)
            }))
        }
        Err(e) => Err(e.into()),
    }
}

async fn logout(ui: PortalUi) -> Response {
    if let Err(e) = ui.session.flush().await {
        tracing::warn!(error = %e, "ending portal session");
    }
    Redirect::to(portal_session::LOGIN).into_response()
}

/// A fresh session id for the user, then their home page.
async fn signed_in(session: &Session, user_id: i64) -> Response {
    if let Err(e) = portal_session::sign_in(session, user_id).await {
        tracing::error!(error = %e, "storing portal session");
        return internal_error();
    }
    Redirect::to("/portal").into_response()
}

async fn invite_form(s: State<AppState>, h: HeaderMap, Path(token): Path<String>) -> WebResult {
    link_form(s, h, LinkKind::Invite, token).await
}

async fn reset_form(s: State<AppState>, h: HeaderMap, Path(token): Path<String>) -> WebResult {
    link_form(s, h, LinkKind::Reset, token).await
}

fn link_path(kind: LinkKind, token: &str) -> String {
    let base = match kind {
        LinkKind::Invite => "/portal/invite/",
        LinkKind::Reset => "/portal/reset/",
    };
    format!("{base}{token}")
}

/// A used, expired or unknown link gets a page saying so: 410 for a link
/// that once worked, 404 for one that never did.
fn dead(s: &AppState, headers: &HeaderMap, state: &LinkCheck) -> Response {
    let status = match state {
        LinkCheck::Used | LinkCheck::Expired => StatusCode::GONE,
        _ => StatusCode::NOT_FOUND,
    };
    anonymous(s, headers, status, |c, _| view::dead_link(c, state))
}

async fn link_form(
    State(s): State<AppState>,
    headers: HeaderMap,
    kind: LinkKind,
    token: String,
) -> WebResult {
    let state = s.ops.check_portal_link(kind, &token).await?;
    let LinkCheck::Valid { email } = &state else {
        return Ok(dead(&s, &headers, &state));
    };
    let action = link_path(kind, &token);
    Ok(anonymous(&s, &headers, StatusCode::OK, |c, t| {
        view::set_password(c, t, kind, email, &action, &FormErrors::default())
    }))
}

async fn invite(
    s: State<AppState>,
    peer: ConnectInfo<SocketAddr>,
    h: HeaderMap,
    session: Session,
    Path(token): Path<String>,
    form: Form<PasswordForm>,
) -> WebResult {
    use_link(s, peer, h, session, LinkKind::Invite, token, form).await
}

async fn reset(
    s: State<AppState>,
    peer: ConnectInfo<SocketAddr>,
    h: HeaderMap,
    session: Session,
    Path(token): Path<String>,
    form: Form<PasswordForm>,
) -> WebResult {
    use_link(s, peer, h, session, LinkKind::Reset, token, form).await
}

/// Sets the password from the link and signs the user in.
async fn use_link(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    session: Session,
    kind: LinkKind,
    token: String,
    Form(form): Form<PasswordForm>,
) -> WebResult {
    let state = s.ops.check_portal_link(kind, &token).await?;
    let LinkCheck::Valid { email } = &state else {
        return Ok(dead(&s, &headers, &state));
    };
    let action = link_path(kind, &token);
    let again = |errors: FormErrors| {
        anonymous(&s, &headers, StatusCode::UNPROCESSABLE_ENTITY, |c, t| {
            view::set_password(c, t, kind, email, &action, &errors)
        })
    };
    if form.password != form.confirm {
        let mut errors = FormErrors::default();
        errors
            .fields
            .insert("confirm", "does not match the password".into());
        return Ok(again(errors));
    }
    let ip = peer.ip().to_string();
    match s
        .ops
        .use_portal_link(kind, &token, &form.password, &ip)
        .await
    {
        Ok(id) => Ok(signed_in(&session, id).await),
        Err(e) => Ok(again(FormErrors::from_ops(e)?)),
    }
}

async fn forgot_form(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let mail_on = s.ops.config().smtp.is_some();
    anonymous(&s, &headers, StatusCode::OK, |c, t| {
        view::forgot(c, t, mail_on)
    })
}

/// The same page whether or not the email has an account.
async fn forgot(
    State(s): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<ForgotForm>,
) -> WebResult {
    s.ops
        .request_portal_reset(&form.email, &peer.ip().to_string())
        .await?;
    Ok(anonymous(&s, &headers, StatusCode::OK, |c, _| {
        view::forgot_sent(c)
    }))
}

/// The provider's logo from `[portal] logo_file`; 404 when none is set.
async fn logo(State(s): State<AppState>) -> WebResult {
    let Some(path) = s.ops.config().portal.logo_file.clone() else {
        return Err(WebError::new(
            StatusCode::NOT_FOUND,
            "no logo is configured",
        ));
    };
    let kind = match path.extension().and_then(|e| e.to_str()) {
        Some("svg") => "image/svg+xml",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("webp") => "image/webp",
        _ => "image/png",
    };
    let bytes = tokio::fs::read(&path).await.map_err(|e| {
        tracing::warn!(error = %e, path = %path.display(), "reading the portal logo");
        WebError::new(StatusCode::NOT_FOUND, "the logo cannot be read")
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600"),
        ],
        bytes,
    )
        .into_response())
}
