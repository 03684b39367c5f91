//! Restores from offsite as clones, through the API, with a REST restic
//! target: bad input is a clear 4xx (unknown target or snapshot, clone name
//! taken or malformed, plan full); a clone gets the copied data byte for
//! byte; a snapshot of an instance this host does not know comes back as a
//! new instance of its client.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{copy_now, digests, eventually, unique, RestServer, TestApp};

const UP: Duration = Duration::from_secs(120);

/// Moves snapshot `id` from tag `from` to `to` (restic writes it anew);
/// the new snapshot's id.
fn retag(repo: &str, password: &std::path::Path, id: &str, from: &str, to: &str) -> String {
    let restic = |args: &[&str]| {
        let out = std::process::Command::new("restic")
            .args(["--no-cache", "-r", repo, "--password-file"])
            .arg(password)
            .args(args)
            .output()
            .unwrap();
        assert!(out.status.success(), "restic {args:?}: {out:?}");
        out.stdout
    };
    restic(&["tag", "--remove", from, "--add", to, id]);
    let snaps: Vec<Value> =
        serde_json::from_slice(&restic(&["snapshots", "--json", "--tag", to])).unwrap();
    assert_eq!(snaps.len(), 1, "{snaps:?}");
    snaps[0]["id"].as_str().unwrap().to_owned()
}

/// Follows an accepted offsite restore through both halves to `done`.
async fn restored(app: &TestApp, accepted: &Value) -> Value {
    let id = accepted["id"].as_i64().unwrap();
    let p = eventually("the offsite restore finishes", UP, || async {
        let (_, p) = app.get(&format!("/api/v1/offsite-restores/{id}")).await;
        matches!(p["stage"].as_str(), Some("done" | "failed")).then_some(p)
    })
    .await;
    assert_eq!(p["stage"], "done", "{p}");
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clones_from_offsite_refuse_bad_input_and_bring_back_an_unknown_instance() {
    let rest = tokio::task::spawn_blocking(RestServer::start)
        .await
        .unwrap();
    let target = unique("clone");
    let t = rest.target(&target);
    let app = TestApp::with_offsite(vec![t]).await;
    let actor = berth::audit::Actor::cli();
    app.ops().offsite_init(&actor, &target).await.unwrap();
    let (status, plan) = app
        .post(
            "/api/v1/plans",
            json!({ "name": "two", "cpus": 0.5, "memory": "64MiB", "max_instances": 2 }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    let client = app.create_client(&unique("Clone Co"), "two").await;
    let slug = client["slug"].as_str().unwrap().to_owned();
    let id = client["instances"][0]["id"].as_i64().unwrap();
    app.wait_phase(id, &["running"], UP).await;
    let data = app.config.instance_data_dir(&slug, "main");
    std::fs::write(data.join("index.html"), "from main").unwrap();
    std::fs::create_dir_all(data.join("sub")).unwrap();
    std::fs::write(data.join("sub/notes.txt"), "a note\n".repeat(1000)).unwrap();
    let want = digests(&data);
    app.backup_ok(id).await;
    copy_now(&app, &target, id).await;
    let (_, snaps) = app
        .get(&format!("/api/v1/offsite/{target}/snapshots?instance={id}"))
        .await;
    let snap = snaps[0]["id"].as_str().unwrap().to_owned();
    let restore = format!("/api/v1/instances/{id}/offsite-restore");

    // Bad input: a 4xx with words, never a 500, and nothing made.
    let cases = [
        (
            json!({ "target": "nowhere", "into": "x" }),
            StatusCode::NOT_FOUND,
            "no offsite target",
        ),
        (
            json!({ "target": target, "snapshot": "deadbeef", "into": "x" }),
            StatusCode::NOT_FOUND,
            "no snapshot",
        ),
        (
            json!({ "target": target, "into": "main" }),
            StatusCode::CONFLICT,
            "main",
        ),
        (
            json!({ "target": target, "into": "Not A Name!" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "",
        ),
        (
            json!({ "target": target, "into": "x", "colour": "red" }),
            StatusCode::UNPROCESSABLE_ENTITY,
            "colour",
        ),
    ];
    for (body, want_status, words) in cases {
        let (status, e) = app.post(&restore, body.clone()).await;
        assert_eq!(status, want_status, "{body} → {e}");
        assert!(
            e["error"].as_str().unwrap_or("").contains(words),
            "{body} → {e}"
        );
    }
    let (status, e) = app
        .post(
            "/api/v1/clients/no-such-client/offsite-restore",
            json!({ "target": target, "snapshot": snap, "into": "x" }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{e}");
    let (status, e) = app
        .post(
            &format!("/api/v1/clients/{slug}/offsite-restore"),
            json!({ "target": target, "snapshot": "deadbeef", "into": "x" }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{e}");
    let (_, list) = app.get(&format!("/api/v1/clients/{slug}/instances")).await;
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "no clone was made: {list}"
    );

    // A clone gets the copied data byte for byte and runs.
    let (status, job) = app
        .post(
            &restore,
            json!({ "target": target, "snapshot": &snap[..8], "into": "copy" }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    assert_eq!(
        (job["mode"].as_str(), job["snapshot_id"].as_str()),
        (Some("clone"), Some(snap.as_str()))
    );
    let p = restored(&app, &job).await;
    let copy_id = p["instance_id"].as_i64().unwrap();
    assert_ne!(copy_id, id);
    assert_eq!(digests(&app.config.instance_data_dir(&slug, "copy")), want);
    app.wait_phase(copy_id, &["running"], UP).await;

    // The plan allows two: a third is refused with the plan's words.
    let (status, e) = app
        .post(&restore, json!({ "target": target, "into": "third" }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(e["error"].as_str().unwrap().contains("allows 2"), "{e}");

    // Room for one more.
    let more = berth::ops::PlanEdit {
        max_instances: Some(3),
        ..Default::default()
    };
    app.ops().edit_plan(&actor, "two", more).await.unwrap();
    // A snapshot of an instance this host does not know (made by the old
    // host after its last state copy, say), retagged from main to `lost`:
    // restorable as a clone until the next forget (a repository serves one
    // berth, so forget takes it for a deleted instance's).
    let lost = tokio::task::spawn_blocking({
        let (repo, password) = (
            format!("rest:http://127.0.0.1:{}/", rest.port),
            rest.dir.path().join("password"),
        );
        move || retag(&repo, &password, &snap, "instance=main", "instance=lost")
    })
    .await
    .unwrap();
    let revive = format!("/api/v1/clients/{slug}/offsite-restore");
    let (status, e) = app
        .post(
            &revive,
            json!({ "target": target, "snapshot": lost, "into": "revived" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    assert!(
        e["error"].as_str().unwrap().contains("name the blueprint"),
        "{e}"
    );
    let (status, job) = app
        .post(
            &revive,
            json!({ "target": target, "snapshot": lost, "into": "revived", "blueprint": "static-site" }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    assert_eq!(job["source"], format!("{slug}/lost"), "{job}");
    let p = restored(&app, &job).await;
    assert_eq!(
        digests(&app.config.instance_data_dir(&slug, "revived")),
        want
    );
    app.wait_phase(p["instance_id"].as_i64().unwrap(), &["running"], UP)
        .await;
    let (status, list) = app.get(&format!("/api/v1/offsite/{target}/restores")).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let holds: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|r| r["mode"].as_str())
        .collect();
    assert_eq!(holds, ["clone", "clone"], "copy's and revived's: {list}");
}
