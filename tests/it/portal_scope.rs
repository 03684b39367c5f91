//! The portal's operations against a real berth (Docker, Caddy): a client
//! user sees and changes only its own client, another client's
//! instance or backup answers exactly like a missing one, everything they
//! do is audited as them, and logs come back clean.

use std::time::Duration;

use berth::audit::Actor;
use berth::domain::{ClientRole, LinkKind};
use berth::metrics::Range;
use berth::ops::{InstanceAction, NewClientUserInput, OpsError};
use berth::store::PortalIdentity;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{eventually, skip_docker, unique, TestApp};

const UP: Duration = Duration::from_secs(90);

/// A client user of `client` with a password, as their session knows them.
async fn user_of(app: &TestApp, client: &Value, email: &str) -> PortalIdentity {
    let ops = app.ops();
    let input = NewClientUserInput {
        email: email.into(),
        name: String::new(),
        role: Some(ClientRole::Owner),
    };
    let slug = client["slug"].as_str().unwrap();
    let invitation = ops
        .add_client_user(&Actor::cli(), slug, input)
        .await
        .unwrap();
    let token = invitation.link.rsplit('/').next().unwrap();
    let id = ops
        .use_portal_link(LinkKind::Invite, token, "correct-horse-1", "127.0.0.1")
        .await
        .unwrap();
    ops.portal_identity(id)
        .await
        .unwrap()
        .expect("a signed-up user")
}

fn not_found(e: OpsError) -> String {
    match e {
        OpsError::NotFound(m) => m,
        other => panic!("expected not found, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_user_sees_and_changes_only_their_own_client() {
    if skip_docker() {
        return;
    }
    let app = TestApp::spawn().await;
    app.create_plan("p", 0.5, "64MiB").await;
    let a = app.create_client(&unique("Portal A"), "p").await;
    let b = app.create_client(&unique("Portal B"), "p").await;
    let sa = user_of(&app, &a, "ann@a.test").await;
    let sb = user_of(&app, &b, "bob@b.test").await;
    let a_main = a["instances"][0]["id"].as_i64().unwrap();
    let (status, extra) = app
        .post(
            &format!("/api/v1/clients/{}/instances", sb.client_slug),
            json!({ "name": "extra", "blueprint": "static-site" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{extra}");
    let ops = app.ops();

    let home = ops.portal_home(&sa).await.unwrap();
    assert_eq!(home.instances.len(), 1);
    assert_eq!(home.instances[0].id, a_main);
    assert_eq!(home.plan.name, "p");
    assert_eq!(ops.portal_home(&sb).await.unwrap().instances.len(), 2);
    let json = serde_json::to_string(&home).unwrap();
    assert!(
        !json.contains("host_port") && !json.contains("env"),
        "{json}"
    );

    // B's second instance, from A's scope, reads exactly like a name no one has.
    let theirs = not_found(ops.portal_instance(&sa, "extra").await.unwrap_err());
    let nobodys = not_found(ops.portal_instance(&sa, "nothing").await.unwrap_err());
    assert_eq!(
        theirs.replace("extra", "X"),
        nobodys.replace("nothing", "X")
    );
    let ann = Actor::client_user(&sa.email, &sa.client_slug, Some("192.0.2.7".into()));
    let refused = ops
        .portal_action(&ann, &sa, "extra", InstanceAction::Stop)
        .await
        .unwrap_err();
    not_found(refused);
    // An identity whose slug names another client is no identity at all.
    let forged = PortalIdentity {
        client_slug: sb.client_slug.clone(),
        ..sa.clone()
    };
    not_found(ops.portal_home(&forged).await.unwrap_err());
    assert!(
        ops.list_instances(Some(&sb.client_slug))
            .await
            .unwrap()
            .iter()
            .all(|i| i.desired.is_live()),
        "B's instances untouched"
    );

    app.wait_phase(a_main, &["running"], UP).await;
    let restarted = ops
        .portal_action(&ann, &sa, "main", InstanceAction::Restart)
        .await
        .unwrap();
    assert!(restarted.restarting);
    eventually("the restart is done", UP, || async {
        let i = ops.portal_instance(&sa, "main").await.unwrap();
        (!i.restarting && i.phase == berth::domain::Phase::Running).then_some(())
    })
    .await;

    // Activity: A's own user named with their address; the provider not named.
    let page = ops.portal_activity(&sa, None).await.unwrap();
    let mine = page
        .entries
        .iter()
        .find(|e| e.action == "instance.restart")
        .expect("restart entry");
    assert_eq!(
        (mine.who.as_str(), mine.ip.as_deref()),
        ("ann@a.test", Some("192.0.2.7"))
    );
    let created = page
        .entries
        .iter()
        .find(|e| e.action == "client.create")
        .expect("create entry");
    assert_eq!(
        (created.who.as_str(), created.ip.as_deref()),
        ("your provider", None)
    );
    let theirs = ops.portal_activity(&sb, None).await.unwrap();
    assert!(
        theirs
            .entries
            .iter()
            .all(|e| !e.target.starts_with(&sa.client_slug)),
        "{:?}",
        theirs.entries
    );

    // Backups: listed for A, B's scope cannot fetch A's archive.
    let (status, queued) = app
        .post(&format!("/api/v1/instances/{a_main}/backups"), json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    let backup = queued["id"].as_i64().unwrap();
    eventually("the backup finishes", UP, || async {
        let list = ops.portal_backups(&sa).await.unwrap();
        list.instances[0]
            .backups
            .iter()
            .any(|x| x.id == backup && x.downloadable)
            .then_some(())
    })
    .await;
    assert!(ops
        .portal_backups(&sb)
        .await
        .unwrap()
        .instances
        .iter()
        .all(|i| i.backups.is_empty()));
    let bob = Actor::client_user(&sb.email, &sb.client_slug, None);
    let theirs = not_found(ops.portal_backup_file(&bob, &sb, backup).await.unwrap_err());
    let missing = not_found(
        ops.portal_backup_file(&bob, &sb, backup + 1000)
            .await
            .unwrap_err(),
    );
    assert_eq!(
        theirs.replace(&backup.to_string(), "N"),
        missing.replace(&(backup + 1000).to_string(), "N")
    );
    let file = ops.portal_backup_file(&ann, &sa, backup).await.unwrap();
    assert!(file.is_file(), "{}", file.display());
    let page = ops.portal_activity(&sa, None).await.unwrap();
    assert!(page
        .entries
        .iter()
        .any(|e| e.action == "backup.download" && e.who == "ann@a.test"));

    // Usage: only A's instances.
    let usage = ops.portal_usage(&sa, Range::Day).await.unwrap();
    assert_eq!(
        usage.instances.iter().map(|i| i.id).collect::<Vec<_>>(),
        vec![a_main]
    );

    // Logs: httpd logs every health check; no host path reaches the client.
    let data_dir = app.config.data_dir.to_string_lossy().into_owned();
    let logs = eventually("the instance has output", UP, || async {
        let t = ops.portal_logs(&sa, "main").await.unwrap();
        (!t.lines.is_empty()).then_some(t)
    })
    .await;
    assert!(logs.lines.len() <= berth::ops::LOG_LINES);
    assert!(
        logs.lines
            .iter()
            .all(|l| !l.contains(&data_dir) && !l.contains('\x1b')),
        "{:?}",
        logs.lines
    );
    not_found(ops.portal_logs(&sb, "nothing").await.unwrap_err());
}
