//! Backups end to end against the real engine and real files: a tenant that
//! keeps writing SQLite while it is backed up, a berth killed mid-backup,
//! atomic restores with rollback, and a corrupted archive.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{eventually, unique, TestApp};

const UP: Duration = Duration::from_secs(90);

/// A tenant image: busybox plus the host's sqlite3 and the libraries it links.
fn sqlite_image() -> String {
    let name = format!("berth-test/sqlite-writer:{}", unique("img"));
    let base = berth::docker::busybox_rootfs(Path::new("/bin/busybox")).unwrap();
    let mut tar = tar::Builder::new(Vec::new());
    let mut archive = tar::Archive::new(base.as_slice());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut header = entry.header().clone();
        let path = entry.path().unwrap().into_owned();
        if header.entry_type() == tar::EntryType::Symlink {
            let target = entry.link_name().unwrap().unwrap().into_owned();
            tar.append_link(&mut header, &path, &target).unwrap();
        } else {
            tar.append_data(&mut header, &path, &mut entry).unwrap();
        }
    }
    let ldd = Command::new("ldd")
        .arg("/usr/bin/sqlite3")
        .output()
        .unwrap();
    let mut files = vec![PathBuf::from("/usr/bin/sqlite3")];
    for line in String::from_utf8_lossy(&ldd.stdout).lines() {
        let path = line
            .split("=>")
            .last()
            .unwrap()
            .trim()
            .split(' ')
            .next()
            .unwrap();
        if path.starts_with('/') {
            files.push(PathBuf::from(path));
        }
    }
    for file in files {
        let bytes = std::fs::read(std::fs::canonicalize(&file).unwrap()).unwrap();
        let mut h = tar::Header::new_gnu();
        h.set_size(bytes.len() as u64);
        h.set_mode(0o755);
        h.set_cksum();
        tar.append_data(&mut h, file.strip_prefix("/").unwrap(), bytes.as_slice())
            .unwrap();
    }
    let rootfs = tar.into_inner().unwrap();
    let mut child = Command::new("docker")
        .args(["import", "-", &name])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), &rootfs).unwrap();
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success(), "docker import");
    name
}

/// A blueprint whose container inserts rows into /data/app.db (WAL) without pause.
fn writer_blueprint(image: &str) -> String {
    let script = "httpd -p 8080 -h /www; i=0; while true; do i=$((i+1)); \
        sqlite3 /data/app.db \"PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS t(i INTEGER, pad BLOB); \
        BEGIN; INSERT INTO t VALUES($i, randomblob(3000)); INSERT INTO t VALUES($i, randomblob(3000)); COMMIT;\" >/dev/null; done";
    format!(
        "image = \"{image}\"\ninternal_port = 8080\ndata_mount = \"/data\"\nbackup_consistency = \"pause\"\ncommand = [\"/bin/sh\", \"-c\", {}]\n",
        toml_string(script)
    )
}

fn toml_string(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

async fn wait_backup(app: &TestApp, id: i64) -> Value {
    eventually(&format!("backup {id} finishes"), UP, || async move {
        let (_, b) = app.get(&format!("/api/v1/backups/{id}")).await;
        matches!(b["status"].as_str(), Some("ok" | "failed")).then_some(b)
    })
    .await
}

async fn wait_restore(app: &TestApp, id: i64) -> Value {
    eventually(
        &format!("restore {id} finishes"),
        Duration::from_secs(150),
        || async move {
            let (_, b) = app.get(&format!("/api/v1/restores/{id}")).await;
            matches!(b["status"].as_str(), Some("ok" | "failed")).then_some(b)
        },
    )
    .await
}

async fn wait_verify(app: &TestApp, id: i64) -> Value {
    eventually(&format!("backup {id} verified"), UP, || async move {
        let (_, b) = app.get(&format!("/api/v1/backups/{id}")).await;
        matches!(b["verify_state"].as_str(), Some("ok" | "failed")).then_some(b)
    })
    .await
}

fn archive_path(app: &TestApp, backup: &Value) -> PathBuf {
    app.config
        .backup_dir()
        .join(backup["path"].as_str().expect("archive path"))
}

/// Rows in an archived (quiet) database, after SQLite's integrity check.
fn rows_in(db: &Path) -> i64 {
    let conn = rusqlite::Connection::open(db).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok", "{}", db.display());
    conn.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
        .unwrap()
}

/// Rows in the tenant's live database, or None while it cannot say yet.
/// The tenant creates the file before its first transaction has created the
/// table, and holds locks while it checkpoints: on a loaded machine (slow
/// fsync) a reader polling right after start-up finds "no such table" or
/// "database is locked", which is not yet an answer, not a failure.
fn live_rows(db: &Path) -> Option<i64> {
    let conn = rusqlite::Connection::open(db).ok()?;
    conn.query_row("SELECT COUNT(*) FROM t", [], |r| r.get(0))
        .ok()
}

/// (rows, sha256 over every row in rowid order) of the rows with rowid <=
/// `upto`: what a restore must bring back exactly.
fn rows_digest(conn: &rusqlite::Connection, upto: i64) -> rusqlite::Result<(i64, String)> {
    use sha2::Digest;
    let mut hash = sha2::Sha256::new();
    let mut stmt = conn.prepare("SELECT rowid, i, pad FROM t WHERE rowid <= ?1 ORDER BY rowid")?;
    let mut rows = stmt.query([upto])?;
    let mut n = 0;
    while let Some(row) = rows.next()? {
        hash.update(row.get::<_, i64>(0)?.to_le_bytes());
        hash.update(row.get::<_, i64>(1)?.to_le_bytes());
        hash.update(row.get::<_, Vec<u8>>(2)?);
        n += 1;
    }
    Ok((n, hex::encode(hash.finalize())))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_backups_of_a_live_sqlite_writer_all_restore_intact() {
    let image = sqlite_image();
    let blueprint = writer_blueprint(&image);
    let app = TestApp::spawn_with(|c| {
        c.backup.keep_last = 30;
        let dir = c.blueprint_dir.clone().unwrap();
        std::fs::write(dir.join("sqlite-writer.toml"), &blueprint).unwrap();
    })
    .await;
    app.guard.track_image(&image);
    app.create_plan("p", 1.0, "128MiB").await;
    let (status, client) = app.post("/api/v1/clients", json!({ "name": "Chatty", "email": "a@example.com", "plan": "p", "blueprint": "sqlite-writer" })).await;
    assert_eq!(status, StatusCode::CREATED, "{client}");
    let id = client["instances"][0]["id"].as_i64().unwrap();
    app.wait_phase(id, &["running"], UP).await;
    let db = app
        .config
        .instance_data_dir("chatty", "main")
        .join("app.db");
    eventually("the tenant writes rows", UP, || async {
        live_rows(&db).filter(|n| *n > 10)
    })
    .await;

    let mut backups = Vec::new();
    for _ in 0..20 {
        let b = app.backup_now(id).await;
        assert_eq!(b["status"], "ok", "{b}");
        assert_eq!(b["consistency"], "pause");
        assert!(
            b["freeze_ms"].as_u64().is_some() && b["sha256"].as_str().unwrap().len() == 64,
            "{b}"
        );
        backups.push(b);
    }
    let inst = app.instance(id).await;
    let container = inst["container_id"].as_str().unwrap();
    assert_eq!(
        app.docker(&["inspect", "-f", "{{.State.Paused}}", container]),
        "false",
        "left paused"
    );

    let scratch = tempfile::tempdir().unwrap();
    let mut last = 0;
    let mut oldest = None;
    for (n, b) in backups.iter().enumerate() {
        let out = scratch.path().join(n.to_string());
        berth::backup::archive::extract(&archive_path(&app, b), &out).unwrap();
        let rows = rows_in(&out.join("app.db"));
        if n == 0 {
            let conn = rusqlite::Connection::open(out.join("app.db")).unwrap();
            let max: i64 = conn
                .query_row("SELECT MAX(rowid) FROM t", [], |r| r.get(0))
                .unwrap();
            oldest = Some((max, rows_digest(&conn, max).unwrap()));
        }
        assert!(
            rows >= last,
            "backup {n} has {rows} rows, an older one had {last}"
        );
        last = rows;
        let (status, v) = app
            .post(&format!("/api/v1/backups/{}/verify", b["id"]), json!({}))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    }
    for b in &backups {
        let v = wait_verify(&app, b["id"].as_i64().unwrap()).await;
        assert_eq!(v["verify_state"], "ok", "{v}");
        assert!(
            v["verify_message"]
                .as_str()
                .unwrap()
                .contains("1 SQLite database(s)"),
            "{v}"
        );
    }
    let (_, history) = app.get(&format!("/api/v1/instances/{id}/backups")).await;
    assert_eq!(history.as_array().unwrap().len(), 20);

    // A real in-place restore of the oldest. Marks written after that backup
    // (a row in the live database, a file beside it) must be gone after it,
    // and the backup's rows exactly there.
    let (oldest_max, oldest_rows) = oldest.unwrap();
    assert!(oldest_rows.0 > 10, "{oldest_rows:?}");
    let data = app.config.instance_data_dir("chatty", "main");
    std::fs::write(data.join("after-backup.txt"), "written after the backups").unwrap();
    eventually("a marker row in the live database", UP, || async {
        let conn = rusqlite::Connection::open(&db).ok()?;
        conn.execute("INSERT INTO t VALUES(-1, x'6d61726b6572')", [])
            .ok()
    })
    .await;
    let (status, job) = app
        .post(
            &format!("/api/v1/backups/{}/restore", backups[0]["id"]),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let done = wait_restore(&app, job["id"].as_i64().unwrap()).await;
    assert_eq!(done["status"], "ok", "{done}");
    app.wait_phase(id, &["running"], UP).await;
    assert!(
        !data.join("after-backup.txt").exists(),
        "a file written after the backup survived the restore"
    );
    // The tenant writes on after its restart (rowids above the backup's);
    // read once it lets us.
    let (markers, restored) = eventually("the restored database read", UP, || async {
        let conn = rusqlite::Connection::open(&db).ok()?;
        let markers: i64 = conn
            .query_row("SELECT COUNT(*) FROM t WHERE i = -1", [], |r| r.get(0))
            .ok()?;
        Some((markers, rows_digest(&conn, oldest_max).ok()?))
    })
    .await;
    assert_eq!(
        markers, 0,
        "the row written after the backup survived the restore"
    );
    assert_eq!(
        restored, oldest_rows,
        "the restored rows (count, digest) differ from the backup's"
    );
}

/// `berth backup run` in its own process, pointed at this app's store and engine.
fn cli(app: &TestApp, args: &[&str], level: i32) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
    let c = &app.config;
    cmd.args(args)
        .env("BERTH_DATA_DIR", &c.data_dir)
        .env("BERTH_BLUEPRINT_DIR", c.blueprint_dir())
        .env("BERTH_PORT_RANGE", c.port_range.to_string())
        .env("BERTH_BASE_DOMAIN", &c.base_domain)
        .env("BERTH_DOCKER_OWNER", &c.docker.owner)
        .env("BERTH_DOCKER_NAME_PREFIX", &c.docker.name_prefix)
        .env("BERTH_CADDY_ADMIN", &c.caddy.admin)
        .env("BERTH_BACKUP_LEVEL", level.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_nine_during_a_backup_leaves_no_partial_archive() {
    let app = TestApp::spawn().await;
    app.create_plan("p", 0.5, "64MiB").await;
    let client = app.create_client("Killed", "p").await;
    let id = client["instances"][0]["id"].as_i64().unwrap();
    app.wait_phase(id, &["running"], UP).await;
    let older = app.backup_now(id).await;
    assert_eq!(older["status"], "ok", "{older}");
    let older_file = archive_path(&app, &older);
    let older_bytes = std::fs::read(&older_file).unwrap();

    // Enough incompressible data that level 19 takes a while.
    let data = app.config.instance_data_dir("killed", "main");
    let blob: Vec<u8> = (0..64u64 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8 ^ (i >> 20) as u8)
        .collect();
    std::fs::write(data.join("blob.bin"), &blob).unwrap();
    let mut child = cli(&app, &["backup", "run", "--instance", &id.to_string()], 19)
        .spawn()
        .unwrap();
    let running = eventually("the CLI's backup is running", UP, || async {
        let (_, list) = app.get(&format!("/api/v1/instances/{id}/backups")).await;
        list.as_array()
            .unwrap()
            .iter()
            .find(|b| b["status"] == "running" && b["bytes_done"].as_u64().unwrap_or(0) > 0)
            .cloned()
    })
    .await;
    let partial = PathBuf::from(format!(
        "{}.partial",
        archive_path(&app, &running).display()
    ));
    assert!(
        partial.exists(),
        "the archive is written under a temporary name"
    );
    let container = app.instance(id).await["container_id"]
        .as_str()
        .unwrap()
        .to_owned();
    // `pause` archives a staging copy taken in one short freeze: the
    // tenant runs while the archive is written.
    assert_eq!(
        app.docker(&["inspect", "-f", "{{.State.Paused}}", &container]),
        "false",
        "the tenant is paused while its archive is written"
    );
    let staging = berth::backup::snapshot::staging_dir(&data, running["id"].as_i64().unwrap());
    assert!(
        staging.is_dir(),
        "the archive is written from a staging copy"
    );
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();

    let failed = wait_backup(&app, running["id"].as_i64().unwrap()).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["message"].as_str().unwrap().contains("interrupted"),
        "{failed}"
    );
    assert!(
        failed["path"].is_null(),
        "a failed backup lists no archive: {failed}"
    );
    assert!(!partial.exists(), "partial archive removed");
    assert!(!staging.exists(), "staging copy removed");

    // Killed inside the freeze itself (the tenant paused, the copy being
    // brought up to date): the sweep thaws the tenant and removes the copy.
    let pause_file = tempfile::tempdir().unwrap();
    let pause_file = pause_file.path().join("paused");
    let mut child = cli(&app, &["backup", "run", "--instance", &id.to_string()], 3)
        .env("BERTH_TEST_PAUSE_AT", "backup-frozen")
        .env("BERTH_TEST_PAUSE_FILE", &pause_file)
        .spawn()
        .unwrap();
    eventually("the CLI's backup is frozen", UP, || async {
        (std::fs::read_to_string(&pause_file).ok()? == "backup-frozen").then_some(())
    })
    .await;
    assert_eq!(
        app.docker(&["inspect", "-f", "{{.State.Paused}}", &container]),
        "true"
    );
    let (_, list) = app.get(&format!("/api/v1/instances/{id}/backups")).await;
    let frozen = list
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["status"] == "running")
        .cloned()
        .expect("a running backup");
    let staging = berth::backup::snapshot::staging_dir(&data, frozen["id"].as_i64().unwrap());
    assert!(staging.is_dir(), "{} is staged", staging.display());
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let failed = wait_backup(&app, frozen["id"].as_i64().unwrap()).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    assert!(
        failed["message"].as_str().unwrap().contains("interrupted"),
        "{failed}"
    );
    eventually("the tenant is thawed", UP, || async {
        (app.docker(&["inspect", "-f", "{{.State.Paused}}", &container]) == "false").then_some(())
    })
    .await;
    assert!(!staging.exists(), "staging copy removed");

    std::fs::remove_file(data.join("blob.bin")).unwrap();
    let next = app.backup_now(id).await;
    assert_eq!(next["status"], "ok", "{next}");
    assert_eq!(
        std::fs::read(&older_file).unwrap(),
        older_bytes,
        "older archive untouched"
    );
    let listed: Vec<String> = std::fs::read_dir(older_file.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        listed
            .iter()
            .all(|n| n.ends_with(".tar.zst") || n.ends_with(".tar.zst.json")),
        "{listed:?}"
    );
    assert_eq!(listed.len(), 4, "two archives with manifests: {listed:?}");
}

/// What a reader saw through Caddy during a restore: the old site, then
/// the new one, never a mix, never a 404 or an empty page, and no other
/// failure than the one planned outage (the container is stopped for the
/// swap, so Caddy answers 502, or 503 if berth routes it to its "stopped"
/// page) in one piece between the two.
fn assert_served_old_then_new(seen: &[(u16, String)], old: &str, new: &str) {
    let summary: Vec<String> = seen
        .iter()
        .map(|(s, b)| format!("{s}:{}", b.chars().take(40).collect::<String>()))
        .collect();
    let phase = |(status, body): &(u16, String)| match (status, body.as_str()) {
        (200, b) if b == old => 0,
        (502 | 503, _) => 1,
        (200, b) if b == new => 2,
        _ => panic!("the reader saw {status} {body:?} during the restore: {summary:?}"),
    };
    let phases: Vec<u8> = seen.iter().map(phase).collect();
    let outage: std::collections::BTreeSet<u16> = seen
        .iter()
        .zip(&phases)
        .filter(|(_, p)| **p == 1)
        .map(|((s, _), _)| *s)
        .collect();
    eprintln!(
        "reader during the restore: {} old, {} outage {outage:?}, {} new",
        phases.iter().filter(|p| **p == 0).count(),
        phases.iter().filter(|p| **p == 1).count(),
        phases.iter().filter(|p| **p == 2).count()
    );
    assert!(
        phases.windows(2).all(|w| w[0] <= w[1]),
        "old, outage and new interleave: {summary:?}"
    );
    assert_eq!(
        phases.first(),
        Some(&0),
        "the reader started on the old site: {summary:?}"
    );
    assert_eq!(
        phases.last(),
        Some(&2),
        "the reader ended on the new site: {summary:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_swaps_atomically_and_a_failed_one_keeps_the_old_data_serving() {
    let app = TestApp::spawn().await;
    app.create_plan("p", 0.5, "64MiB").await;
    let client = app.create_client("Swap", "p").await;
    let id = client["instances"][0]["id"].as_i64().unwrap();
    let domain = client["instances"][0]["domains"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let data = app.config.instance_data_dir("swap", "main");
    app.wait_caddy(&domain, 200, UP).await;
    app.wait_phase(id, &["running"], UP).await;

    std::fs::write(data.join("index.html"), "version one").unwrap();
    let one = app.backup_now(id).await;
    std::fs::write(data.join("index.html"), "version two").unwrap();
    assert_eq!(app.through_caddy(&domain, "/").unwrap().1, "version two");

    // A reader polls the site through Caddy for the whole restore and
    // records every answer.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (addr, host, stop) = (
            format!("127.0.0.1:{}", app.caddy.http_port),
            domain.clone(),
            stop.clone(),
        );
        // Reads on after being told to stop until it has seen the restored
        // site itself (or given up after 500 more reads).
        std::thread::spawn(move || {
            let (mut seen, mut after_stop) = (Vec::new(), 0);
            loop {
                let answer = match crate::harness::try_http_get(&addr, &host, "/") {
                    Ok((status, body)) => (status, body),
                    Err(e) => (0, e.to_string()),
                };
                let restored = answer == (200, "version one".to_owned());
                seen.push(answer);
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    after_stop += 1;
                    if restored || after_stop > 500 {
                        return seen;
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        })
    };
    let (status, job) = app
        .post(&format!("/api/v1/backups/{}/restore", one["id"]), json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let done = wait_restore(&app, job["id"].as_i64().unwrap()).await;
    assert_eq!(done["status"], "ok", "{done}");
    assert_eq!(
        std::fs::read_to_string(data.join("index.html")).unwrap(),
        "version one"
    );
    app.wait_caddy(&domain, 200, UP).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let seen = reader.join().unwrap();
    assert_served_old_then_new(&seen, "version two", "version one");

    // A backup the app cannot serve from (no index.html → health check fails).
    std::fs::rename(data.join("index.html"), data.join("other.html")).unwrap();
    let broken = app.backup_now(id).await;
    std::fs::write(data.join("index.html"), "version three").unwrap();
    let (_, job) = app
        .post(
            &format!("/api/v1/backups/{}/restore", broken["id"]),
            json!({}),
        )
        .await;
    let done = wait_restore(&app, job["id"].as_i64().unwrap()).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(
        done["message"].as_str().unwrap().contains("rolled back"),
        "{done}"
    );
    assert_eq!(
        std::fs::read_to_string(data.join("index.html")).unwrap(),
        "version three"
    );
    app.wait_caddy(&domain, 200, UP).await;
    assert_eq!(app.through_caddy(&domain, "/").unwrap().1, "version three");

    // A damaged archive fails before the live data is touched.
    let file = archive_path(&app, &one);
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0xff;
    std::fs::write(&file, &bytes).unwrap();
    let (_, job) = app
        .post(&format!("/api/v1/backups/{}/restore", one["id"]), json!({}))
        .await;
    let done = wait_restore(&app, job["id"].as_i64().unwrap()).await;
    assert_eq!(done["status"], "failed", "{done}");
    assert!(
        done["message"].as_str().unwrap().contains("untouched"),
        "{done}"
    );
    assert_eq!(app.through_caddy(&domain, "/").unwrap().1, "version three");
    let leftovers: Vec<_> = std::fs::read_dir(data.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    eventually("old data removed", UP, || async {
        let names: Vec<String> = std::fs::read_dir(data.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        (names == ["main"]).then_some(())
    })
    .await;
    let _ = leftovers;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flipped_byte_fails_verification_loudly_and_clones_and_manifests_work() {
    let app = TestApp::spawn().await;
    app.create_plan("p", 0.5, "64MiB").await;
    let client = app.create_client("Flip", "p").await;
    let id = client["instances"][0]["id"].as_i64().unwrap();
    app.wait_phase(id, &["running"], UP).await;
    std::fs::write(
        app.config
            .instance_data_dir("flip", "main")
            .join("marker.txt"),
        "from main",
    )
    .unwrap();
    let b = app.backup_now(id).await;
    assert_eq!(b["status"], "ok", "{b}");
    // The first one finished, so a second is queued (409 only while one is
    // queued or running).
    let (status, again) = app
        .post(&format!("/api/v1/instances/{id}/backups"), json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    // While it is queued or running, a third is refused.
    let (status, third) = app
        .post(&format!("/api/v1/instances/{id}/backups"), json!({}))
        .await;
    let second = wait_backup(&app, again["id"].as_i64().unwrap()).await;
    assert_eq!(second["status"], "ok", "{second}");
    if status != StatusCode::ACCEPTED {
        assert_eq!(status, StatusCode::CONFLICT, "{third}");
        assert!(
            third["error"]
                .as_str()
                .unwrap()
                .contains("already queued or running"),
            "{third}"
        );
    } else {
        // The second finished before the third arrived: it ran too.
        wait_backup(&app, third["id"].as_i64().unwrap()).await;
    }

    // Clone into a new instance of the same client.
    let (status, job) = app
        .post(
            &format!("/api/v1/backups/{}/restore", b["id"]),
            json!({ "into": "copy" }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let done = wait_restore(&app, job["id"].as_i64().unwrap()).await;
    assert_eq!(done["status"], "ok", "{done}");
    let copy = app
        .config
        .instance_data_dir("flip", "copy")
        .join("marker.txt");
    assert_eq!(std::fs::read_to_string(copy).unwrap(), "from main");
    app.wait_phase(done["instance_id"].as_i64().unwrap(), &["running"], UP)
        .await;

    let file = archive_path(&app, &b);
    let mut bytes = std::fs::read(&file).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(&file, &bytes).unwrap();
    let (status, _) = app
        .post(&format!("/api/v1/backups/{}/verify", b["id"]), json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let v = wait_verify(&app, b["id"].as_i64().unwrap()).await;
    assert_eq!(v["verify_state"], "failed", "{v}");
    assert!(
        v["verify_message"]
            .as_str()
            .unwrap()
            .contains("sha256 mismatch"),
        "{v}"
    );

    // Bad input is a 4xx with a message, never a 500.
    let (status, e) = app.post("/api/v1/backups/999999/verify", json!({})).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{e}");
    let (status, e) = app
        .post(
            &format!("/api/v1/backups/{}/restore", b["id"]),
            json!({ "into": "Not A Name!" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let (status, e) = app
        .call(
            reqwest::Method::PUT,
            "/api/v1/plans/p/backup-policy",
            Some(json!({ "schedule": "whenever" })),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{e}");
    let (status, p) = app
        .call(
            reqwest::Method::PUT,
            "/api/v1/plans/p/backup-policy",
            Some(json!({ "schedule": "0 * * * *", "keep_last": 3 })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{p}");

    // The manifests alone rebuild the list: here every archive is already known.
    let (status, report) = app
        .post("/api/v1/backups/import-manifests", json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["imported"].as_array().unwrap().len(), 0, "{report}");
    assert!(report["already_known"].as_u64().unwrap() >= 1, "{report}");
    // The database lost: a fresh one learns every good archive from its manifest.
    let fresh = tempfile::tempdir().unwrap();
    let out = cli(&app, &["--json", "backup", "import-manifests"], 3)
        .env("BERTH_DATA_DIR", fresh.path())
        .env("BERTH_BACKUP_DIR", app.config.backup_dir())
        .stdout(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert!(out.status.success());
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (_, listed) = app.get(&format!("/api/v1/instances/{id}/backups")).await;
    let good = listed
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["status"] == "ok")
        .count();
    assert_eq!(
        report["imported"].as_array().unwrap().len(),
        good,
        "{report}"
    );
    let bad = cli(&app, &["backup", "show", "424242"], 3)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("backup 424242 not found"));
    let usage = cli(&app, &["backup", "run"], 3).output().unwrap();
    assert_eq!(usage.status.code(), Some(2));

    let (_, st) = app.get("/api/v1/backups/status").await;
    let mine = st
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["instance_id"] == id)
        .unwrap();
    assert_eq!(mine["stale"], false, "{mine}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_and_exec_consistency_and_a_failing_hook() {
    let app = TestApp::spawn_with(|c| {
        let dir = c.blueprint_dir.clone().unwrap();
        let base = std::fs::read_to_string(dir.join("static-site.toml")).unwrap();
        let with = |consistency: &str, extra: &str| {
            base.replace(
                "backup_consistency = \"pause\"",
                &format!("backup_consistency = \"{consistency}\"\n{extra}"),
            )
        };
        std::fs::write(dir.join("site-stop.toml"), with("stop", "")).unwrap();
        std::fs::write(
            dir.join("site-exec.toml"),
            with(
                "exec",
                "backup_exec = [\"/bin/sh\", \"-c\", \"date > /www/hooked.txt\"]",
            ),
        )
        .unwrap();
        std::fs::write(
            dir.join("site-badhook.toml"),
            with(
                "exec",
                "backup_exec = [\"/bin/sh\", \"-c\", \"echo no space; exit 3\"]",
            ),
        )
        .unwrap();
    })
    .await;
    app.create_plan("p", 0.5, "64MiB").await;
    let mut ids = Vec::new();
    for (name, bp) in [
        ("Stopper", "site-stop"),
        ("Hooker", "site-exec"),
        ("Badhook", "site-badhook"),
    ] {
        let (status, c) = app
            .post(
                "/api/v1/clients",
                json!({ "name": name, "email": "a@example.com", "plan": "p", "blueprint": bp }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
        let id = c["instances"][0]["id"].as_i64().unwrap();
        app.wait_phase(id, &["running"], UP).await;
        ids.push(id);
    }

    let stop = app.backup_now(ids[0]).await;
    assert_eq!(
        (stop["status"].as_str(), stop["consistency"].as_str()),
        (Some("ok"), Some("stop")),
        "{stop}"
    );
    assert!(stop["freeze_ms"].as_u64().unwrap() > 0, "{stop}");
    app.wait_phase(ids[0], &["running"], UP).await;

    let exec = app.backup_now(ids[1]).await;
    assert_eq!(
        (exec["status"].as_str(), exec["consistency"].as_str()),
        (Some("ok"), Some("exec")),
        "{exec}"
    );
    let out = tempfile::tempdir().unwrap();
    berth::backup::archive::extract(&archive_path(&app, &exec), out.path()).unwrap();
    assert!(
        out.path().join("hooked.txt").exists(),
        "the hook ran before archiving"
    );

    let bad = app.backup_now(ids[2]).await;
    assert_eq!(bad["status"], "failed", "{bad}");
    assert!(
        bad["message"]
            .as_str()
            .unwrap()
            .contains("exited with code 3"),
        "{bad}"
    );
    assert!(bad["path"].is_null());
    let dir = app.config.backup_dir().join("badhook/main");
    assert!(
        !dir.exists() || std::fs::read_dir(&dir).unwrap().next().is_none(),
        "no file from a failed backup"
    );
}
