//! Bad input never changes state and always gets a 4xx with a message.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::TestApp;

async fn expect_error(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
    want: StatusCode,
) {
    let (status, answer) = app.call(method.clone(), path, body.clone()).await;
    assert_eq!(status, want, "{method} {path} {body:?} → {answer}");
    let message = answer["error"]
        .as_str()
        .unwrap_or_else(|| panic!("JSON error for {path} {body:?}: {answer}"));
    assert!(
        !message.is_empty() && !message.contains('\n'),
        "one-line message: {message:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_a_clear_4xx_and_changes_nothing() {
    let app = TestApp::spawn().await;
    app.create_plan("base", 0.5, "64MiB").await;
    app.create_client("Existing", "base").await;
    let before_clients = app.get("/api/v1/clients").await.1;
    let before_plans = app.get("/api/v1/plans").await.1;
    let huge = "x".repeat(10 * 1024);
    let post = reqwest::Method::POST;
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;

    let bad_plans = [
        json!({}),
        json!({ "name": "", "cpus": 1, "memory": "64MiB" }),
        json!({ "name": huge, "cpus": 1, "memory": "64MiB" }),
        json!({ "name": "plän", "cpus": 1, "memory": "64MiB" }),
        json!({ "name": "<b>x</b>", "cpus": 1, "memory": "64MiB" }),
        json!({ "name": "p; rm -rf /", "cpus": 1, "memory": "64MiB" }),
        json!({ "name": "p", "cpus": 0, "memory": "64MiB" }),
        json!({ "name": "p", "cpus": -1, "memory": "64MiB" }),
        json!({ "name": "p", "cpus": 1e9, "memory": "64MiB" }),
        json!({ "name": "p", "cpus": 1, "memory": "lots" }),
        json!({ "name": "p", "cpus": 1, "memory": "1KiB" }),
        json!({ "name": "p", "cpus": 1, "memory": -5 }),
        json!({ "name": "p", "cpus": 1, "memory": "64MiB", "memory_reservation": "1GiB" }),
        json!({ "name": "p", "cpus": 1, "memory": "64MiB", "max_instances": 0 }),
        json!({ "name": "p", "cpus": 1, "memory": "64MiB", "surprise": true }),
        json!({ "name": "p", "cpus": "one", "memory": "64MiB" }),
    ];
    for body in bad_plans {
        expect_error(
            &app,
            post.clone(),
            "/api/v1/plans",
            Some(body),
            unprocessable,
        )
        .await;
    }
    expect_error(
        &app,
        post.clone(),
        "/api/v1/plans",
        Some(json!({ "name": "base", "cpus": 1, "memory": "64MiB" })),
        StatusCode::CONFLICT,
    )
    .await;

    let client = |name: &str, email: &str, plan: &str| json!({ "name": name, "email": email, "plan": plan, "blueprint": "static-site" });
    let bad_clients = [
        json!({}),
        client("", "a@b.example", "base"),
        client("   ", "a@b.example", "base"),
        client(&huge, "a@b.example", "base"),
        client("Bell\u{7}", "a@b.example", "base"),
        client("Ok", "", "base"),
        client("Ok", "not-an-email", "base"),
        client("Ok", "a@b", "base"),
        client("Ok", "<script>@x.example", "base"),
        client("Ok", "a@b.example; rm -rf /", "base"),
        client("Ok", "a@b.example", "no-such-plan"),
        client("Ok", "a@b.example", "plän"),
        json!({ "name": "Ok", "email": "a@b.example", "plan": "base", "blueprint": "nope" }),
        json!({ "name": "Ok", "email": "a@b.example", "plan": "base", "domain": "not a domain" }),
        json!({ "name": "Ok", "email": "a@b.example", "plan": "base", "domain": "a..example.com" }),
        json!({ "name": "Ok", "email": "a@b.example", "plan": "base", "domain": "<script>.example.com" }),
        json!({ "name": "Ok", "email": "a@b.example", "plan": "base", "domain": "10.0.0.1" }),
        json!({ "name": "Ok", "email": "a@b.example", "plan": "base", "domain": "ünï.example.com" }),
        json!({ "name": "Ok", "email": "a@b.example", "plan": "base", "extra": 1 }),
        json!({ "name": 5, "email": "a@b.example", "plan": "base" }),
    ];
    for body in bad_clients {
        expect_error(
            &app,
            post.clone(),
            "/api/v1/clients",
            Some(body),
            unprocessable,
        )
        .await;
    }
    expect_error(&app, post.clone(), "/api/v1/clients", Some(json!({ "name": "Dup", "email": "a@b.example", "plan": "base", "domain": "existing.berth.test" })), StatusCode::CONFLICT).await;

    // Malformed bodies and paths.
    let raw = app
        .http
        .post(format!("{}/api/v1/clients", app.api))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::BAD_REQUEST);
    assert!(raw.json::<Value>().await.unwrap()["error"].is_string());
    let raw = app
        .http
        .post(format!("{}/api/v1/clients", app.api))
        .bearer_auth(&app.token)
        .header("content-type", "application/json")
        .body(vec![b' '; 200 * 1024])
        .send()
        .await
        .unwrap();
    assert_eq!(raw.status(), StatusCode::PAYLOAD_TOO_LARGE);
    // The unread body leaves the connection unusable: berth must say so, or
    // the next request on it fails (seen as hyper's IncompleteMessage).
    assert_eq!(raw.headers()["connection"], "close");
    expect_error(
        &app,
        reqwest::Method::GET,
        "/api/v1/instances/abc",
        None,
        StatusCode::BAD_REQUEST,
    )
    .await;
    expect_error(
        &app,
        reqwest::Method::GET,
        "/api/v1/instances/999999",
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    expect_error(
        &app,
        reqwest::Method::GET,
        "/api/v1/clients/nope",
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    expect_error(
        &app,
        reqwest::Method::GET,
        "/api/v1/nothing-here",
        None,
        StatusCode::NOT_FOUND,
    )
    .await;
    expect_error(
        &app,
        reqwest::Method::PATCH,
        "/api/v1/clients/existing",
        Some(json!({ "email": "bad" })),
        unprocessable,
    )
    .await;
    expect_error(
        &app,
        reqwest::Method::PATCH,
        "/api/v1/clients/existing",
        Some(json!({ "plan": "ghost" })),
        unprocessable,
    )
    .await;
    expect_error(
        &app,
        reqwest::Method::PATCH,
        "/api/v1/plans/base",
        Some(json!({ "memory": "1KiB" })),
        unprocessable,
    )
    .await;
    expect_error(
        &app,
        reqwest::Method::DELETE,
        "/api/v1/clients/existing",
        Some(json!({ "confirm": "Existing" })),
        unprocessable,
    )
    .await;
    expect_error(
        &app,
        reqwest::Method::DELETE,
        "/api/v1/plans/base",
        None,
        StatusCode::CONFLICT,
    )
    .await;

    // Without a valid token nothing is reachable but health.
    let anon = app
        .http
        .get(format!("{}/api/v1/clients", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(anon.status(), StatusCode::UNAUTHORIZED);
    assert!(anon.json::<Value>().await.unwrap()["error"].is_string());
    let wrong = app
        .http
        .post(format!("{}/api/v1/plans", app.api))
        .bearer_auth("berth_wrong")
        .json(&json!({ "name": "x", "cpus": 1, "memory": "64MiB" }))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.http
            .get(format!("{}/api/v1/health", app.api))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::OK
    );

    assert_eq!(
        app.get("/api/v1/clients").await.1,
        before_clients,
        "clients unchanged"
    );
    assert_eq!(
        app.get("/api/v1/plans").await.1,
        before_plans,
        "plans unchanged"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_names_become_safe_slugs_and_are_kept_verbatim() {
    let app = TestApp::spawn().await;
    app.create_plan("base", 0.5, "64MiB").await;
    for (name, slug) in [
        ("<script>alert(1)</script>", "script-alert-1-script"),
        ("$(reboot); `rm -rf /` && echo", "reboot-rm-rf-echo"),
        ("日本語の会社", "client"),
        ("日本語の会社", "client-2"),
    ] {
        let c = app.create_client(name, "base").await;
        assert_eq!(c["slug"], slug);
        assert_eq!(c["name"], name);
    }
}
