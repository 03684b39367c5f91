//! The update check against a real registry on loopback: a newer image
//! pushed under the same tag is found (new ID + digest) and the instances
//! on the old one are reported without being touched; a tag the registry
//! does not have is a clear error; the check runs on its schedule; a
//! private registry's login reaches every pull.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{
    berth_cli, eventually, free_port, unique, Registry, TestApp, REGISTRY_PASSWORD, REGISTRY_USER,
};
use crate::ui::UiSession;

const UP: Duration = Duration::from_secs(90);

fn blueprint(image: &str) -> String {
    format!(
        "image = \"{image}\"\ninternal_port = 8080\ncommand = [\"/bin/httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\ndata_mount = \"/www\"\n\n[seed]\n\"index.html\" = \"app {{client}}\"\n"
    )
}

/// The check row for `image` in a report.
fn row<'a>(report: &'a Value, image: &str) -> &'a Value {
    report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["image"] == image)
        .unwrap_or_else(|| panic!("no check of {image} in {report}"))
}

async fn new_client(app: &TestApp, name: &str, blueprint: &str) -> i64 {
    let (status, client) = app
        .post(
            "/api/v1/clients",
            json!({ "name": name, "email": "a@b.example", "plan": "p", "blueprint": blueprint }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{client}");
    client["instances"][0]["id"].as_i64().unwrap()
}

async fn reconcile_passes(app: &TestApp) -> u64 {
    let (_, health) = app.get("/api/v1/health").await;
    health["reconcile"]["passes"].as_u64().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_image_under_the_same_tag_is_reported_and_nothing_is_recreated() {
    let registry = tokio::task::spawn_blocking(Registry::start).await.unwrap();
    let image = format!("{}/berth-upd:{}", registry.addr, unique("stable"));
    let v1 = registry.push_busybox(&image, &["ENV V=1"]);
    let app = TestApp::spawn_with(|c| {
        let dir = c.blueprint_dir.clone().unwrap();
        std::fs::write(dir.join("upd.toml"), blueprint(&image)).unwrap();
    })
    .await;
    app.guard.track_image(&image);
    app.guard.track_image(&v1);
    app.create_plan("p", 0.5, "64MiB").await;
    let ids = [
        new_client(&app, "Upd One", "upd").await,
        new_client(&app, "Upd Two", "upd").await,
    ];
    let mut containers = Vec::new();
    for id in ids {
        // Running, with the image ID and (the pushed v1 has one) its digest seen.
        let inst = eventually("instance runs v1 with its digest", UP, || async {
            let i = app.instance(id).await;
            (i["phase"] == "running"
                && i["image_id"] == v1.as_str()
                && i["image_digest"].is_string())
            .then_some(i)
        })
        .await;
        let digest = inst["image_digest"].as_str().unwrap();
        assert!(
            digest.starts_with(&format!("{}/berth-upd@sha256:", registry.addr)),
            "{digest}"
        );
        containers.push(inst["container_id"].as_str().unwrap().to_owned());
    }

    // v2 under the same tag, pushed and not kept locally: only a pull finds it.
    let v2 = registry.push_busybox(&image, &["ENV V=2"]);
    assert_ne!(v1, v2);
    app.guard.track_image(&v2);

    let started = std::time::Instant::now();
    let (status, report) = app
        .post("/api/v1/updates/check", json!({ "blueprint": "upd" }))
        .await;
    println!(
        "update check (one tag, a new 1 MiB image on a loopback registry): {} ms",
        started.elapsed().as_millis()
    );
    assert_eq!(status, StatusCode::OK, "{report}");
    let check = row(&report, &image);
    assert_eq!(check["image_id"], v2.as_str(), "{report}");
    assert!(check["error"].is_null(), "{report}");
    let digest = check["digest"].as_str().unwrap();
    assert!(
        digest.starts_with(&format!("{}/berth-upd@sha256:", registry.addr)),
        "{digest}"
    );
    let mut behind: Vec<i64> = check["outdated"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            assert_eq!(o["image_id"], v1.as_str(), "{o}");
            assert_eq!(o["available_id"], v2.as_str(), "{o}");
            assert_eq!(o["available_digest"], digest, "{o}");
            o["instance_id"].as_i64().unwrap()
        })
        .collect();
    behind.sort();
    assert_eq!(behind, ids.to_vec(), "{report}");

    // The stored result, without a pull.
    let (status, last) = app.get("/api/v1/updates").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(row(&last, &image), check, "{last}");

    // A check moves nothing: after two more reconcile passes both still run
    // v1 in the same containers.
    let after = reconcile_passes(&app).await + 2;
    eventually("two reconcile passes", UP, || async {
        (reconcile_passes(&app).await >= after).then_some(())
    })
    .await;
    for (id, container) in ids.iter().zip(&containers) {
        let inst = app.instance(*id).await;
        assert_eq!(inst["container_id"], container.as_str(), "{inst}");
        assert_eq!(inst["image_id"], v1.as_str(), "{inst}");
    }

    // The admin page shows the same, and its button runs a check.
    app.ops()
        .create_user(&berth::audit::Actor::cli(), "upd-admin", "correct-horse-1")
        .await
        .unwrap();
    let ui = UiSession::sign_in(&app, "upd-admin", "correct-horse-1").await;
    let (status, page) = ui.get("/updates").await;
    assert_eq!(status, StatusCode::OK, "{page}");
    for id in ids {
        assert!(page.contains(&format!("data-outdated=\"{id}\"")), "{page}");
    }
    assert!(
        page.contains(&digest[digest.len() - 12..]),
        "the digest is shown"
    );
    assert_eq!(
        ui.post("/updates/check", "blueprint=upd&tag=").await,
        StatusCode::SEE_OTHER
    );
    let (_, page) = ui.get("/updates").await;
    assert!(page.contains("2 instance(s) run an older image"), "{page}");

    // A tag the registry lacks is that check's error; bad input is a 422.
    let (status, bad) = app
        .post(
            "/api/v1/updates/check",
            json!({ "blueprint": "upd", "tag": "no-such-tag" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{bad}");
    let missing = image.rsplit_once(':').unwrap().0.to_owned() + ":no-such-tag";
    let error = row(&bad, &missing)["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        error.contains("no-such-tag") && error.contains("not found"),
        "{error}"
    );
    // The CLI: a table or JSON, and exit 1 with one line when a pull fails.
    let config = app.config.clone();
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        berth_cli(
            &config,
            &["update", "check", "--blueprint", "upd", "--json"],
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{err}");
    let cli: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        row(&cli, &image)["outdated"].as_array().unwrap().len(),
        2,
        "{cli}"
    );
    let config = app.config.clone();
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        berth_cli(
            &config,
            &[
                "update",
                "check",
                "--blueprint",
                "upd",
                "--tag",
                "no-such-tag",
            ],
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(
        err.contains("1 of 1 images could not be checked") && err.contains("no-such-tag"),
        "{err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        out.contains("BLUEPRINT") && out.contains("no-such-tag"),
        "{out}"
    );
    let (status, body) = app
        .post("/api/v1/updates/check", json!({ "tag": "bad tag!" }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = app
        .post("/api/v1/updates/check", json!({ "blueprint": "nope" }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body.to_string().contains("not installed"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_runs_on_its_schedule_and_a_dead_registry_is_an_error_row() {
    let registry = tokio::task::spawn_blocking(Registry::start).await.unwrap();
    let image = format!("{}/berth-sched:{}", registry.addr, unique("t"));
    let id = registry.push_busybox(&image, &["ENV V=1"]);
    let ghost = format!("127.0.0.1:{}/gone:1", free_port());
    let (hook, received) = crate::scheduler::webhook_receiver().await;
    let app = TestApp::spawn_with(|c| {
        c.backup.failure_webhook = Some(hook);
        let dir = c.blueprint_dir.clone().unwrap();
        // Never the real Open WebUI image from a test.
        std::fs::remove_file(dir.join("open-webui.toml")).unwrap();
        std::fs::write(dir.join("sched.toml"), blueprint(&image)).unwrap();
        std::fs::write(dir.join("ghost.toml"), blueprint(&ghost)).unwrap();
        c.backup.schedule = String::new();
        c.backup.verify_schedule = String::new();
        c.backup.schedule_tick = Duration::from_secs(1);
        c.updates.check_schedule = "*/2 * * * * *".into();
    })
    .await;
    app.guard.track_image(&image);
    let report = eventually("a scheduled check of both blueprints", UP, || async {
        let (_, r) = app.get("/api/v1/updates").await;
        let n = r["checks"].as_array().map_or(0, Vec::len);
        (n == 2).then_some(r)
    })
    .await;
    assert_eq!(row(&report, &image)["image_id"], id.as_str(), "{report}");
    let error = row(&report, &ghost)["error"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(error.contains("gone"), "{error}");
    let event = eventually("the update_check_failed webhook", UP, || async {
        let got = received.lock().unwrap().clone();
        got.into_iter()
            .find(|e| e["event"] == "update_check_failed")
    })
    .await;
    assert_eq!(event["image"], ghost.as_str(), "{event}");
    assert_eq!(event["blueprint"], "ghost", "{event}");
    let audit = app
        .ops()
        .query_audit(berth::store::AuditFilter {
            action: Some("updates.check".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert!(audit.iter().any(|e| e.actor == "system"), "{audit:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_private_registrys_login_reaches_every_pull() {
    let registry = tokio::task::spawn_blocking(Registry::start_with_auth)
        .await
        .unwrap();
    let image = format!("{}/berth-private:{}", registry.addr, unique("t"));
    let id = registry.push_busybox(&image, &["ENV V=1"]);

    // The engine on its own is refused.
    let bare = berth::docker::Docker::connect(std::path::Path::new("/var/run/docker.sock"), "x")
        .await
        .unwrap();
    let refused = bare.pull(&image, |_| {}).await.unwrap_err().to_string();
    assert!(
        refused.contains("no basic auth credentials") || refused.contains("unauthorized"),
        "{refused}"
    );

    let host = registry.addr.clone();
    let app = TestApp::spawn_with(|c| {
        let dir = c.blueprint_dir.clone().unwrap();
        std::fs::write(dir.join("private.toml"), blueprint(&image)).unwrap();
        c.registries = vec![berth::config::RegistryConfig {
            host,
            username: REGISTRY_USER.into(),
            password_file: None,
            password_env: Some("BERTH_TEST_UNUSED".into()),
            password: Some(berth::config::RegistryPassword::new(REGISTRY_PASSWORD)),
        }];
    })
    .await;
    app.guard.track_image(&image);
    assert!(
        !format!("{:?}", app.config).contains(REGISTRY_PASSWORD),
        "the password is masked"
    );
    app.create_plan("p", 0.5, "64MiB").await;
    // The reconciler's pull.
    let inst = new_client(&app, "Private", "private").await;
    let seen = app.wait_phase(inst, &["running"], UP).await;
    assert_eq!(seen["image_id"], id.as_str(), "{seen}");
    // The check's pull.
    let (status, report) = app
        .post("/api/v1/updates/check", json!({ "blueprint": "private" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    let check = row(&report, &image);
    assert!(check["error"].is_null(), "{report}");
    assert_eq!(check["image_id"], id.as_str(), "{report}");
}
