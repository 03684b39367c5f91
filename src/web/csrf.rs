//! CSRF protection for the pages: one random token per session, sent back
//! as the hidden `_csrf` field of every form. Every non-GET page request
//! without the matching token is refused with 403 before its handler runs.
//!
//! The sign-in and setup forms have no session yet, and storing one for
//! every anonymous visitor would let anyone fill the session table. Their
//! token is a double-submit cookie instead: the form field must equal the
//! `berth_csrf` cookie, which another site can neither read nor set (with
//! TLS it is a `__Host-` cookie, so not even a tenant on a sibling
//! subdomain can plant one). The Origin check in [`super::origin`] stands
//! in front of both.

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::distr::{Alphanumeric, SampleString};
use tower_sessions::Session;

use super::views::message;

pub const KEY: &str = "csrf";
pub use super::views::components::CSRF_FIELD as FIELD;
const MAX_FORM: usize = 64 * 1024;

pub fn new_token() -> String {
    Alphanumeric.sample_string(&mut rand::rng(), 32)
}

/// The session's token, created (and the session with it) when missing.
pub async fn ensure(session: &Session) -> String {
    if let Ok(Some(t)) = session.get::<String>(KEY).await {
        return t;
    }
    let token = new_token();
    if let Err(e) = session.insert(KEY, &token).await {
        tracing::warn!(error = %e, "storing CSRF token");
    }
    token
}

pub async fn verify(session: Session, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        return next.run(req).await;
    }
    let expected: Option<String> = session.get(KEY).await.ok().flatten();
    check(expected, req, next).await
}

/// The double-submit cookie's name; `__Host-` needs Secure, so only with TLS.
pub fn cookie_name(secure: bool) -> &'static str {
    if secure {
        "__Host-berth_csrf"
    } else {
        "berth_csrf"
    }
}

fn cookie_token(headers: &HeaderMap, secure: bool) -> Option<String> {
    let name = cookie_name(secure);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
        .filter(|t| t.len() == 32 && t.bytes().all(|b| b.is_ascii_alphanumeric()))
}

/// The token for an anonymous form: the visitor's cookie, or a new one that
/// [`with_cookie`] must then set.
pub fn anonymous(headers: &HeaderMap, secure: bool) -> (String, bool) {
    match cookie_token(headers, secure) {
        Some(t) => (t, false),
        None => (new_token(), true),
    }
}

/// Adds the double-submit cookie to a response when `fresh`.
pub fn with_cookie(mut res: Response, token: &str, fresh: bool, secure: bool) -> Response {
    if fresh {
        let cookie = format!(
            "{}={token}; Path=/; HttpOnly; SameSite=Strict{}",
            cookie_name(secure),
            if secure { "; Secure" } else { "" }
        );
        if let Ok(v) = HeaderValue::from_str(&cookie) {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    res
}

/// For the public forms (sign-in, setup): the field must match the cookie
/// (its name depends on `secure`, whether cookies are TLS-only).
pub async fn verify_anonymous(State(secure): State<bool>, req: Request, next: Next) -> Response {
    if matches!(*req.method(), Method::GET | Method::HEAD) {
        return next.run(req).await;
    }
    let expected = cookie_token(req.headers(), secure);
    check(expected, req, next).await
}

async fn check(expected: Option<String>, req: Request, next: Next) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_FORM).await else {
        let page = message::page(
            "Form too large",
            "This form sent more than berth accepts; nothing was changed.",
        );
        return (StatusCode::PAYLOAD_TOO_LARGE, page).into_response();
    };
    if !matches!((&expected, sent(&bytes)), (Some(e), Some(s)) if constant_time_eq(e.as_bytes(), s.as_bytes()))
    {
        return forbidden();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn sent(form: &Bytes) -> Option<String> {
    form_urlencoded::parse(form)
        .find(|(k, _)| k == FIELD)
        .map(|(_, v)| v.into_owned())
}

fn forbidden() -> Response {
    (StatusCode::FORBIDDEN, message::form_expired()).into_response()
}

/// Compares secrets without leaking, through timing, how much matched.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_compare_exactly() {
        assert!(super::constant_time_eq(b"abc", b"abc"));
        assert!(!super::constant_time_eq(b"abc", b"abd"));
        assert!(!super::constant_time_eq(b"abc", b"ab"));
        assert_ne!(super::new_token(), super::new_token());
    }
}
