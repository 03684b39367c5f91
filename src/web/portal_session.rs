//! Sessions of the client portal, apart from the admin ones: their own
//! tower-sessions layer on the portal's routes only, cookie `berth_portal`
//! with path `/portal`, table `portal_sessions` in `sessions.db`. The admin
//! layer never sees this cookie and this one never sees the admin's.
//!
//! A session holds only the client user's id, sign-in and touch times and
//! its CSRF token (no email, so erasing a user leaves nothing to scrub
//! here). Every request re-reads the user: removed, password changed since
//! sign-in, or client suspended or being deleted ends the session at once.

use std::time::Duration;

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use tower_sessions_rusqlite_store::RusqliteStore;

use super::csrf;
use super::error::internal_error;
use super::session::{changed_micros, now_micros, peer_ip};
use super::state::AppState;
use super::views::layout::Flash;
use super::views::portal::{PortalChrome, Who};
use crate::audit::Actor;
use crate::domain::ClientRole;
use crate::store::PortalIdentity;

const USER_ID: &str = "client_user";
const LOGIN_AT: &str = "login_at";
const TOUCHED: &str = "touched";
const FLASH: &str = "flash";

pub const COOKIE: &str = "berth_portal";
pub const LOGIN: &str = "/portal/login";
/// Where a session that was just ended sends the browser.
pub const ENDED: &str = "/portal/login?ended=1";

pub fn layer(
    store: RusqliteStore,
    idle: Duration,
    secure: bool,
) -> SessionManagerLayer<RusqliteStore> {
    SessionManagerLayer::new(store)
        .with_name(COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_path("/portal")
        .with_expiry(Expiry::OnInactivity(
            time::Duration::try_from(idle).unwrap_or(time::Duration::days(1)),
        ))
}

/// Marks the session signed in as client user `user_id`, under a fresh id
/// (no fixation) with a fresh CSRF token.
pub async fn sign_in(
    session: &Session,
    user_id: i64,
) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    session.insert(USER_ID, user_id).await?;
    session.insert(LOGIN_AT, now_micros()).await?;
    session.insert(TOUCHED, now_micros()).await?;
    session.insert(csrf::KEY, csrf::new_token()).await?;
    Ok(())
}

/// The signed-in client user of a portal request.
#[derive(Clone)]
pub struct PortalUi {
    pub user_id: i64,
    pub client_id: i64,
    pub client_slug: String,
    pub client_name: String,
    pub email: String,
    pub name: String,
    pub role: ClientRole,
    pub csrf: String,
    pub ip: Option<String>,
    pub session: Session,
}

impl PortalUi {
    pub fn actor(&self) -> Actor {
        Actor::client_user(&self.email, &self.client_slug, self.ip.clone())
    }

    /// Who this is, for the operations scoped to their own client.
    pub fn identity(&self) -> PortalIdentity {
        PortalIdentity {
            user_id: self.user_id,
            client_id: self.client_id,
            client_slug: self.client_slug.clone(),
            client_name: self.client_name.clone(),
            email: self.email.clone(),
            name: self.name.clone(),
            role: self.role,
            password_changed_at: String::new(),
            client_open: true,
        }
    }

    pub fn is_owner(&self) -> bool {
        self.role == ClientRole::Owner
    }

    /// A message for the next page this session sees.
    pub async fn flash(&self, ok: bool, text: impl Into<String>) {
        let mut list: Vec<Flash> = self
            .session
            .get(FLASH)
            .await
            .ok()
            .flatten()
            .unwrap_or_default();
        list.push(Flash {
            ok,
            text: text.into(),
        });
        if let Err(e) = self.session.insert(FLASH, list).await {
            tracing::warn!(error = %e, "storing flash message");
        }
    }

    /// What the portal layout shows around a page, taking pending messages.
    pub async fn chrome(&self, state: &AppState) -> PortalChrome {
        let flash: Vec<Flash> = match self.session.get(FLASH).await.ok().flatten() {
            Some(list) => {
                let _ = self.session.remove::<Vec<Flash>>(FLASH).await;
                list
            }
            None => Vec::new(),
        };
        PortalChrome {
            who: Some(Who {
                client_name: self.client_name.clone(),
                user_name: self.name.clone(),
                is_owner: self.is_owner(),
                csrf: self.csrf.clone(),
            }),
            flash,
            ..PortalChrome::anonymous(state.ops.config())
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PortalUi {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        parts
            .extensions
            .get::<PortalUi>()
            .cloned()
            .ok_or_else(|| Redirect::to(LOGIN).into_response())
    }
}

/// Guards every portal page: re-reads the session's user and client on
/// each request and ends the session when either no longer allows it.
pub async fn require_client_user(
    State(state): State<AppState>,
    session: Session,
    mut req: Request,
    next: Next,
) -> Response {
    let Some(user_id) = session.get::<i64>(USER_ID).await.ok().flatten() else {
        return Redirect::to(LOGIN).into_response();
    };
    let login_at: i64 = session.get(LOGIN_AT).await.ok().flatten().unwrap_or(0);
    let who = match state.ops.portal_identity(user_id).await {
        Ok(Some(who))
            if who.client_open && changed_micros(&who.password_changed_at) <= login_at =>
        {
            who
        }
        Ok(_) => {
            let _ = session.flush().await;
            return Redirect::to(ENDED).into_response();
        }
        Err(e) => {
            tracing::error!(error = %e, "checking portal session user");
            return internal_error();
        }
    };
    let idle = state.ui.session_idle;
    let touch_every = (idle / 8).min(Duration::from_secs(60)).as_micros() as i64;
    let touched: i64 = session.get(TOUCHED).await.ok().flatten().unwrap_or(0);
    if now_micros() - touched >= touch_every {
        let _ = session.insert(TOUCHED, now_micros()).await;
    }
    let csrf = csrf::ensure(&session).await;
    let ip = peer_ip(req.extensions());
    req.extensions_mut().insert(PortalUi {
        user_id: who.user_id,
        client_id: who.client_id,
        client_slug: who.client_slug,
        client_name: who.client_name,
        email: who.email,
        name: who.name,
        role: who.role,
        csrf,
        ip,
        session,
    });
    next.run(req).await
}
