//! The client portal in a real headless Chromium against a real berth
//! (Docker, Caddy): the provider invites from the admin UI, the client user
//! sets a password from the link, sees only their client, restarts their
//! instance, requests a second one that the provider approves and sees it
//! running; a user of another client sees none of it; suspending the client
//! signs its user out at once.

use std::time::Duration;

use fantoccini::{Client, Locator};
use reqwest::StatusCode;
use serde_json::json;

use super::ui::{fill, submit, text, wait_text, Driver};
use crate::harness::{eventually, skip_docker, unique, TestApp};

const UP: Duration = Duration::from_secs(90);
const PASSWORD: &str = "portal-pass-1";

/// The path of the page the browser shows.
async fn path(b: &Client) -> String {
    b.current_url().await.unwrap().path().to_owned()
}

/// Opens an invitation link and sets the password; lands on the portal.
async fn accept(b: &Client, link: &str) {
    b.goto(link).await.unwrap();
    fill(b, "password", PASSWORD).await;
    fill(b, "confirm", PASSWORD).await;
    let action = format!("/portal/invite/{}", link.rsplit('/').next().unwrap());
    submit(b, &action).await;
    eventually("the portal home after the invitation", UP, || async {
        (path(b).await == "/portal").then_some(())
    })
    .await;
}

/// Reloads `url` until the badge of instance `id` reads `phase`.
async fn wait_phase_shown(b: &Client, url: &str, id: i64, phase: &str) {
    eventually(&format!("instance {id} shown {phase}"), UP, || async {
        b.goto(url).await.ok()?;
        let t = text(b, &format!("[data-instance='{id}'] .badge")).await;
        (t == phase).then_some(())
    })
    .await;
}

async fn body(b: &Client) -> String {
    b.source().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_user_helps_themselves_and_sees_nothing_else() {
    if skip_docker() {
        return;
    }
    let app = TestApp::spawn().await;
    app.ops()
        .create_user(&berth::audit::Actor::cli(), "admin", "correct-horse-1")
        .await
        .unwrap();
    app.create_plan("p", 0.5, "64MiB").await;
    let (name_a, name_b) = (unique("Alpha Portal"), unique("Beta Portal"));
    let a = app.create_client(&name_a, "p").await;
    let b_client = app.create_client(&name_b, "p").await;
    let slug_a = a["slug"].as_str().unwrap().to_owned();
    let slug_b = b_client["slug"].as_str().unwrap().to_owned();
    let main_a = a["instances"][0]["id"].as_i64().unwrap();
    let base = app.api.clone();
    let driver = Driver::start().await;

    // The provider invites from the client's admin page and reads the link.
    let b = driver.browser().await;
    b.goto(&format!("{base}/login")).await.unwrap();
    fill(&b, "name", "admin").await;
    fill(&b, "password", "correct-horse-1").await;
    submit(&b, "/login").await;
    wait_text(&b, "h1", &["Dashboard"]).await;
    b.goto(&format!("{base}/clients/{slug_a}")).await.unwrap();
    fill(&b, "email", "ann@alpha.example").await;
    // An owner: only owners may request instances.
    b.find(Locator::Css("select[name='role']"))
        .await
        .unwrap()
        .select_by_value("owner")
        .await
        .unwrap();
    submit(&b, &format!("/clients/{slug_a}/users")).await;
    let link = eventually("the one-time link", UP, || async {
        let t = text(&b, "code.one-time-link").await;
        t.contains("/portal/invite/").then_some(t)
    })
    .await;
    // The link names the configured public URL; the browser uses the test's address.
    let link = format!("{base}/portal/invite/{}", link.rsplit('/').next().unwrap());

    // The client user sets a password and sees their own client only.
    accept(&b, &link).await;
    wait_text(&b, "h1", &[&format!("Instances of {name_a}")]).await;
    assert!(!body(&b).await.contains(&name_b));
    wait_phase_shown(&b, &format!("{base}/portal"), main_a, "running").await;

    // Restart from the instance page; audited as the user, with the address.
    b.goto(&format!("{base}/portal/instances/main"))
        .await
        .unwrap();
    wait_text(&b, "h1", &["Instance main"]).await;
    submit(&b, "/portal/instances/main/restart").await;
    eventually("the restart flash", UP, || async {
        text(&b, ".flash-ok")
            .await
            .contains("restarting")
            .then_some(())
    })
    .await;
    let actor = format!("client:{slug_a}:ann@alpha.example");
    eventually("the restart in the activity page", UP, || async {
        b.goto(&format!("{base}/portal/activity")).await.ok()?;
        let page = body(&b).await;
        (page.contains("instance.restart")
            && page.contains("ann@alpha.example")
            && page.contains("127.0.0.1"))
        .then_some(())
    })
    .await;
    let entries = app
        .ops()
        .query_audit(berth::store::AuditFilter {
            action: Some("instance.restart".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(
        (entries[0].actor.as_str(), entries[0].ip.as_deref()),
        (actor.as_str(), Some("127.0.0.1"))
    );
    // The logs are on the instance page, without host paths.
    b.goto(&format!("{base}/portal/instances/main"))
        .await
        .unwrap();
    let data_dir = app.config.data_dir.to_string_lossy().into_owned();
    assert!(!body(&b).await.contains(&data_dir));

    // The owner requests a second instance; the provider approves it on the
    // admin requests page; the user sees it running.
    b.goto(&format!("{base}/portal/requests")).await.unwrap();
    fill(&b, "name", "second").await;
    b.find(Locator::Css("select[name='blueprint']"))
        .await
        .unwrap()
        .select_by_value("static-site")
        .await
        .unwrap();
    submit(&b, "/portal/requests").await;
    let request = eventually("the request reaches the provider", UP, || async {
        let (_, list) = app.get("/api/v1/requests").await;
        list.as_array()?
            .iter()
            .find(|r| r["instance_name"] == "second")
            .and_then(|r| r["id"].as_i64())
    })
    .await;
    b.goto(&format!("{base}/requests")).await.unwrap();
    submit(&b, &format!("/requests/{request}/approve")).await;
    let second_id = eventually("the approved instance exists", UP, || async {
        let list = app.ops().list_instances(Some(&slug_a)).await.ok()?;
        list.iter().find(|i| i.name == "second").map(|i| i.id)
    })
    .await;
    wait_phase_shown(&b, &format!("{base}/portal"), second_id, "running").await;
    for page in ["/portal/usage", "/portal/backups", "/portal/activity"] {
        b.goto(&format!("{base}{page}")).await.unwrap();
        assert!(!body(&b).await.contains(&name_b), "{page}");
    }

    // A user of another client sees none of it, and A's things are "not found".
    let b2 = driver.browser().await;
    let (status, inv) = app
        .post(
            &format!("/api/v1/clients/{slug_b}/users"),
            json!({ "email": "bo@beta.example", "role": "owner" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{inv}");
    let link_b = format!(
        "{base}/portal/invite/{}",
        inv["link"].as_str().unwrap().rsplit('/').next().unwrap()
    );
    accept(&b2, &link_b).await;
    wait_text(&b2, "h1", &[&format!("Instances of {name_b}")]).await;
    for page in [
        "/portal",
        "/portal/usage",
        "/portal/backups",
        "/portal/activity",
        "/portal/instances/second",
    ] {
        b2.goto(&format!("{base}{page}")).await.unwrap();
        let html = body(&b2).await;
        assert!(
            !html.contains(&name_a) && !html.contains(&slug_a),
            "{page}: {html}"
        );
    }
    assert!(body(&b2).await.contains("instance second not found"));

    // Suspending A ends its user's session at once; B's user stays in.
    let (status, _) = app
        .post(&format!("/api/v1/clients/{slug_a}/suspend"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    b.goto(&format!("{base}/portal")).await.unwrap();
    assert_eq!(path(&b).await, "/portal/login");
    b2.goto(&format!("{base}/portal")).await.unwrap();
    assert_eq!(path(&b2).await, "/portal");

    b.close().await.unwrap();
    b2.close().await.unwrap();
}
