use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use serde::de::DeserializeOwned;

use super::error::{one_line, WebError};

/// `Json<T>` whose rejections are JSON errors too: a malformed body is 400,
/// a well-formed body with wrong fields is 422, too large 413, each with
/// serde's or axum's message.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = WebError;

    async fn from_request(req: Request, state: &S) -> Result<Self, WebError> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Self(v)),
            // axum already picks 400/413/415/422; keep its status, wrap its text.
            Err(rejection) => Err(WebError::new(
                rejection.status(),
                one_line(&rejection.body_text()),
            )),
        }
    }
}

/// `Path<T>` whose rejection ("abc" where an id belongs) is a JSON 400.
pub struct ApiPath<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned + Send> axum::extract::FromRequestParts<S> for ApiPath<T> {
    type Rejection = WebError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, WebError> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| Self(v))
            .map_err(|rejection| {
                WebError::new(StatusCode::BAD_REQUEST, one_line(&rejection.body_text()))
            })
    }
}

/// The body of a destructive call: the name of what it deletes, typed back.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Confirm {
    pub confirm: String,
}
