//! How a page handler answers besides a plain page: back to a page after
//! a POST (303, so a reload does not resubmit), with a flash saying what
//! happened, or the form again as a 422.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use maud::Markup;

use crate::ops::OpsError;
use crate::web::error::WebError;
use crate::web::session::Ui;

/// After a successful POST.
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// A refusal the person can act on (see `OpsError::user_message`) becomes a
/// flash on the page they return to; any other failure stays an error.
pub async fn flash_refusal(ui: &Ui, e: OpsError) -> Result<(), WebError> {
    match e.user_message() {
        Some(m) => {
            ui.flash(false, m).await;
            Ok(())
        }
        None => Err(e.into()),
    }
}

/// A form shown again because what was sent cannot be done.
pub fn unprocessable(page: Markup) -> Response {
    (StatusCode::UNPROCESSABLE_ENTITY, page).into_response()
}
