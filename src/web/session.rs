//! Signed-in sessions for the admin pages: tower-sessions with its SQLite
//! store in `<data_dir>/sessions.db`, a file of its own so session writes
//! never wait on (or hold up) the main database's write lock.
//!
//! Cookie: HttpOnly, SameSite=Lax, Secure when Caddy terminates TLS. Idle
//! expiry: every save pushes the expiry out by `web.session_idle`; a request
//! saves ("touches") the session at most every idle/8 (≤ 1 min), so a busy
//! page costs no session write per request.
//!
//! Only a sign-in creates a session: the sign-in and setup forms carry their
//! CSRF token in a cookie (see [`super::csrf`]), so anonymous visitors leave
//! no row behind.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Redirect, Response};
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer};
use tower_sessions_rusqlite_store::{tokio_rusqlite, RusqliteStore};

use super::csrf;
use super::views::layout::{Chrome, Flash};
use crate::audit::Actor;

pub(super) const USER: &str = "user";
pub(super) const LOGIN_AT: &str = "login_at";
pub(super) const TOUCHED: &str = "touched";
const FLASH: &str = "flash";

/// The admin sessions' table in `path`; the portal's live beside it in
/// [`open_table`]`(path, "portal_sessions")`.
pub async fn open_store(path: &Path) -> anyhow::Result<RusqliteStore> {
    open_table(path, "ui_sessions").await
}

pub async fn open_table(path: &Path, table: &str) -> anyhow::Result<RusqliteStore> {
    let conn = tokio_rusqlite::Connection::open(path).await?;
    conn.call(|c| -> Result<(), tokio_rusqlite::rusqlite::Error> {
        c.pragma_update(None, "journal_mode", "WAL")?;
        // Losing the last second of session touches in a power cut is fine.
        c.pragma_update(None, "synchronous", "NORMAL")?;
        c.busy_timeout(Duration::from_secs(5))?;
        Ok(())
    })
    .await
    .map_err(|e| anyhow::anyhow!("configuring {}: {e}", path.display()))?;
    let store = RusqliteStore::new(conn)
        .with_table_name(table)
        .map_err(anyhow::Error::msg)?;
    store.migrate().await?;
    Ok(store)
}

pub fn layer(
    store: RusqliteStore,
    idle: Duration,
    secure: bool,
) -> SessionManagerLayer<RusqliteStore> {
    SessionManagerLayer::new(store)
        .with_name("berth_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(to_time(idle)))
}

fn to_time(d: Duration) -> time::Duration {
    time::Duration::try_from(d).unwrap_or(time::Duration::days(1))
}

pub(super) fn now_micros() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1000) as i64
}

/// The signed-in user on a page request, put there by `auth::require_user`.
#[derive(Clone)]
pub struct Ui {
    pub user: String,
    pub csrf: String,
    pub ip: Option<String>,
    pub session: Session,
}

impl Ui {
    pub fn actor(&self) -> Actor {
        Actor::user(&self.user, self.ip.clone())
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

    /// The layout's chrome for a page that leaves pending flash messages
    /// for the next one (the usage pages, often opened beside another).
    pub fn chrome_without_flash(&self) -> Chrome {
        Chrome {
            user: self.user.clone(),
            flash: Vec::new(),
            csrf: self.csrf.clone(),
        }
    }

    /// What the layout shows around a page, taking the pending flash messages.
    pub async fn chrome(&self) -> Chrome {
        // Session::remove marks the session modified (a write) even when the
        // key is absent, so look first.
        let flashes: Vec<Flash> = match self.session.get(FLASH).await.ok().flatten() {
            Some(list) => {
                let _ = self.session.remove::<Vec<Flash>>(FLASH).await;
                list
            }
            None => Vec::new(),
        };
        Chrome {
            user: self.user.clone(),
            flash: flashes,
            csrf: self.csrf.clone(),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Ui {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        parts
            .extensions
            .get::<Ui>()
            .cloned()
            .ok_or_else(|| Redirect::to("/login").into_response())
    }
}

/// The client's address, for the audit log and the login throttle.
pub fn peer_ip(parts_ext: &axum::http::Extensions) -> Option<String> {
    parts_ext
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string())
}

/// Marks the session signed in as `user`. A fresh session id defeats
/// fixation; a fresh CSRF token goes with it.
pub async fn sign_in(session: &Session, user: &str) -> Result<(), tower_sessions::session::Error> {
    session.cycle_id().await?;
    session.insert(USER, user).await?;
    session.insert(LOGIN_AT, now_micros()).await?;
    session.insert(TOUCHED, now_micros()).await?;
    session.insert(csrf::KEY, csrf::new_token()).await?;
    Ok(())
}

pub(super) fn changed_micros(rfc3339: &str) -> i64 {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1000) as i64)
        .unwrap_or(i64::MAX)
}
