//! Offsite retention with the real restic against a real sftp repository
//! on loopback: forget keeps each plan's snapshots, and a deleted client's
//! go (from the repository too, after the prune the delete queued); the
//! CLI on the same store. Verification (check, test-restore) is in
//! `offsite_verify`, which shares the helpers here.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{eventually, unique, Sshd, TestApp};

pub(crate) const UP: Duration = Duration::from_secs(120);

/// Waits for the copy of `backup` to `target` to finish ok.
pub(crate) async fn copied(app: &TestApp, target: &str, backup: i64) {
    let row = eventually(&format!("backup {backup} copied"), UP, || async {
        let rows = app.ops().offsite_copies(target, 100).await.unwrap();
        rows.into_iter()
            .find(|r| r.backup_id == Some(backup) && r.status.is_finished())
    })
    .await;
    assert_eq!(row.status, berth::domain::BackupStatus::Ok, "{row:?}");
}

/// Queues a run through the API (202) and waits for its end.
pub(crate) async fn run(app: &TestApp, target: &str, kind: &str, body: Value) -> Value {
    let (status, row) = app
        .post(&format!("/api/v1/offsite/{target}/{kind}"), body)
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{row}");
    let id = row["id"].as_i64().unwrap();
    eventually(&format!("{kind} run {id} finishes"), UP, || async move {
        let (_, r) = app.get(&format!("/api/v1/offsite-runs/{id}")).await;
        matches!(r["status"].as_str(), Some("ok" | "failed")).then_some(r)
    })
    .await
}

pub(crate) fn random_file(path: &Path, len: usize) {
    use rand::RngCore;
    let mut buf = vec![0u8; len];
    rand::rng().fill_bytes(&mut buf);
    std::fs::write(path, buf).unwrap();
}

/// Bytes under a directory (the repository's packs).
fn du(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let meta = e.metadata().unwrap();
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                total += meta.len();
            }
        }
    }
    total
}

/// Waits until no copy or run of `target` is queued or running.
async fn settled(app: &TestApp, target: &str) {
    eventually("copies and runs settle", UP, || async {
        let copies = app.ops().offsite_copies(target, 100).await.unwrap();
        let runs = app.ops().offsite_runs(target, 100).await.unwrap();
        (copies.iter().all(|c| c.status.is_finished())
            && runs.iter().all(|r| r.status.is_finished()))
        .then_some(())
    })
    .await;
}

/// Snapshots per "client/instance" on the target.
async fn per_instance(app: &TestApp, target: &str) -> std::collections::BTreeMap<String, usize> {
    let mut out = std::collections::BTreeMap::new();
    for s in app.ops().offsite_snapshots(target, None).await.unwrap() {
        if let (Some(c), Some(i)) = (s.tag("client"), s.tag("instance")) {
            *out.entry(format!("{c}/{i}")).or_default() += 1;
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forget_keeps_each_plans_snapshots_and_a_deleted_clients_go_with_the_prune() {
    let sshd = tokio::task::spawn_blocking(Sshd::start).await.unwrap();
    let target = unique("keep");
    let mut t = sshd.target(&target);
    for s in [
        &mut t.prune_schedule,
        &mut t.check_schedule,
        &mut t.test_restore_schedule,
    ] {
        s.clear();
    }
    let app = TestApp::with_offsite(vec![t]).await;
    app.ops()
        .offsite_init(&berth::audit::Actor::cli(), &target)
        .await
        .unwrap();
    app.create_plan("keep2", 0.5, "64MiB").await;
    let (status, body) = app
        .call(
            reqwest::Method::PUT,
            "/api/v1/plans/keep2/backup-policy",
            Some(json!({ "keep_last": 2, "keep_daily": 0, "keep_weekly": 0, "keep_monthly": 0 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut ids = Vec::new();
    for name in ["Keeper Co", "Leaver Co"] {
        let client = app.create_client(name, "keep2").await;
        ids.push(client["instances"][0]["id"].as_i64().unwrap());
    }
    for &id in &ids {
        app.wait_phase(id, &["running"], UP).await;
    }
    let dirs = [
        app.config.instance_data_dir("keeper-co", "main"),
        app.config.instance_data_dir("leaver-co", "main"),
    ];
    // Three rounds: each instance gains 1 MiB of new random data and is
    // copied after its backup (no copy_schedule).
    for round in 0..3 {
        for (dir, &id) in dirs.iter().zip(&ids) {
            random_file(&dir.join(format!("upload-{round}.bin")), 1 << 20);
            let backup = app.backup_ok(id).await;
            copied(&app, &target, backup).await;
        }
    }
    // A forget follows each round of copies on its own.
    let auto = eventually("a forget after the copies", UP, || async {
        let runs = app.ops().offsite_runs(&target, 100).await.unwrap();
        runs.into_iter()
            .find(|r| r.requested_by == "copies" && r.status == berth::domain::BackupStatus::Ok)
    })
    .await;
    assert!(auto.message.contains("forgot"), "{auto:?}");

    // A dry run says what would go and forgets none of it.
    settled(&app, &target).await;
    let dry = run(&app, &target, "forget", json!({ "dry_run": true })).await;
    assert_eq!(dry["status"], "ok", "{dry}");
    let said = dry["message"].as_str().unwrap();
    assert!(said.starts_with("would forget"), "{dry}");
    let listed: Vec<&str> = said
        .split_once(": ")
        .map(|(_, ids)| ids.split_whitespace().filter(|w| w.len() == 8).collect())
        .unwrap_or_default();
    let now: Vec<String> = app
        .ops()
        .offsite_snapshots(&target, None)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.short_id)
        .collect();
    assert!(
        listed.iter().all(|id| now.iter().any(|n| n == id)),
        "{said}"
    );

    let forget = run(&app, &target, "forget", json!({})).await;
    assert_eq!(forget["status"], "ok", "{forget}");
    let kept = per_instance(&app, &target).await;
    assert_eq!(
        kept.into_iter().collect::<Vec<_>>(),
        vec![
            ("keeper-co/main".to_owned(), 2),
            ("leaver-co/main".to_owned(), 2)
        ],
        "keep_last = 2 per instance"
    );
    // berth's state follows the global policy (keep_last 7): nothing went.
    let states = app
        .ops()
        .offsite_snapshots(&target, None)
        .await
        .unwrap()
        .into_iter()
        .filter(|s| s.tags.iter().any(|t| t == "berth-state"))
        .count();
    assert!(states >= 1, "{states}");

    // Erasing a client queues a forget and a prune; its snapshots go and
    // the repository shrinks.
    let data = sshd.path("repo").join("data");
    let size_before = du(&data);
    let mirror = app.config.instance_mirror_dir(ids[1]);
    assert!(
        mirror.join("entries").is_file(),
        "the leaver's offsite mirror"
    );
    let report = app
        .delete_and_follow(
            "/api/v1/clients/leaver-co",
            json!({ "confirm": "leaver-co" }),
        )
        .await;
    let line = report["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"].as_str().unwrap().starts_with("offsite snapshots"))
        .unwrap_or_else(|| panic!("{report}"))
        .clone();
    assert_eq!(line["disposition"], "queued", "{line}");
    assert!(
        !mirror.exists(),
        "the erased client's mirror is gone with its data"
    );
    assert_eq!(
        line["count"], 3,
        "three copies of the instance reached the target"
    );
    let deletion = report["deletion_id"].as_i64().unwrap();
    let prune = eventually("the deletion's prune", UP, || async {
        let runs = app.ops().offsite_runs(&target, 100).await.unwrap();
        runs.into_iter().find(|r| {
            r.requested_by == format!("deletion:{deletion}")
                && r.kind == berth::domain::OffsiteRunKind::Prune
                && r.status.is_finished()
        })
    })
    .await;
    assert_eq!(prune.status, berth::domain::BackupStatus::Ok, "{prune:?}");
    let left = per_instance(&app, &target).await;
    assert_eq!(
        left.into_iter().collect::<Vec<_>>(),
        vec![("keeper-co/main".to_owned(), 2)]
    );
    let size_after = du(&data);
    assert!(
        size_after + (1 << 20) < size_before,
        "the repository's packs went from {size_before} to {size_after} bytes"
    );
    eprintln!("offsite prune after erasure: packs {size_before} -> {size_after} bytes");
    // The erased client's name is in no offsite record any more.
    let runs = app.ops().offsite_runs(&target, 100).await.unwrap();
    assert!(runs.iter().all(|r| r.client_slug != "leaver-co"));
    let copies = app.ops().offsite_copies(&target, 100).await.unwrap();
    assert!(copies.iter().all(|r| r.client_slug != "leaver-co"));

    // The CLI, on the same store: a dry forget, the history, the status
    // table, and bad input as one line with exit 1.
    let file = sshd.path("berth.toml");
    std::fs::write(
        &file,
        format!(
            "[[offsite]]\nname = \"{target}\"\nrepository = \"sftp:{}@127.0.0.1:{}\"\n\
             password_file = \"{}\"\nsftp_port = {}\nsftp_key_file = \"{}\"\n\
             sftp_known_hosts = \"{}\"\n",
            sshd.user,
            sshd.path("repo").display(),
            sshd.path("password").display(),
            sshd.port,
            sshd.path("user_key").display(),
            sshd.path("known_hosts").display(),
        ),
    )
    .unwrap();
    let config = app.config.clone();
    let cli = move |args: Vec<String>| {
        let out = Command::new(env!("CARGO_BIN_EXE_berth"))
            .arg("--config")
            .arg(&file)
            .args(&args)
            .envs(crate::harness::env_for(&config))
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let s = |v: &[&str]| v.iter().map(|a| a.to_string()).collect::<Vec<_>>();
    let (code, out, err) = tokio::task::spawn_blocking({
        let args = s(&["offsite", "forget", &target, "--dry-run"]);
        let cli = cli.clone();
        move || cli(args)
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("would forget 0 of"), "{out}");
    let (code, out, err) = tokio::task::spawn_blocking({
        let args = s(&["offsite", "status"]);
        let cli = cli.clone();
        move || cli(args)
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(out.contains("LAST PRUNE") && out.contains(&target), "{out}");
    let (code, out, err) = tokio::task::spawn_blocking({
        let args = s(&["offsite", "runs", &target]);
        let cli = cli.clone();
        move || cli(args)
    })
    .await
    .unwrap();
    assert_eq!(code, Some(0), "{out}{err}");
    assert!(
        out.contains("forget (dry run)") && out.contains("prune"),
        "{out}"
    );
    let (code, out, err) = tokio::task::spawn_blocking({
        let args = s(&["offsite", "test-restore", &target, "--instance", "999"]);
        move || cli(args)
    })
    .await
    .unwrap();
    assert_eq!(code, Some(1), "{out}{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("instance 999"), "{err}");
}
