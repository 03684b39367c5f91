//! A small client for Caddy's admin API: read the live config, load a new one.

use std::time::Duration;

use reqwest::{header, Client, StatusCode};
use serde_json::Value;

use super::CaddyError;

/// How long a read waits out Caddy's admin listener restarting after a load.
const ADMIN_RESTART_GRACE: Duration = Duration::from_millis(1500);

/// Cheap to clone (the reqwest client is an `Arc` inside).
#[derive(Clone, Debug)]
pub struct CaddyAdmin {
    base: String,
    client: Client,
}

impl CaddyAdmin {
    /// `base_url` is e.g. "http://127.0.0.1:2019". Only plain HTTP: the admin
    /// API belongs on loopback.
    pub fn new(base_url: &str) -> Result<Self, CaddyError> {
        let bad = |reason: &str| CaddyError::BadUrl {
            url: base_url.to_string(),
            reason: reason.to_string(),
        };
        let base = base_url.trim_end_matches('/');
        let rest = base
            .strip_prefix("http://")
            .ok_or_else(|| bad("must start with http://"))?;
        if rest.is_empty() || rest.contains('/') {
            return Err(bad("expected http://host:port with no path"));
        }
        let client = crate::tls::client_builder()
            .connect_timeout(Duration::from_secs(1))
            .timeout(Duration::from_secs(5))
            // An HTTP_PROXY in berth's environment must never capture
            // loopback admin traffic.
            .no_proxy()
            // Caddy restarts its admin server on /load, resetting idle
            // keep-alive connections: a pooled connection makes the *next*
            // request fail with "connection reset". Loopback connects are
            // cheap, so use a fresh one each time.
            .pool_max_idle_per_host(0)
            .build()
            .map_err(|e| bad(&e.to_string()))?;
        Ok(Self {
            base: base.to_string(),
            client,
        })
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// True when `GET /config/` answers with success.
    pub async fn is_up(&self) -> bool {
        match self.client.get(self.url("/config/")).send().await {
            Ok(resp) => resp.status().is_success(),
            Err(_) => false,
        }
    }

    /// The live config; `Value::Null` when Caddy runs with an empty one.
    pub async fn config(&self) -> Result<Value, CaddyError> {
        let url = self.url("/config/");
        let resp = self.get_retrying(&url).await?;
        let resp = check(resp).await?;
        resp.json()
            .await
            .map_err(|source| CaddyError::BadResponse { url, source })
    }

    /// Replaces Caddy's whole config (the admin block included). Caddy
    /// validates and provisions before switching, so a rejected config
    /// leaves the running one in place.
    pub async fn load(&self, config: &Value) -> Result<(), CaddyError> {
        let body = serde_json::to_vec(config).expect("a serde_json::Value always serialises");
        let resp = self
            .client
            .post(self.url("/load"))
            // Caddy refuses /load without it.
            .header(header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|source| self.unreachable(source))?;
        check(resp).await.map(|_| ())
    }

    /// A GET that survives the admin server's own restart: Caddy answers
    /// `/load` and only then swaps its admin listener, so a connection made
    /// right after a load can be reset (seen in CI). A GET is idempotent,
    /// so a failed connection is tried again for a short while.
    async fn get_retrying(&self, url: &str) -> Result<reqwest::Response, CaddyError> {
        let deadline = tokio::time::Instant::now() + ADMIN_RESTART_GRACE;
        let mut pause = Duration::from_millis(20);
        loop {
            match self.client.get(url).send().await {
                Ok(resp) => return Ok(resp),
                Err(e) if tokio::time::Instant::now() + pause < deadline => {
                    tracing::debug!(error = %e, "caddy admin not answering yet; trying again");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(Duration::from_millis(200));
                }
                Err(source) => return Err(self.unreachable(source)),
            }
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    fn unreachable(&self, source: reqwest::Error) -> CaddyError {
        CaddyError::Unreachable {
            url: self.base.clone(),
            source,
        }
    }
}

/// Turns a 4xx/5xx into `Rejected` with Caddy's own message, which it sends
/// as `{"error": "..."}`.
async fn check(resp: reqwest::Response) -> Result<reqwest::Response, CaddyError> {
    let status = resp.status();
    if status.is_success() {
        return Ok(resp);
    }
    let text = resp.text().await.unwrap_or_default();
    Err(CaddyError::Rejected {
        status: status.as_u16(),
        message: error_message(status, &text),
    })
}

fn error_message(status: StatusCode, text: &str) -> String {
    let from_json = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("error").and_then(Value::as_str).map(str::to_string));
    let message = from_json.unwrap_or_else(|| text.trim().to_string());
    if message.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("no message")
            .to_string()
    } else {
        message
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_http_base_urls() {
        assert_eq!(
            CaddyAdmin::new("http://127.0.0.1:2019/")
                .unwrap()
                .base_url(),
            "http://127.0.0.1:2019"
        );
    }

    #[test]
    fn rejects_other_urls() {
        for url in [
            "https://127.0.0.1:2019",
            "127.0.0.1:2019",
            "http://",
            "http://h:1/x",
        ] {
            assert!(
                matches!(CaddyAdmin::new(url), Err(CaddyError::BadUrl { .. })),
                "{url}"
            );
        }
    }

    #[test]
    fn error_text_prefers_caddys_json_message() {
        assert_eq!(
            error_message(
                StatusCode::BAD_REQUEST,
                r#"{"error":"loading config: boom"}"#
            ),
            "loading config: boom"
        );
        assert_eq!(error_message(StatusCode::FORBIDDEN, "  no\n"), "no");
        assert_eq!(error_message(StatusCode::FORBIDDEN, ""), "Forbidden");
    }
}
