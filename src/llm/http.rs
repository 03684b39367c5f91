//! What both key APIs share: a reqwest client with timeouts, the bearer
//! management key, and one mapping of HTTP failures to [`ProviderError`].

use std::time::Duration;

use reqwest::{RequestBuilder, Response, StatusCode};
use serde::de::DeserializeOwned;

use super::provider::ProviderError;
use crate::config::ManagementKey;

#[derive(Clone)]
pub(super) struct Api {
    http: reqwest::Client,
    base: String,
    key: ManagementKey,
}

impl Api {
    pub fn new(base_url: &str, key: ManagementKey, timeout: Duration) -> Result<Self, String> {
        let http = crate::tls::client_builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| format!("building the LLM provider client: {e}"))?;
        Ok(Self {
            http,
            base: base_url.trim_end_matches('/').to_owned(),
            key,
        })
    }

    pub fn get(&self, path: &str) -> RequestBuilder {
        self.authed(self.http.get(self.url(path)))
    }

    pub fn post(&self, path: &str) -> RequestBuilder {
        self.authed(self.http.post(self.url(path)))
    }

    pub fn patch(&self, path: &str) -> RequestBuilder {
        self.authed(self.http.patch(self.url(path)))
    }

    pub fn delete(&self, path: &str) -> RequestBuilder {
        self.authed(self.http.delete(self.url(path)))
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn authed(&self, req: RequestBuilder) -> RequestBuilder {
        req.bearer_auth(self.key.expose())
    }

    /// Sends `req` and reads a JSON answer of type `T` from a 2xx.
    pub async fn json<T: DeserializeOwned>(&self, req: RequestBuilder) -> Result<T, ProviderError> {
        let resp = send(req).await?;
        let bytes = resp.bytes().await.map_err(transport)?;
        serde_json::from_slice(&bytes).map_err(|e| ProviderError::Protocol(e.to_string()))
    }

    /// Sends `req`, wanting a 2xx and nothing from its body.
    pub async fn ok(&self, req: RequestBuilder) -> Result<(), ProviderError> {
        send(req).await.map(drop)
    }
}

async fn send(req: RequestBuilder) -> Result<Response, ProviderError> {
    let resp = req.send().await.map_err(transport)?;
    if resp.status().is_success() {
        return Ok(resp);
    }
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = resp.bytes().await.unwrap_or_default();
    Err(classify(status, retry_after, error_message(&body)))
}

/// A transport failure, without the URL: LiteLLM's `/key/info?key=` carries
/// a client's key in its query, and an error message ends up in the store.
fn transport(e: reqwest::Error) -> ProviderError {
    ProviderError::Transport(e.without_url().to_string())
}

pub(super) fn classify(
    status: StatusCode,
    retry_after: Option<Duration>,
    message: String,
) -> ProviderError {
    match status.as_u16() {
        401 | 403 => ProviderError::Unauthorized(message),
        402 => ProviderError::OutOfCredits(message),
        404 => ProviderError::NotFound(message),
        429 => ProviderError::RateLimited {
            retry_after,
            message,
        },
        s if s >= 500 => ProviderError::Server { status: s, message },
        s => ProviderError::Rejected { status: s, message },
    }
}

/// The message of an error body, `{"error": {"code", "message"}}` (both
/// providers), else the start of the body as text.
pub(super) fn error_message(body: &[u8]) -> String {
    let parsed: Option<String> = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            let e = v.get("error")?;
            e.get("message")
                .and_then(|m| m.as_str())
                .or_else(|| e.as_str())
                .map(str::to_owned)
        });
    let text = parsed.unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_typed_errors() {
        let e = |s: u16| classify(StatusCode::from_u16(s).unwrap(), None, "m".into());
        assert!(matches!(e(401), ProviderError::Unauthorized(_)));
        assert!(matches!(e(402), ProviderError::OutOfCredits(_)));
        assert!(matches!(e(404), ProviderError::NotFound(_)));
        assert!(matches!(
            e(400),
            ProviderError::Rejected { status: 400, .. }
        ));
        assert!(matches!(e(503), ProviderError::Server { status: 503, .. }));
        let limited = classify(
            StatusCode::TOO_MANY_REQUESTS,
            Some(Duration::from_secs(3)),
            "slow down".into(),
        );
        assert_eq!(limited.retry_after(), Some(Duration::from_secs(3)));
    }

    #[test]
    fn error_bodies_give_their_message() {
        let body = br#"{"error": {"code": 402, "message": "Insufficient credits"}}"#;
        assert_eq!(error_message(body), "Insufficient credits");
        assert_eq!(
            error_message(b"<html>bad\ngateway</html>"),
            "<html>bad gateway</html>"
        );
        assert_eq!(error_message(&[b'x'; 500]).chars().count(), 201);
    }
}
