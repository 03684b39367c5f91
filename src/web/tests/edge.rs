//! The edge's own refusals: unknown Host (DNS rebinding), foreign Origin,
//! proxied /metrics, anonymous sessions, oversized bodies, bad dates and names.

use super::*;

async fn setup_form(w: &Web) -> (String, String) {
    let page = w.send(Method::GET, "/setup", None, None).await;
    assert_eq!(page.status, StatusCode::OK);
    (page.csrf_cookie().expect("a CSRF cookie"), page.csrf())
}

fn setup_body(csrf: &str) -> String {
    format!("_csrf={csrf}&name=first&password=long-enough-1")
}

/// POSTs the setup form with `headers` (Host, Origin, Referer).
async fn post_setup(w: &Web, cookie: &str, csrf: &str, headers: &[(&str, &str)]) -> Answer {
    let body = setup_body(csrf);
    w.send_with(Method::POST, "/setup", Some(cookie), Some(&body), headers)
        .await
}

#[tokio::test]
async fn setup_through_a_rebound_name_is_misdirected() {
    let w = web(|_| {}).await;
    let (cookie, csrf) = setup_form(&w).await;
    let res = post_setup(&w, &cookie, &csrf, &[("host", "evil.example")]).await;
    assert_eq!(res.status, StatusCode::MISDIRECTED_REQUEST, "{}", res.body);
    assert!(res.body.contains("evil.example") && res.body.contains("web.allowed_hosts"));
    assert_eq!(w.ops.user_count().await.unwrap(), 0);
    // Reading is refused the same way, pages and API alike.
    let page = w
        .send_with(
            Method::GET,
            "/setup",
            None,
            None,
            &[("host", "evil.example:7070")],
        )
        .await;
    assert_eq!(page.status, StatusCode::MISDIRECTED_REQUEST);
    let api = w
        .send_with(
            Method::GET,
            "/api/v1/health",
            None,
            None,
            &[("host", "evil.example")],
        )
        .await;
    assert_eq!(api.status, StatusCode::MISDIRECTED_REQUEST);
    let json: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    assert!(json["error"].as_str().unwrap().contains("evil.example"));
}

#[tokio::test]
async fn setup_posted_from_another_site_is_forbidden() {
    let w = web(|_| {}).await;
    let (cookie, csrf) = setup_form(&w).await;
    for (name, value) in [
        ("origin", "http://evil.example"),
        ("origin", "null"),
        ("origin", "http://127.0.0.1:7071"),
        ("referer", "http://evil.example/attack.html"),
    ] {
        let res = post_setup(
            &w,
            &cookie,
            &csrf,
            &[("host", "127.0.0.1:7070"), (name, value)],
        )
        .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{name}: {value}");
        assert!(res.body.contains("another site"), "{}", res.body);
        assert_eq!(w.ops.user_count().await.unwrap(), 0);
    }
    // The browser's own origin passes.
    let res = post_setup(
        &w,
        &cookie,
        &csrf,
        &[
            ("host", "127.0.0.1:7070"),
            ("origin", "http://127.0.0.1:7070"),
        ],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(w.ops.user_count().await.unwrap(), 1);
}

#[tokio::test]
async fn configured_names_are_answered() {
    let w = web(|c| c.web.allowed_hosts = vec!["berth.lan".into()]).await;
    let (cookie, csrf) = setup_form(&w).await;
    let res = post_setup(
        &w,
        &cookie,
        &csrf,
        &[("host", "berth.lan"), ("origin", "https://berth.lan")],
    )
    .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
}

#[tokio::test]
async fn metrics_through_a_proxy_need_the_token() {
    let w = web(|_| {}).await;
    let direct = w.send(Method::GET, "/metrics", None, None).await;
    assert_eq!(direct.status, StatusCode::OK, "{}", direct.body);
    for header in ["x-forwarded-for", "forwarded", "x-real-ip", "via"] {
        let res = w
            .send_with(
                Method::GET,
                "/metrics",
                None,
                None,
                &[(header, "203.0.113.9")],
            )
            .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{header}");
    }
    let token = w.ops.create_token(&Actor::cli(), "scrape").await.unwrap();
    let bearer = format!("Bearer {token}");
    let res = w
        .send_with(
            Method::GET,
            "/metrics",
            None,
            None,
            &[
                ("x-forwarded-for", "203.0.113.9"),
                ("authorization", &bearer),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK);
}

fn session_rows(w: &Web) -> i64 {
    let db = w.ops.config().data_dir.join("sessions.db");
    let conn = rusqlite::Connection::open(db).unwrap();
    conn.query_row("SELECT COUNT(*) FROM ui_sessions", [], |r| r.get(0))
        .unwrap()
}

#[tokio::test]
async fn anonymous_visitors_store_no_session() {
    let w = web(|_| {}).await;
    w.add_admin().await;
    let mut form = None;
    for _ in 0..3 {
        let page = w.send(Method::GET, "/login", None, None).await;
        assert_eq!(page.status, StatusCode::OK);
        assert_eq!(page.cookie(), None, "no session cookie for a visitor");
        form = Some((page.csrf_cookie().unwrap(), page.csrf()));
    }
    let (cookie, csrf) = form.unwrap();
    let wrong = format!("_csrf={csrf}&name=admin&password=wrong-password");
    let res = w
        .send(Method::POST, "/login", Some(&cookie), Some(&wrong))
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(session_rows(&w), 0);
    // Without the cookie the form's token is worth nothing.
    let right = format!("_csrf={csrf}&name=admin&password=correct-horse-1");
    let res = w.send(Method::POST, "/login", None, Some(&right)).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    let res = w
        .send(Method::POST, "/login", Some(&cookie), Some(&right))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(session_rows(&w), 1, "the signed-in session");
}

#[tokio::test]
async fn audit_dates_past_the_calendar_are_refused() {
    let w = web(|_| {}).await;
    let (cookie, _) = w.admin().await;
    for path in [
        "/audit?to=9999-12-31",
        "/audit/export?format=csv&to=9999-12-31",
    ] {
        let res = w.get(path, &cookie).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{path}");
        assert!(res.body.contains("last date"), "{path}: {}", res.body);
    }
    let res = w.get("/audit?from=9999-12-31&to=9999-12-30", &cookie).await;
    assert_eq!(res.status, StatusCode::OK);
}

async fn api(w: &Web, method: Method, path: &str, body: String) -> (StatusCode, serde_json::Value) {
    static TOKENS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = TOKENS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let token = w
        .ops
        .create_token(&Actor::cli(), &format!("t{n}"))
        .await
        .unwrap();
    let bearer = format!("Bearer {token}");
    let headers = [
        ("authorization", bearer.as_str()),
        ("content-type", "application/json"),
    ];
    let res = w
        .app
        .clone()
        .oneshot(request(method, path, &headers, body, LOCAL))
        .await
        .unwrap();
    let status = res.status();
    let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
        .await
        .unwrap();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|_| panic!("not JSON: {}", String::from_utf8_lossy(&bytes)));
    (status, json)
}

#[tokio::test]
async fn a_too_large_restore_body_is_a_json_413() {
    let w = web(|_| {}).await;
    let body = format!("{{\"into\": \"{}\"}}", "x".repeat(200 * 1024));
    let (status, json) = api(&w, Method::POST, "/api/v1/backups/1/restore", body).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(
        json["error"].as_str().unwrap().contains("length limit"),
        "{json}"
    );
}

#[tokio::test]
async fn dot_plan_names_and_control_characters_in_names_are_refused() {
    let w = web(|_| {}).await;
    for name in [".", "..", ".x", "x."] {
        let body = serde_json::json!({ "name": name, "cpus": 0.5, "memory": "64MiB" });
        let (status, json) = api(&w, Method::POST, "/api/v1/plans", body.to_string()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name:?}: {json}");
        assert!(
            json["error"].as_str().unwrap().contains("plan name"),
            "{json}"
        );
    }
    assert!(w.ops.list_plans().await.unwrap().is_empty());
    seed_client(&w.ops, "Acme", "").await;
    for name in ["Acme\r\nX-Evil: 1", "Acme\tCo", "Acme\nCo", "Acme\u{1b}[2J"] {
        let body = serde_json::json!({ "name": name, "email": "a@example.com", "plan": "p", "blueprint": "static-site" });
        let (status, json) = api(&w, Method::POST, "/api/v1/clients", body.to_string()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{name:?}: {json}");
        assert!(
            json["error"]
                .as_str()
                .unwrap()
                .contains("control characters"),
            "{json}"
        );
        let body = serde_json::json!({ "email": format!("a{name}@example.com") });
        let (status, _) = api(&w, Method::PATCH, "/api/v1/clients/acme", body.to_string()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "email {name:?}");
    }
    assert_eq!(w.ops.list_clients().await.unwrap().len(), 1);
}

#[tokio::test]
async fn billing_months_past_the_calendar_are_refused() {
    let w = web(|_| {}).await;
    for month in ["9999-12", "10000-01", "2026-13", "0000-00"] {
        let path = format!("/api/v1/usage/export?month={month}");
        let (status, json) = api(&w, Method::GET, &path, String::new()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{month}: {json}");
        assert!(
            json["error"].as_str().unwrap().contains("YYYY-MM"),
            "{json}"
        );
    }
}

/// One error, two shapes: the same failure is a page on a page route and
/// `{"error": ...}` on an API route, with the same status and message.
#[tokio::test]
async fn an_error_is_a_page_or_json_by_the_routes_access() {
    let w = web(|_| {}).await;
    let (cookie, _) = w.admin().await;
    let page = w.get("/clients/nobody", &cookie).await;
    assert_eq!(page.status, StatusCode::NOT_FOUND, "{}", page.body);
    assert!(page.body.contains("<h1>Not done</h1>"), "{}", page.body);
    assert!(
        page.body.contains("client nobody not found"),
        "{}",
        page.body
    );
    let token = w.ops.create_token(&Actor::cli(), "t").await.unwrap();
    let bearer = format!("Bearer {token}");
    let api = w
        .send_with(
            Method::GET,
            "/api/v1/clients/nobody",
            None,
            None,
            &[("authorization", &bearer)],
        )
        .await;
    assert_eq!(api.status, StatusCode::NOT_FOUND, "{}", api.body);
    let json: serde_json::Value = serde_json::from_str(&api.body).unwrap();
    assert_eq!(json["error"], "client nobody not found");
}
