//! Offsite copies end to end: a real sshd on loopback ([`Sshd`]) and the
//! real restic.
//! Copy → a second copy after a small change adds little → restore in
//! place matches byte for byte → a corrupted pack is reported by check.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{
    digests, eventually, largest_pack, unique, write_mixed, RestServer, Sshd, TestApp,
};

const UP: Duration = Duration::from_secs(120);

/// The instance copy of `backup` on `target` once it finished ok.
async fn copied(app: &TestApp, target: &str, backup: i64) -> berth::store::offsite::CopyRow {
    let row = eventually(
        &format!("backup {backup} copied to {target}"),
        UP,
        || async {
            let rows = app.ops().offsite_copies(target, 50).await.unwrap();
            rows.into_iter()
                .find(|r| r.backup_id == Some(backup) && r.status.is_finished())
        },
    )
    .await;
    assert_eq!(row.status, berth::domain::BackupStatus::Ok, "{row:?}");
    row
}

/// Waits until every file in `dir` changed long enough ago that the next
/// backup can trust its ctime (`backup::snapshot`'s racy window).
async fn settled(dir: &std::path::Path) {
    let newest = || {
        use std::os::unix::fs::MetadataExt;
        let mut newest = 0i128;
        for e in walk(dir) {
            let m = std::fs::symlink_metadata(e).unwrap();
            newest = newest.max(i128::from(m.ctime()) * 1_000_000_000 + i128::from(m.ctime_nsec()));
        }
        newest
    };
    let newest = newest();
    eventually("the data's ctimes are settled", UP, || async {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as i128;
        (now - newest > 200_000_000).then_some(())
    })
    .await;
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![dir.to_path_buf()];
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if std::fs::symlink_metadata(&p).unwrap().is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_dedup_restore_byte_for_byte_and_check_finds_a_corrupt_pack() {
    let sshd = tokio::task::spawn_blocking(Sshd::start).await.unwrap();
    let target = unique("box");
    let t = sshd.target(&target);
    let app = TestApp::with_offsite(vec![t]).await;
    let actor = berth::audit::Actor::cli();
    app.ops().offsite_init(&actor, &target).await.unwrap();

    app.create_plan("p", 0.5, "64MiB").await;
    let client = app.create_client("Offsite Co", "p").await;
    let id = client["instances"][0]["id"].as_i64().unwrap();
    app.wait_phase(id, &["running"], UP).await;
    let data = app.config.instance_data_dir("offsite-co", "main");
    write_mixed(&data);
    settled(&data).await;

    // The first copy follows the first backup on its own (no copy_schedule).
    let first = copied(&app, &target, app.backup_ok(id).await).await;
    let added_first = first.bytes_added.unwrap();
    assert!(added_first > 5_000_000, "{first:?}");
    assert!(first.snapshot_id.is_some());
    // It read the mirror the backup kept, which restic skips through next time.
    let mirror = app.config.instance_mirror_dir(id);
    let kept = mirror.join("data/uploads/u1.bin");
    let stamp = |p: &std::path::Path| {
        use std::os::unix::fs::MetadataExt;
        let m = std::fs::metadata(p).unwrap();
        (m.ino(), m.ctime(), m.ctime_nsec())
    };
    let kept_before = stamp(&kept);

    // ~1 %: 64 KiB rewritten inside one upload, one note appended to.
    {
        use std::io::{Seek, SeekFrom, Write};
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(data.join("uploads/u7.bin"))
            .unwrap();
        f.seek(SeekFrom::Start(128 * 1024)).unwrap();
        f.write_all(&[0x5a; 64 * 1024]).unwrap();
        std::fs::write(data.join("notes/n3.txt"), "changed\n".repeat(100)).unwrap();
    }
    let second_backup = app.backup_ok(id).await;
    let second = copied(&app, &target, second_backup).await;
    let added_second = second.bytes_added.unwrap();
    assert_eq!(
        stamp(&kept),
        kept_before,
        "an unchanged upload was left alone"
    );
    let index = berth::backup::mirror::Mirror::at(mirror.clone())
        .read_index()
        .unwrap();
    assert_eq!(index.backup_id, second_backup);
    assert!(
        added_second * 4 < added_first,
        "the second copy added {added_second} bytes after a small change (first: {added_first})"
    );
    eprintln!("offsite dedup: first copy added {added_first} bytes, second {added_second}");
    // berth's own state went along: the database and nothing half-written.
    eventually("berth's state is copied", UP, || async {
        let rows = app.ops().offsite_copies(&target, 50).await.unwrap();
        rows.into_iter().find(|r| {
            r.kind == berth::domain::OffsiteKind::State
                && r.status == berth::domain::BackupStatus::Ok
        })
    })
    .await;
    let state = app.ops().offsite_snapshots(&target, None).await.unwrap();
    let state = state
        .iter()
        .find(|s| s.tags.iter().any(|t| t == "berth-state"))
        .expect("a state snapshot");
    assert!(state.paths[0].ends_with("offsite-state"), "{state:?}");
    let status = app.ops().offsite_status().await.unwrap();
    assert!(status[0].summary.last_success.is_some() && status[0].age_seconds.is_some());
    let metrics = app.get_text("/metrics").await;
    assert!(
        metrics.contains(&format!(
            "berth_offsite_last_success_timestamp_seconds{{target=\"{target}\"}}"
        )),
        "{metrics}"
    );

    // Wreck the live data, then restore the newest snapshot in place.
    let want = digests(&data);
    std::fs::write(data.join("uploads/u1.bin"), b"overwritten").unwrap();
    std::fs::remove_file(data.join("notes/n5.txt")).unwrap();
    std::fs::write(data.join("junk.txt"), b"not in the backup").unwrap();
    let snaps = app
        .ops()
        .offsite_snapshots(&target, Some(id))
        .await
        .unwrap();
    assert_eq!(snaps.len(), 2, "{snaps:?}");
    assert_eq!(
        snaps[1].content(),
        Some((berth::offsite::restic::Content::Mirror, index.total_bytes()))
    );
    let job = app
        .ops()
        .request_offsite_restore(&actor, id, &target, None)
        .await
        .unwrap();
    assert_eq!(job.snapshot_id, snaps[1].id);
    let job = eventually("the offsite restore downloads", UP, || async {
        let r = app.ops().get_offsite_restore(job.id).await.unwrap();
        r.status.is_finished().then_some(r)
    })
    .await;
    let local = job.restore_id.unwrap_or_else(|| panic!("{job:?}"));
    let restored = eventually("the local restore finishes", UP, || async {
        let r = app.ops().get_restore(local).await.unwrap();
        r.status.is_finished().then_some(r)
    })
    .await;
    assert_eq!(
        restored.status,
        berth::domain::BackupStatus::Ok,
        "{restored:?}"
    );
    assert_eq!(
        digests(&data),
        want,
        "restored data differs from the copied data"
    );

    // A healthy repository passes a full read; a flipped byte in a pack does not.
    let line = app
        .ops()
        .offsite_check(&target, Some("all".into()))
        .await
        .unwrap();
    assert!(line.contains("no errors"), "{line}");
    let pack = largest_pack(&sshd.path("repo").join("data"));
    let mut bytes = std::fs::read(&pack).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&pack, bytes).unwrap();
    let err = app
        .ops()
        .offsite_check(&target, Some("all".into()))
        .await
        .unwrap_err()
        .to_string();
    let name = pack.file_name().unwrap().to_string_lossy().into_owned();
    assert!(
        err.contains("restic failed") || err.contains(&name[..8]),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rest_target_copies_on_request_and_restores() {
    let rest = tokio::task::spawn_blocking(RestServer::start)
        .await
        .unwrap();
    let target = unique("rest");
    let t = rest.target(&target);
    let app = TestApp::with_offsite(vec![t]).await;
    let actor = berth::audit::Actor::cli();
    // Before init: the copy fails with words an operator can act on.
    app.create_plan("p", 0.5, "64MiB").await;
    let client = app.create_client("Rest Co", "p").await;
    let id = client["instances"][0]["id"].as_i64().unwrap();
    app.wait_phase(id, &["running"], UP).await;
    let data = app.config.instance_data_dir("rest-co", "main");
    std::fs::write(data.join("page.html"), "<h1>kept offsite</h1>").unwrap();
    let backup = app.backup_ok(id).await;
    let (status, body) = app
        .post(
            &format!("/api/v1/offsite/{target}/copies"),
            json!({ "instance": id }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let failed = copied_any(&app, &target, backup).await;
    assert_eq!(failed.status, berth::domain::BackupStatus::Failed);
    assert!(
        failed.message.contains("berth offsite init"),
        "{}",
        failed.message
    );

    app.ops().offsite_init(&actor, &target).await.unwrap();
    let (status, body) = app
        .post(
            &format!("/api/v1/offsite/{target}/copies"),
            json!({ "instance": id }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let copy_id = body["id"].as_i64().unwrap();
    let row = eventually("the requested copy finishes", UP, || async {
        let r = app.ops().offsite_copy(copy_id).await.unwrap();
        r.status.is_finished().then_some(r)
    })
    .await;
    assert_eq!(row.status, berth::domain::BackupStatus::Ok, "{row:?}");
    let want = digests(&data);
    std::fs::write(data.join("page.html"), "defaced").unwrap();

    let (status, body) = app
        .post(
            &format!("/api/v1/instances/{id}/offsite-restore"),
            json!({ "target": target }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let rid = body["id"].as_i64().unwrap();
    let job = eventually("the offsite restore downloads", UP, || async {
        let (_, b) = app.get(&format!("/api/v1/offsite-restores/{rid}")).await;
        matches!(b["status"].as_str(), Some("ok" | "failed")).then_some(b)
    })
    .await;
    let local = job["restore_id"]
        .as_i64()
        .unwrap_or_else(|| panic!("{job}"));
    let restored = eventually("the local restore finishes", UP, || async {
        let r = app.ops().get_restore(local).await.unwrap();
        r.status.is_finished().then_some(r)
    })
    .await;
    assert_eq!(
        restored.status,
        berth::domain::BackupStatus::Ok,
        "{restored:?}"
    );
    assert_eq!(digests(&data), want);
    // A snapshot of another target's name is refused with a 404, not a 500.
    let (status, body) = app
        .post(
            &format!("/api/v1/instances/{id}/offsite-restore"),
            json!({ "target": "nowhere" }),
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

/// The newest copy of `backup` on `target` once it finished, ok or not.
async fn copied_any(app: &TestApp, target: &str, backup: i64) -> berth::store::offsite::CopyRow {
    eventually(
        &format!("a copy of backup {backup} finishes"),
        UP,
        || async {
            let rows = app.ops().offsite_copies(target, 50).await.unwrap();
            rows.into_iter()
                .find(|r| r.backup_id == Some(backup) && r.status.is_finished())
        },
    )
    .await
}
