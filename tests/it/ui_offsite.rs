//! Restores from offsite in a browser, against a real berth (Docker, Caddy)
//! and a REST restic target (`rclone serve restic`): an instance's
//! snapshots page lists its copy; "Restore…" as a new instance makes a
//! clone that answers through Caddy with the copied data; "Restore…" in
//! place (typing the instance's name) brings changed data back. The status
//! page follows each restore until it is done.

use std::time::Duration;

use fantoccini::{Client, Locator};

use crate::harness::{copy_now, eventually, unique, RestServer, TestApp};
use crate::ui::{fill, text, Driver};

const UP: Duration = Duration::from_secs(120);

/// Opens the instance's offsite page and follows its only snapshot's "Restore…".
async fn open_restore(b: &Client, base: &str, instance: i64) -> String {
    b.goto(&format!("{base}/instances/{instance}/offsite"))
        .await
        .unwrap();
    let link = b
        .find(Locator::Css("[data-snapshot] a"))
        .await
        .expect("a snapshot row with Restore…");
    assert_eq!(link.text().await.unwrap(), "Restore…");
    let href = link.attr("href").await.unwrap().unwrap();
    link.click().await.unwrap();
    eventually("the confirmation", UP, || async {
        (text(b, "h1").await.starts_with("Restore from")).then_some(())
    })
    .await;
    href
}

/// Waits on the status page (it reloads itself) until the restore is done.
async fn follow_to_done(b: &Client) -> i64 {
    let id = eventually("the restore's status page", UP, || async {
        let path = b.current_url().await.ok()?.path().to_owned();
        path.strip_prefix("/offsite-restores/")?.parse::<i64>().ok()
    })
    .await;
    let stage = eventually("the restore finishes", UP, || async {
        let s = text(b, "[data-stage]").await;
        matches!(s.as_str(), "done" | "failed").then_some(s)
    })
    .await;
    assert_eq!(stage, "done", "{}", text(b, "[data-detail]").await);
    id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_restores_an_offsite_snapshot_as_a_clone_and_in_place() {
    let rest = tokio::task::spawn_blocking(RestServer::start)
        .await
        .unwrap();
    let target = unique("uirest");
    let t = rest.target(&target);
    // A second target nothing answers on: its section says so, the page works.
    let mut gone = rest.target(&unique("gone"));
    gone.repository = format!("rest:http://127.0.0.1:{}/", crate::harness::free_port());
    let gone_name = gone.name.clone();
    let app = TestApp::with_offsite(vec![t, gone]).await;
    let actor = berth::audit::Actor::cli();
    app.ops().offsite_init(&actor, &target).await.unwrap();
    app.ops()
        .create_user(&actor, "admin", "correct-horse-1")
        .await
        .unwrap();
    app.create_plan("p", 0.5, "64MiB").await;
    let client = app.create_client(&unique("UI Offsite"), "p").await;
    let slug = client["slug"].as_str().unwrap().to_owned();
    let id = client["instances"][0]["id"].as_i64().unwrap();
    let domain = client["instances"][0]["domains"][0]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_phase(id, &["running"], UP).await;
    let data = app.config.instance_data_dir(&slug, "main");
    std::fs::write(data.join("index.html"), "kept offsite").unwrap();
    app.backup_ok(id).await;
    copy_now(&app, &target, id).await;

    let base = app.api.clone();
    let driver = Driver::start().await;
    let b = driver.browser().await;
    b.goto(&format!("{base}/login")).await.unwrap();
    fill(&b, "name", "admin").await;
    fill(&b, "password", "correct-horse-1").await;
    crate::ui::submit(&b, "/login").await;
    eventually("signed in", UP, || async {
        (text(&b, "h1").await == "Dashboard").then_some(())
    })
    .await;
    // The dashboard's offsite panel links to the target's page.
    let page = b.source().await.unwrap();
    assert!(
        page.contains(&format!("href=\"/offsite/{target}\"")),
        "{page}"
    );
    // The backups history links to the offsite snapshots.
    b.goto(&format!("{base}/instances/{id}/backups"))
        .await
        .unwrap();
    b.find(Locator::LinkText("Offsite snapshots"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    eventually("the offsite snapshots page", UP, || async {
        (text(&b, "h1").await == format!("Offsite snapshots of {slug}/main")).then_some(())
    })
    .await;
    let rows = b.find_all(Locator::Css("[data-snapshot]")).await.unwrap();
    assert_eq!(rows.len(), 1, "one copy, one snapshot");
    let error = text(&b, &format!("[data-target-error='{gone_name}']")).await;
    assert!(error.contains("Cannot list the snapshots"), "{error:?}");

    // As a new instance: the clone starts with the copied data.
    let action = open_restore(&b, &base, id).await;
    fill(&b, "instance", "revived").await;
    b.find(Locator::Css(&format!(
        "form[action='{action}'] button[type='submit']:not(.danger)"
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    follow_to_done(&b).await;
    let (_, list) = app.get(&format!("/api/v1/clients/{slug}/instances")).await;
    let clone = list
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "revived")
        .unwrap_or_else(|| panic!("no clone in {list}"))
        .clone();
    let clone_domain = clone["domains"][0].as_str().unwrap().to_owned();
    app.wait_phase(clone["id"].as_i64().unwrap(), &["running"], UP)
        .await;
    let body = app.wait_caddy(&clone_domain, 200, UP).await;
    assert_eq!(body, "kept offsite", "the clone serves the copied data");

    // In place: changed data comes back; a wrong confirmation changes nothing.
    std::fs::write(data.join("index.html"), "defaced").unwrap();
    let action = open_restore(&b, &base, id).await;
    fill(&b, "confirm", "not-it").await;
    crate::ui::submit(&b, &action).await;
    eventually("a field error beside confirm", UP, || async {
        let e = text(&b, "label[for='f-confirm'] .field-error").await;
        (!e.is_empty()).then_some(e)
    })
    .await;
    fill(&b, "confirm", &format!("{slug}/main")).await;
    crate::ui::submit(&b, &action).await;
    let rid = follow_to_done(&b).await;
    eventually("the site serves the restored page", UP, || async {
        let (status, body) = app.through_caddy(&domain, "/")?;
        (status == 200 && body == "kept offsite").then_some(())
    })
    .await;

    // The target's page lists the restores.
    b.goto(&format!("{base}/offsite/{target}")).await.unwrap();
    let page = b.source().await.unwrap();
    assert!(
        page.contains(&format!("href=\"/offsite-restores/{rid}\"")),
        "{page}"
    );
}
