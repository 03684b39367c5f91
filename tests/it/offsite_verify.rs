//! Offsite verification with the real restic against a real REST
//! repository on loopback: a scheduled check passes and then fails on a
//! damaged pack, a test-restore verifies a snapshot (the local verify's
//! checks, then byte for byte against its local backup) but not a
//! tampered one; failures reach the webhook, and the status and /metrics
//! say when each last succeeded.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{eventually, largest_pack, unique, RestServer, TestApp};
use crate::offsite_maintenance::{copied, random_file, run, UP};
use crate::scheduler::webhook_receiver;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_checks_and_test_restores_verify_and_report_damage() {
    let rest = tokio::task::spawn_blocking(RestServer::start)
        .await
        .unwrap();
    let (hook, received) = webhook_receiver().await;
    let target = unique("verify");
    let mut t = rest.target(&target);
    t.check_schedule = "*/3 * * * * *".into();
    t.check_read_data = "100%".into();
    t.prune_schedule.clear();
    t.test_restore_schedule.clear();
    let app = TestApp::spawn_with(|c| {
        c.backup.schedule = String::new();
        c.backup.schedule_tick = Duration::from_secs(1);
        c.backup.failure_webhook = Some(hook);
        c.offsite = vec![t.clone()];
    })
    .await;
    app.ops()
        .offsite_init(&berth::audit::Actor::cli(), &target)
        .await
        .unwrap();
    app.create_plan("p", 0.5, "64MiB").await;
    let client = app.create_client("Verify Co", "p").await;
    let id = client["instances"][0]["id"].as_i64().unwrap();
    app.wait_phase(id, &["running"], UP).await;
    let data = app.config.instance_data_dir("verify-co", "main");
    random_file(&data.join("upload.bin"), 1 << 20);
    std::fs::write(data.join("index.html"), "<h1>verified offsite</h1>").unwrap();
    {
        let db = rusqlite::Connection::open(data.join("app.db")).unwrap();
        db.execute_batch("CREATE TABLE t (x TEXT); INSERT INTO t VALUES ('kept');")
            .unwrap();
    }
    let backup = app.backup_ok(id).await;
    let (status, body) = app
        .post(
            &format!("/api/v1/offsite/{target}/copies"),
            json!({ "instance": id }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    copied(&app, &target, backup).await;

    // The scheduled check (every 3 s here) records a good run.
    let check = eventually("a scheduled check passes", UP, || async {
        let runs = app.ops().offsite_runs(&target, 100).await.unwrap();
        runs.into_iter().find(|r| {
            r.kind == berth::domain::OffsiteRunKind::Check
                && r.requested_by == "schedule"
                && r.status == berth::domain::BackupStatus::Ok
        })
    })
    .await;
    assert!(check.message.contains("no errors"), "{check:?}");

    // A test-restore takes the instance's newest snapshot and verifies it.
    let ok = run(&app, &target, "test-restore", json!({})).await;
    assert_eq!(ok["status"], "ok", "{ok}");
    assert_eq!(ok["instance_id"], id, "{ok}");
    assert!(ok["bytes"].as_u64().unwrap() > 1 << 20, "{ok}");
    let msg = ok["message"].as_str().unwrap();
    assert!(
        msg.contains("1 SQLite database(s) pass integrity_check")
            && msg.contains(&format!("identical to local backup {backup}")),
        "{msg}"
    );
    let scratch = app.config.data_dir.join("offsite-test-restore");
    assert!(
        std::fs::read_dir(&scratch).map_or(true, |mut d| d.next().is_none()),
        "the scratch dir was left behind"
    );

    // A snapshot claiming to be that backup with one byte changed inside:
    // the tar is whole and as long as the tag says, but not the backup.
    let (_, b) = app.get(&format!("/api/v1/backups/{backup}")).await;
    let archive = app.config.backup_dir().join(b["path"].as_str().unwrap());
    let mut tar = zstd::decode_all(std::fs::File::open(&archive).unwrap()).unwrap();
    let at = find(&tar, b"verified offsite").expect("the page inside the tar");
    tar[at] = b'V';
    let tags = format!(
        "berth,client=verify-co,instance=main,backup={backup},tar-bytes={}",
        tar.len()
    );
    let repo = format!("rest:http://127.0.0.1:{}/", rest.port);
    let password = rest.dir.path().join("password");
    let cache = rest.dir.path().join("cache");
    let tar_file = rest.dir.path().join("tampered.tar");
    std::fs::write(&tar_file, &tar).unwrap();
    // The scheduled checks lock the repository now and then: retry.
    eventually("the tampered snapshot is written", UP, || async {
        let (repo, password, cache, tags, tar_file) = (
            repo.clone(),
            password.clone(),
            cache.clone(),
            tags.clone(),
            tar_file.clone(),
        );
        tokio::task::spawn_blocking(move || {
            restic_stdin(&repo, &password, &cache, &tags, &tar_file)
        })
        .await
        .unwrap()
        .then_some(())
    })
    .await;
    let bad = run(&app, &target, "test-restore", json!({ "instance": id })).await;
    assert_eq!(bad["status"], "failed", "{bad}");
    assert!(
        bad["message"]
            .as_str()
            .unwrap()
            .contains(&format!("differs from local backup {backup}")),
        "{bad}"
    );
    let hooked = eventually("the test-restore failure webhook", UP, || async {
        let got = received.lock().unwrap().clone();
        got.into_iter()
            .find(|h| h["event"] == "offsite.test_restore.failed")
    })
    .await;
    assert_eq!(hooked["target"], target.as_str(), "{hooked}");
    assert_eq!(hooked["instance"], "verify-co/main", "{hooked}");

    // A flipped byte in a pack: the next scheduled check fails, loudly.
    let seen = app.ops().offsite_runs(&target, 1).await.unwrap()[0].id;
    let pack = largest_pack(&rest.dir.path().join("repo").join("data"));
    let mut bytes = std::fs::read(&pack).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&pack, bytes).unwrap();
    let failed = eventually("a scheduled check fails", UP, || async {
        let runs = app.ops().offsite_runs(&target, 100).await.unwrap();
        runs.into_iter().find(|r| {
            r.id > seen
                && r.kind == berth::domain::OffsiteRunKind::Check
                && r.status == berth::domain::BackupStatus::Failed
        })
    })
    .await;
    assert!(
        failed.message.contains("Pack ID does not match"),
        "{failed:?}"
    );
    eventually("the check failure webhook", UP, || async {
        let got = received.lock().unwrap().clone();
        got.into_iter()
            .find(|h| h["event"] == "offsite.check.failed" && h["id"] == failed.id)
    })
    .await;

    // The target's status and /metrics say when each last succeeded.
    let status = app.ops().offsite_status().await.unwrap();
    let m = &status[0].maintenance;
    assert!(
        m.last_check.is_some() && m.last_test_restore.is_some(),
        "{m:?}"
    );
    assert!(
        m.failing.contains(&berth::domain::OffsiteRunKind::Check),
        "{m:?}"
    );
    let metrics = app.get_text("/metrics").await;
    for name in ["check", "test_restore"] {
        let series = format!("berth_offsite_last_{name}_timestamp_seconds{{target=\"{target}\"}}");
        assert!(metrics.contains(&series), "{series} missing:\n{metrics}");
    }
    // Bad input is a clear 4xx, never a 500.
    let (status, body) = app
        .post(
            &format!("/api/v1/offsite/{target}/prune"),
            json!({ "dry_run": true }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (status, body) = app.post("/api/v1/offsite/nowhere/check", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// `restic backup --stdin` of `tar` as berth would name it; true on success.
fn restic_stdin(repo: &str, password: &Path, cache: &Path, tags: &str, tar: &Path) -> bool {
    let out = Command::new("sh")
        .arg("-c")
        .arg(
            "exec restic -r \"$1\" --password-file \"$2\" --cache-dir \"$3\" backup --stdin \
             --stdin-filename verify-co--main.tar --tag \"$4\" < \"$5\"",
        )
        .args(["sh", repo])
        .arg(password)
        .arg(cache)
        .arg(tags)
        .arg(tar)
        .output()
        .unwrap();
    if !out.status.success() {
        eprintln!("restic backup: {}", String::from_utf8_lossy(&out.stderr));
    }
    out.status.success()
}
