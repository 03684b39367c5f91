//! Rollouts from the admin UI in a browser, against a real registry on
//! loopback, the real engine and Caddy: the form starts a rollout of two
//! instances, its page follows it to the end by itself, and the client's
//! page then offers "Roll back to <the previous image>", which (confirmed)
//! runs as a rollback the same page follows.

use std::time::Duration;

use fantoccini::Locator;
use serde_json::json;

use crate::harness::{eventually, Registry, TestApp};
use crate::rollouts::{blueprint, pushed};
use crate::ui::{fill, submit, text, Driver};

const UP: Duration = Duration::from_secs(90);
const ROLLOUT: Duration = Duration::from_secs(240);

/// Reads the page again until its rollout's status badge says `want`: the
/// page reloads itself (a Refresh header), so the text changes by itself.
async fn wait_status(b: &fantoccini::Client, want: &str) {
    eventually(
        &format!("the rollout page says {want}"),
        ROLLOUT,
        || async {
            let t = text(b, "[data-rollout-status]").await;
            assert_ne!(t, "failed", "{}", b.source().await.unwrap_or_default());
            (t == want).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_starts_a_rollout_watches_it_finish_and_rolls_one_back() {
    let registry = tokio::task::spawn_blocking(Registry::start).await.unwrap();
    let (v, _registry) = pushed(registry).await;
    let app = TestApp::spawn_with(|c| {
        c.updates.health_timeout = Duration::from_secs(60);
        let dir = c.blueprint_dir.clone().unwrap();
        std::fs::write(dir.join("rollapp.toml"), blueprint(&v.image("v1"))).unwrap();
    })
    .await;
    for tag in ["v1", "v2"] {
        app.guard.track_image(&v.image(tag));
    }
    app.ops()
        .create_user(&berth::audit::Actor::cli(), "admin", "correct-horse-1")
        .await
        .unwrap();
    app.create_plan("p", 0.2, "32MiB").await;
    let mut ids = Vec::new();
    let mut slugs = Vec::new();
    for name in [
        crate::harness::unique("UI Roll A"),
        crate::harness::unique("UI Roll B"),
    ] {
        let (status, c) = app
            .post("/api/v1/clients", json!({ "name": name, "email": "a@b.example", "plan": "p", "blueprint": "rollapp" }))
            .await;
        assert_eq!(status, reqwest::StatusCode::CREATED, "{c}");
        ids.push(c["instances"][0]["id"].as_i64().unwrap());
        slugs.push(c["slug"].as_str().unwrap().to_owned());
    }
    for id in &ids {
        app.wait_phase(*id, &["running"], UP).await;
    }

    let base = app.api.clone();
    let driver = Driver::start().await;
    let b = driver.browser().await;
    b.goto(&format!("{base}/login")).await.unwrap();
    fill(&b, "name", "admin").await;
    fill(&b, "password", "correct-horse-1").await;
    submit(&b, "/login").await;
    eventually("signed in", UP, || async {
        (text(&b, "h1").await == "Dashboard").then_some(())
    })
    .await;

    // The form lists the blueprint's instances, all checked; start it.
    b.goto(&format!("{base}/rollouts/new?blueprint=rollapp&tag=v2"))
        .await
        .unwrap();
    for id in &ids {
        let boxed = b
            .find(Locator::Css(&format!(
                "input[name='instance'][value='{id}']"
            )))
            .await
            .unwrap();
        assert!(boxed.is_selected().await.unwrap(), "instance {id} checked");
    }
    fill(&b, "waves", "1,all").await;
    submit(&b, "/rollouts").await;
    eventually("the rollout's page", UP, || async {
        let path = b.current_url().await.ok()?.path().to_owned();
        let id: i64 = path.strip_prefix("/rollouts/")?.parse().ok()?;
        Some(id)
    })
    .await;
    assert!(text(&b, ".flash-ok").await.contains("started"));
    wait_status(&b, "done").await;
    let steps = b.find_all(Locator::Css("[data-step]")).await.unwrap();
    assert_eq!(steps.len(), 2, "one step per instance");
    for s in steps {
        assert_eq!(s.text().await.unwrap(), "updated");
    }
    let waves = b.find_all(Locator::Css("h2")).await.unwrap();
    assert_eq!(waves.len(), 2, "a canary wave, then the rest");
    let page = b.source().await.unwrap();
    assert!(
        page.contains(&format!("href=\"/instances/{}/backups\"", ids[0])),
        "backup link"
    );

    // The client's page offers the way back to v1, behind a confirmation.
    b.goto(&format!("{base}/clients/{}", slugs[0]))
        .await
        .unwrap();
    let link = eventually("a rollback link", UP, || async {
        let t = text(&b, "[data-rollback]").await;
        (!t.is_empty()).then_some(t)
    })
    .await;
    assert_eq!(link, format!("Roll back to {}…", v.image("v1")));
    b.find(Locator::Css("[data-rollback]"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    submit(&b, &format!("/instances/{}/rollback", ids[0])).await;
    eventually("the rollback's page", UP, || async {
        let h = text(&b, "h1").await;
        h.starts_with("Rollback #").then_some(())
    })
    .await;
    wait_status(&b, "done").await;
    assert_eq!(text(&b, "[data-step]").await, "rolled back");
    let i = app.instance(ids[0]).await;
    assert_eq!(i["desired_image_id"], v.id("v1"), "{i}");
    let other = app.instance(ids[1]).await;
    assert_eq!(
        other["desired_image_id"],
        v.id("v2"),
        "the other stays: {other}"
    );

    // Rolled back already: the client's page offers nothing more.
    b.goto(&format!("{base}/clients/{}", slugs[0]))
        .await
        .unwrap();
    eventually("the page without a rollback link", UP, || async {
        let page = b.source().await.ok()?;
        (page.contains("data-instance") && !page.contains("data-rollback")).then_some(())
    })
    .await;
}
