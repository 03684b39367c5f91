//! Requests the operations layer refuses: a tenant domain that would shadow
//! one of berth's own `[[caddy.routes]]` (422), and a second in-place restore
//! of an instance while one is in progress (409).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use berth::config::StaticRoute;
use berth::domain::RestoreMode;
use berth::store::backup_jobs;

use crate::harness::{eventually, skip_docker, TestApp};

const UP: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tenant_domain_cannot_take_a_static_route_host() {
    if skip_docker() {
        return;
    }
    let app = TestApp::spawn_with(|c| {
        c.caddy.routes = vec![
            StaticRoute {
                host: "admin.berth.test".into(),
                upstream: None,
                respond: Some("the admin ui\n".into()),
                status: 200,
            },
            StaticRoute {
                host: "*.internal.berth.test".into(),
                upstream: None,
                respond: Some("internal\n".into()),
                status: 200,
            },
        ]
    })
    .await;
    app.create_plan("p", 0.5, "64MiB").await;
    let refused = |body: &Value, domain: &str| {
        let e = body["error"].as_str().unwrap_or_default();
        assert!(
            e.contains(&format!("domain {domain} is reserved")),
            "{body}"
        );
    };

    let (status, body) = app
        .post("/api/v1/clients", json!({ "name": "Shadow", "email": "ops@example.com", "plan": "p", "blueprint": "static-site", "domain": "Admin.Berth.test." }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    refused(&body, "admin.berth.test");
    assert_eq!(
        app.get("/api/v1/clients/shadow").await.0,
        StatusCode::NOT_FOUND
    );

    let client = app.create_client("Shadow", "p").await;
    let id = client["instances"][0]["id"].as_i64().unwrap();
    let (status, body) = app
        .patch(
            &format!("/api/v1/instances/{id}"),
            json!({ "domains": ["shadow.berth.test", "admin.berth.test"] }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    refused(&body, "admin.berth.test");
    let (status, body) = app
        .post(
            "/api/v1/clients/shadow/instances",
            json!({ "name": "two", "blueprint": "static-site", "domain": "a.internal.berth.test" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    refused(&body, "a.internal.berth.test");

    assert_eq!(
        app.instance(id).await["domains"],
        json!(["shadow.berth.test"])
    );
    app.wait_caddy("shadow.berth.test", 200, UP).await;
    assert_eq!(
        app.wait_caddy("admin.berth.test", 200, UP).await,
        "the admin ui\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_in_place_restore_of_one_instance_is_a_conflict() {
    if skip_docker() {
        return;
    }
    let app = TestApp::spawn().await;
    app.create_plan("p", 0.5, "64MiB").await;
    let client = app.create_client("Twice", "p").await;
    let id = client["instances"][0]["id"].as_i64().unwrap();
    app.wait_phase(id, &["running"], UP).await;
    let (status, backup) = app
        .post(&format!("/api/v1/instances/{id}/backups"), json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{backup}");
    let backup_id = backup["id"].as_i64().unwrap();
    let backup = eventually("the backup finishes", UP, || async {
        let (_, b) = app.get(&format!("/api/v1/backups/{backup_id}")).await;
        matches!(b["status"].as_str(), Some("ok" | "failed")).then_some(b)
    })
    .await;
    assert_eq!(backup["status"], "ok", "{backup}");

    // A restore in progress: claimed by a live process (this one), so no
    // runner takes it over while the test asks for another.
    let busy = app
        .store()
        .call(move |conn| {
            let r = backup_jobs::enqueue_restore(conn, backup_id, id, RestoreMode::InPlace)?;
            backup_jobs::claim_restore(conn, r, std::process::id())?;
            Ok(r)
        })
        .await
        .unwrap();
    let restore = format!("/api/v1/backups/{backup_id}/restore");
    let (status, body) = app.post(&restore, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains(&format!("restore {busy} in progress")),
        "{body}"
    );
    // A clone restore reads the backup only: it may run meanwhile.
    let (status, body) = app.post(&restore, json!({ "into": "copy" })).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");

    app.store()
        .call(move |conn| backup_jobs::finish_restore(conn, busy, false, "test"))
        .await
        .unwrap();
    let (status, body) = app.post(&restore, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let job = body["id"].as_i64().unwrap();
    let done = eventually("the restore finishes", Duration::from_secs(150), || async {
        let (_, b) = app.get(&format!("/api/v1/restores/{job}")).await;
        matches!(b["status"].as_str(), Some("ok" | "failed")).then_some(b)
    })
    .await;
    assert_eq!(done["status"], "ok", "{done}");
}
