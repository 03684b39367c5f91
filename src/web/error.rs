use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use crate::ops::OpsError;

/// Every handler error becomes `{"error": "..."}` with a fitting status.
/// Internal failures are logged in full and shown as an opaque message.
#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub message: String,
}

impl AppError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    pub fn unauthorized() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "missing or invalid bearer token")
    }
}

impl From<OpsError> for AppError {
    fn from(e: OpsError) -> Self {
        let status = match &e {
            OpsError::Invalid(_) | OpsError::Refused(_) => StatusCode::UNPROCESSABLE_ENTITY,
            OpsError::NotFound(_) => StatusCode::NOT_FOUND,
            OpsError::Conflict(_) => StatusCode::CONFLICT,
            OpsError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
            OpsError::Timeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            OpsError::Store(_) | OpsError::Io(_) => {
                tracing::error!(error = %e, "internal error");
                return Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal error; see berth's log",
                );
            }
        };
        Self::new(status, e.to_string())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(json!({ "error": self.message }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                "www-authenticate",
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        response
    }
}
