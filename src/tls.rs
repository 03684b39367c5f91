//! HTTPS for outgoing webhooks. reqwest is built without a bundled crypto
//! provider (ring builds much faster than aws-lc on a small machine), so
//! the process installs ring once before any client is made.

/// Idempotent: a second call (tests build several apps) is a no-op.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// Every HTTP client in berth (and its tests) starts here, so none can be
/// built before the provider exists, whatever runs first.
pub fn client_builder() -> reqwest::ClientBuilder {
    install_crypto_provider();
    reqwest::Client::builder()
}

#[cfg(test)]
mod tests {
    #[tokio::test]
    async fn https_clients_build_and_fail_cleanly_without_a_server() {
        super::install_crypto_provider();
        super::install_crypto_provider();
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client with TLS");
        let err = client.get("https://127.0.0.1:1/").send().await.unwrap_err();
        assert!(err.is_connect(), "{err}");
    }
}
