//! The admin pages, one module per page group. Each exposes `routes()`;
//! [`routes`] lists them all for the router and the protection test.

pub mod assets;
pub mod audit;
pub mod auth;
pub mod backups;
pub mod client_forms;
pub mod clients;
pub mod dashboard;
pub mod deletions;
pub mod instances;
pub mod plan_backups;
pub mod plans;
pub mod restore;
pub mod tokens;
pub mod users;

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::html;

use super::routes::Route;
use super::views::layout;
use crate::ops::OpsError;

pub fn routes() -> Vec<Route> {
    let mut r = Vec::new();
    r.extend(assets::routes());
    r.extend(auth::routes());
    r.extend(dashboard::routes());
    r.extend(clients::routes());
    r.extend(instances::routes());
    r.extend(deletions::routes());
    r.extend(backups::routes());
    r.extend(plans::routes());
    r.extend(plan_backups::routes());
    r.extend(tokens::routes());
    r.extend(users::routes());
    r.extend(audit::routes());
    r
}

/// A page handler's failure, shown as a short HTML page.
#[derive(Debug)]
pub struct PageError(pub OpsError);

impl From<OpsError> for PageError {
    fn from(e: OpsError) -> Self {
        Self(e)
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = match &self.0 {
            OpsError::Invalid(_) | OpsError::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            OpsError::NotFound(_) => StatusCode::NOT_FOUND,
            OpsError::Conflict(_) => StatusCode::CONFLICT,
            OpsError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            OpsError::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            OpsError::Store(_) | OpsError::Io(_) => {
                tracing::error!(error = %self.0, "internal error on a page");
                return internal_error();
            }
        };
        message_page(status, "Not done", &self.0.to_string())
    }
}

pub type PageResult<T = Response> = Result<T, PageError>;

pub fn message_page(status: StatusCode, title: &str, text: &str) -> Response {
    let body = layout::bare(
        title,
        html! { h1 { (title) } p { (text) } p { a href="/" { "Back to the dashboard" } } },
    );
    (status, body).into_response()
}

pub fn internal_error() -> Response {
    message_page(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Something went wrong",
        "berth could not finish this request; the details are in its log.",
    )
}

/// Unknown addresses: JSON under /api/ (API clients expect it), a page elsewhere.
pub async fn not_found(uri: axum::http::Uri) -> Response {
    if uri.path().starts_with("/api/") {
        let message = format!("no API route {}", uri.path());
        return super::AppError::new(StatusCode::NOT_FOUND, message).into_response();
    }
    message_page(
        StatusCode::NOT_FOUND,
        "Not found",
        "There is no page at this address.",
    )
}

/// After a successful POST: back to a page (303, so a reload does not resubmit).
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// A path segment for a URL built from user data (slugs and names are
/// already URL-safe; this keeps it so if that ever changes).
pub fn seg(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
