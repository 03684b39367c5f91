//! Clients' instance requests end to end: an auto-approved request becomes
//! a running instance through the real engine and Caddy; manual ones are
//! approved or rejected through the API; a lowered plan refuses with a
//! clear reason; the CLI's errors are one line.

use std::time::Duration;

use berth::audit::Actor;
use berth::ops::{OpsError, RequestInput, Requester};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{berth_cli, eventually, TestApp};

const UP: Duration = Duration::from_secs(60);

/// What the portal will do for a signed-in owner (no portal yet: ops directly).
async fn request(app: &TestApp, slug: &str, name: &str) -> Result<i64, OpsError> {
    let actor = Actor {
        name: format!("client:{slug}:owner@example.com"),
        ip: Some("127.0.0.1".into()),
    };
    let requester = Requester {
        user_id: 7,
        label: "Owner <owner@example.com>".into(),
    };
    let input = RequestInput {
        name: name.into(),
        blueprint: Some("static-site".into()),
    };
    let row = app
        .ops()
        .request_instance(&actor, slug, requester, input)
        .await?;
    Ok(row.id)
}

async fn plan(app: &TestApp, name: &str, approval: &str, max: u32) {
    let body = json!({ "name": name, "cpus": 0.5, "memory": "64MiB", "max_instances": max,
                       "approval": approval, "blueprints": ["static-site"] });
    let (status, plan) = app.post("/api/v1/plans", body).await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    assert_eq!(plan["approval"], approval);
    assert_eq!(plan["blueprints"], json!(["static-site"]));
}

/// Waits until request `id` reads `status`; returns it.
async fn wait_request(app: &TestApp, id: i64, status: &str) -> Value {
    eventually(&format!("request {id} is {status}"), UP, || async {
        let (code, body) = app.get(&format!("/api/v1/requests/{id}")).await;
        assert_eq!(code, StatusCode::OK, "{body}");
        (body["status"] == status).then_some(body)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auto_approved_request_runs_and_a_lowered_plan_refuses_more() {
    let app = TestApp::spawn().await;
    plan(&app, "self-serve", "auto", 3).await;
    app.create_client("Auto Co", "self-serve").await;

    let id = request(&app, "auto-co", "shop").await.unwrap();
    let running = wait_request(&app, id, "running").await;
    assert_eq!(running["decided_by"], "auto:plan:self-serve");
    let instance = app.instance(running["instance_id"].as_i64().unwrap()).await;
    assert_eq!(instance["name"], "shop");
    app.wait_caddy("auto-co-shop.berth.test", 200, UP).await;

    let (status, _) = app
        .patch("/api/v1/plans/self-serve", json!({ "max_instances": 1 }))
        .await;
    assert_eq!(status, StatusCode::OK);
    match request(&app, "auto-co", "more").await {
        Err(OpsError::Refused(m)) => {
            assert!(
                m.contains("now allows 1") && m.contains("you have 2"),
                "{m}"
            );
        }
        other => panic!("a plan below usage refuses new requests: {other:?}"),
    }
    // What the client has keeps running.
    app.wait_caddy("auto-co-shop.berth.test", 200, UP).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn manual_requests_are_approved_and_rejected_through_the_api() {
    let app = TestApp::spawn().await;
    plan(&app, "reviewed", "manual", 5).await;
    app.create_client("Manual Co", "reviewed").await;
    let shop = request(&app, "manual-co", "shop").await.unwrap();
    let blog = request(&app, "manual-co", "blog").await.unwrap();

    let (status, waiting) = app
        .get("/api/v1/requests?status=requested&client=manual-co")
        .await;
    assert_eq!(status, StatusCode::OK, "{waiting}");
    let ids: Vec<i64> = waiting
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [blog, shop], "newest first");
    assert_eq!(
        waiting[0]["requested_by_label"],
        "Owner <owner@example.com>"
    );

    let (status, approved) = app
        .post(&format!("/api/v1/requests/{shop}/approve"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert!(approved["instance_id"].is_i64(), "{approved}");
    wait_request(&app, shop, "running").await;
    app.wait_caddy("manual-co-shop.berth.test", 200, UP).await;
    let (status, again) = app
        .post(&format!("/api/v1/requests/{shop}/approve"), json!({}))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");

    let reject = format!("/api/v1/requests/{blog}/reject");
    let (status, body) = app.post(&reject, json!({ "reason": " " })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"].as_str().unwrap().contains("reason"), "{body}");
    let (status, body) = app.post(&reject, json!({ "why": "no" })).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "unknown field: {body}"
    );
    let (status, rejected) = app
        .post(&reject, json!({ "reason": "blogs are on the next plan" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{rejected}");
    assert_eq!(rejected["status"], "rejected");
    assert_eq!(rejected["reason"], "blogs are on the next plan");

    let (status, body) = app.post("/api/v1/requests/99999/approve", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = app.get("/api/v1/requests?status=done").await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = app.get("/api/v1/requests?client=nobody").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let filter = berth::store::AuditFilter {
        client_slug: Some("manual-co".into()),
        limit: 100,
        ..Default::default()
    };
    let actions: Vec<String> = app
        .ops()
        .query_audit(filter)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for action in ["request.create", "request.approve", "request.reject"] {
        assert!(actions.iter().any(|a| a == action), "{action}: {actions:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_requests_answer_in_one_line() {
    let app = TestApp::spawn().await;
    plan(&app, "cli-plan", "manual", 5).await;
    app.create_client("Cli Co", "cli-plan").await;
    let id = request(&app, "cli-co", "extra").await.unwrap();
    let config = app.config.clone();
    let cli = move |args: Vec<String>| {
        let config = config.clone();
        async move {
            tokio::task::spawn_blocking(move || {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                berth_cli(&config, &args)
            })
            .await
            .unwrap()
        }
    };
    let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let one_line = |text: &str| {
        assert_eq!(text.trim_end().lines().count(), 1, "one line: {text:?}");
        text.trim_end().to_owned()
    };

    let (code, out, err) = cli(args(&["request", "list", "--status", "requested"])).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("cli-co") && out.contains("extra"), "{out}");
    let (code, _, err) = cli(args(&["request", "list", "--status", "soon"])).await;
    assert_eq!(code, 2);
    assert!(one_line(&err).contains("--status"), "{err}");
    let (code, _, err) = cli(args(&["request", "approve", "424242"])).await;
    assert_eq!(code, 1);
    assert!(one_line(&err).contains("not found"), "{err}");
    let (code, _, err) = cli(args(&[
        "request",
        "reject",
        &id.to_string(),
        "--reason",
        "",
    ]))
    .await;
    assert_eq!(code, 1);
    assert!(one_line(&err).contains("reason"), "{err}");
    let (code, _, err) = cli(args(&[
        "plan",
        "edit",
        "cli-plan",
        "--approval",
        "sometimes",
    ]))
    .await;
    assert_eq!(code, 2);
    assert!(one_line(&err).contains("auto, manual"), "{err}");

    let (code, out, err) = cli(args(&[
        "request",
        "reject",
        &id.to_string(),
        "--reason",
        "not now",
    ]))
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("rejected: not now"), "{out}");
    let (code, _, err) = cli(args(&["request", "approve", &id.to_string()])).await;
    assert_eq!(code, 1);
    assert!(one_line(&err).contains("already rejected"), "{err}");

    let (code, out, err) = cli(args(&[
        "plan",
        "edit",
        "cli-plan",
        "--approval",
        "auto",
        "--portal-restore",
    ]))
    .await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("auto approval"), "{out}");
    let (code, out, _) = cli(args(&["--json", "plan", "list"])).await;
    assert_eq!(code, 0);
    let plans: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(plans[0]["portal_restore"], true, "{plans}");
}
