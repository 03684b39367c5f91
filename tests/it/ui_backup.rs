//! Backups from the admin UI against a real berth (Docker, Caddy, files):
//! "Back up now" queues a real backup, the history lists it with its
//! sha256, its Download link serves the archive's bytes, and the
//! dashboard's count of instances without a recent backup drops.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use crate::harness::{eventually, unique, TestApp};
use crate::ui::UiSession;

const UP: Duration = Duration::from_secs(90);

fn missing_count(dashboard: &str) -> u64 {
    dashboard
        .split("id=\"backups-missing\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no backups-missing stat in {dashboard}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn back_up_now_lists_the_backup_and_downloads_its_bytes() {
    let app = TestApp::spawn().await;
    app.ops()
        .create_user(&berth::audit::Actor::cli(), "alice", "correct-horse-1")
        .await
        .unwrap();
    let ui = UiSession::sign_in(&app, "alice", "correct-horse-1").await;
    let plan = unique("plan");
    app.create_plan(&plan, 0.5, "64MiB").await;
    let client = app.create_client(&unique("Backed Up"), &plan).await;
    let slug = client["slug"].as_str().unwrap().to_owned();
    let id = client["instances"][0]["id"].as_i64().unwrap();
    app.wait_phase(id, &["running"], UP).await;

    let (status, dash) = ui.get("/").await;
    assert_eq!(status, StatusCode::OK, "{dash}");
    assert_eq!(missing_count(&dash), 1, "never backed up");
    let (status, page) = ui.get(&format!("/clients/{slug}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(page.contains(&format!("action=\"/instances/{id}/backups\"")));

    assert_eq!(
        ui.post(&format!("/instances/{id}/backups"), "back=client")
            .await,
        StatusCode::SEE_OTHER
    );
    let backup: Value = eventually("the UI's backup finishes", UP, || async {
        let (_, list) = app.get(&format!("/api/v1/instances/{id}/backups")).await;
        let b = list.as_array()?.first()?.clone();
        matches!(b["status"].as_str(), Some("ok" | "failed")).then_some(b)
    })
    .await;
    assert_eq!(backup["status"], "ok", "{backup}");
    assert_eq!(backup["trigger"], "ui", "{backup}");
    let bid = backup["id"].as_i64().unwrap();
    let sha = backup["sha256"].as_str().unwrap();

    let (status, history) = ui.get(&format!("/instances/{id}/backups")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        history.contains(&format!("data-sha256=\"{sha}\"")),
        "{history}"
    );
    assert!(history.contains(&sha[..12]));
    let link = format!("href=\"/backups/{bid}/download\"");
    assert!(history.contains(&link), "{history}");
    let (status, detail) = ui.get(&format!("/clients/{slug}")).await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert!(detail.contains(&link), "the client page lists it too");

    let res = ui
        .http
        .get(format!("{}/backups/{bid}/download", app.api))
        .header("cookie", &ui.cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = res.bytes().await.unwrap();
    let path = app
        .config
        .backup_dir()
        .join(backup["path"].as_str().unwrap());
    assert_eq!(bytes.as_ref(), std::fs::read(&path).unwrap().as_slice());

    let (status, dash) = ui.get("/").await;
    assert_eq!(status, StatusCode::OK, "{dash}");
    assert_eq!(missing_count(&dash), 0, "backed up just now");

    // Restores: a wrong confirmation or a bad clone name changes nothing.
    let (status, form) = ui.get(&format!("/backups/{bid}/restore")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        form.contains(&format!("Type {slug}/main to confirm")),
        "{form}"
    );
    let restore = format!("/backups/{bid}/restore");
    for (bad, field) in [
        ("mode=in_place&confirm=nope", "confirm"),
        ("mode=clone&instance=Not+A+Name", "instance"),
    ] {
        let res = ui
            .http
            .post(format!("{}{restore}", app.api))
            .header("cookie", &ui.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("_csrf={}&{bad}", crate::ui::csrf_of(&form)))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        let body = res.text().await.unwrap();
        let label = body.split(&format!("for=\"f-{field}\"")).nth(1).unwrap();
        assert!(label
            .split("</label>")
            .next()
            .unwrap()
            .contains("field-error"));
    }
    let (_, list) = app.get(&format!("/api/v1/clients/{slug}/instances")).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "no clone was made");
}
