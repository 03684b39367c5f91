use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::AppError;

/// `Json<T>` whose rejections are JSON errors too: a malformed body is 400,
/// a well-formed body with wrong fields is 422, too large 413, each with
/// serde's or axum's message.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, AppError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            // axum already picks 400/413/415/422; keep its status, wrap its text.
            Err(rejection) => Err(AppError::new(
                rejection.status(),
                one_line(&rejection.body_text()),
            )),
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `Path<T>` whose rejection ("abc" where an id belongs) is a JSON 400.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> axum::extract::FromRequestParts<S> for ApiPath<T> {
    type Rejection = AppError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, AppError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Self(v))
            .map_err(|rejection| {
                AppError::new(StatusCode::BAD_REQUEST, one_line(&rejection.body_text()))
            })
    }
}
