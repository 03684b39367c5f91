//! The web edge behind a real Caddy: what came through the proxy is remote.

use std::time::Duration;

use reqwest::StatusCode;

use crate::harness::{eventually, free_port, skip_docker, TestApp};

const UP: Duration = Duration::from_secs(60);

/// GET `path` on `addr` with a Host header and maybe a bearer token; None
/// while nothing listens.
async fn try_get(
    app: &TestApp,
    addr: &str,
    host: &str,
    path: &str,
    token: Option<&str>,
) -> Option<(StatusCode, String)> {
    let mut req = app
        .http
        .get(format!("http://{addr}{path}"))
        .header("host", host);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let res = req.send().await.ok()?;
    Some((res.status(), res.text().await.unwrap_or_default()))
}

async fn get(
    app: &TestApp,
    addr: &str,
    host: &str,
    path: &str,
    token: Option<&str>,
) -> (StatusCode, String) {
    try_get(app, addr, host, path, token)
        .await
        .unwrap_or_else(|| panic!("GET http://{addr}{path} (Host: {host}) failed"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_through_caddy_need_the_token_and_direct_loopback_does_not() {
    if skip_docker() {
        return;
    }
    // A fixed port so the static route can name berth as its upstream; its
    // host is then one berth answers to.
    let port = free_port();
    let berth = format!("127.0.0.1:{port}");
    let app = TestApp::spawn_with(|c| {
        c.listen = berth.parse().unwrap();
        c.caddy.routes = vec![berth::config::StaticRoute {
            host: "admin.berth.test".into(),
            upstream: Some(berth.clone()),
            respond: None,
            status: 200,
        }];
    })
    .await;
    let caddy = format!("127.0.0.1:{}", app.caddy.http_port);
    // Through Caddy: proxied from loopback, so remote; no token, no metrics.
    // Until the reconciler loads the route, Caddy is silent or answers 404.
    let (status, body) = eventually("berth answers through caddy", UP, || async {
        try_get(&app, &caddy, "admin.berth.test", "/metrics", None)
            .await
            .filter(|(s, _)| *s != StatusCode::NOT_FOUND)
    })
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let error: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"], "missing or invalid bearer token");
    let (status, body) = get(
        &app,
        &caddy,
        "admin.berth.test",
        "/metrics",
        Some(&app.token),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("# TYPE berth_"), "{body}");
    // Direct from this host: no token needed.
    let (status, body) = get(&app, &berth, &berth, "/metrics", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(body.contains("# TYPE berth_"), "{body}");
    // A name berth does not know, even through its own Caddy route's port.
    let (status, _) = get(&app, &berth, "evil.example", "/metrics", None).await;
    assert_eq!(status, StatusCode::MISDIRECTED_REQUEST);
}
