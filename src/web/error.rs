//! The one error of the web edge. [`WebError`] decides the status once; the
//! route's [`Access`] decides the shape: the [`render`] layer, set per access
//! group by the router, turns it into `{"error": ...}` for the API and
//! `/metrics`, or into a short page for the admin pages. A handler never
//! picks a shape, so a page and an API call failing the same way agree on
//! the status. Internal failures are logged in full and shown opaque.

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::route::Access;
use super::views::message;
use crate::ops::OpsError;

#[derive(Debug)]
pub enum WebError {
    /// An operation's failure: its status follows from its kind.
    Ops(OpsError),
    /// A failure at the edge itself (a bad path or body, no token).
    Edge(StatusCode, String),
}

pub type WebResult<T = Response> = Result<T, WebError>;

impl From<OpsError> for WebError {
    fn from(e: OpsError) -> Self {
        Self::Ops(e)
    }
}

impl WebError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self::Edge(status, message.into())
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "missing or invalid bearer token")
    }

    /// The status, and the message when the user may read it (`None`: an
    /// internal failure, logged here once).
    fn decide(self) -> (StatusCode, Option<String>) {
        let e = match self {
            Self::Edge(status, message) => return (status, Some(message)),
            Self::Ops(e) => e,
        };
        let status = match &e {
            OpsError::Invalid(_) | OpsError::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            OpsError::NotFound(_) => StatusCode::NOT_FOUND,
            OpsError::Conflict(_) => StatusCode::CONFLICT,
            OpsError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            OpsError::Store(_) | OpsError::Io(_) => {
                tracing::error!(error = %e, "internal error");
                return (StatusCode::INTERNAL_SERVER_ERROR, None);
            }
        };
        (status, Some(e.to_string()))
    }
}

/// What [`WebError`] leaves in its response for [`render`] to shape.
#[derive(Clone)]
struct Decided(Option<String>);

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, message) = self.decide();
        let mut res = status.into_response();
        res.extensions_mut().insert(Decided(message));
        res
    }
}

/// `{"error": ...}`; a 401 also names the scheme it wants.
pub fn json(status: StatusCode, message: &str) -> Response {
    let mut res = (status, Json(json!({ "error": message }))).into_response();
    if status == StatusCode::UNAUTHORIZED {
        res.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    res
}

const INTERNAL_JSON: &str = "internal error; see berth's log";

/// Shapes every error of a route group by its access. API clients parse
/// every error as `{"error": ...}`, and axum's own rejections (a body over
/// the size limit, a bad query string) are plain text, so under a JSON
/// access those are rewrapped here once instead of in every extractor.
pub async fn render(State(access): State<Access>, req: Request, next: Next) -> Response {
    let res = next.run(req).await;
    let status = res.status();
    if let Some(Decided(message)) = res.extensions().get::<Decided>().cloned() {
        return match (access.speaks_json(), message) {
            (true, Some(m)) => json(status, &m),
            (true, None) => json(status, INTERNAL_JSON),
            (false, Some(m)) if access.is_portal() => {
                (status, message::portal_page("Not done", &m)).into_response()
            }
            (false, Some(m)) => message_page(status, "Not done", &m),
            (false, None) => internal_error(),
        };
    }
    if !access.speaks_json() || !(status.is_client_error() || status.is_server_error()) {
        return res;
    }
    let is_json = res
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return res;
    }
    let text = axum::body::to_bytes(res.into_body(), 16 * 1024)
        .await
        .map(|b| one_line(&String::from_utf8_lossy(&b)))
        .unwrap_or_default();
    let message = if text.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        text
    };
    json(status, &message)
}

pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Unknown addresses: JSON under /api/ (API clients expect it), a page elsewhere.
pub async fn not_found(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        return json(
            StatusCode::NOT_FOUND,
            &format!("no API route {}", uri.path()),
        );
    }
    message_page(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no page at this address.",
    )
}

pub fn message_page(status: StatusCode, title: &str, text: &str) -> Response {
    (status, message::page(title, text)).into_response()
}

pub fn internal_error() -> Response {
    (StatusCode::INTERNAL_SERVER_ERROR, message::internal_error()).into_response()
}
