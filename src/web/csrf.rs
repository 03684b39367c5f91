//! CSRF protection for the pages: one random token per session, sent back
//! as the hidden `_csrf` field of every form. Every non-GET page request
//! without the matching token is refused with 403 before its handler runs.

use axum::body::{to_bytes, Body};
use axum::extract::Request;
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::distr::{Alphanumeric, SampleString};
use tower_sessions::Session;

pub const KEY: &str = "csrf";
pub const FIELD: &str = "_csrf";
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
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_FORM).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "form too large").into_response();
    };
    let sent = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == FIELD)
        .map(|(_, v)| v.into_owned());
    let ok = matches!((&expected, &sent), (Some(e), Some(s)) if constant_time_eq(e.as_bytes(), s.as_bytes()));
    if !ok {
        return forbidden();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

fn forbidden() -> Response {
    let body = super::views::layout::bare(
        "Form expired",
        maud::html! {
            h1 { "This form has expired" }
            p { "The page was open too long or was sent from another site. Nothing was changed. "
                a href="/" { "Go back" } ", reload the page and try again." }
        },
    );
    (StatusCode::FORBIDDEN, body).into_response()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
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
