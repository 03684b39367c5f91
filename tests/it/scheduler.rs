//! The backup scheduler and retention inside the running daemon: schedules
//! fire (a 1 s tick and seconds-first cron expressions, so a test waits
//! seconds, not minutes), the concurrency cap holds, a plan's policy
//! overrides the global schedule, pruning removes archive + manifest + row
//! but keeps the newest verified backup, `verify_schedule` re-verifies, the
//! failure webhook is called and the stale flag shows.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use berth::config::Config;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{eventually, skip_docker, TestApp};

const UP: Duration = Duration::from_secs(90);
/// Long enough for a few schedule occurrences plus the backups they queue.
const SCHEDULED: Duration = Duration::from_secs(60);

/// Writes `<name>.toml`: the test's static-site blueprint with other backup
/// settings (`lines` replace its `backup_consistency`).
fn blueprint_variant(config: &Config, name: &str, lines: &str) {
    let dir = config.blueprint_dir.clone().unwrap();
    let base = std::fs::read_to_string(dir.join("static-site.toml")).unwrap();
    let text = base.replace("backup_consistency = \"pause\"", lines);
    assert_ne!(text, base, "static-site.toml changed shape");
    std::fs::write(dir.join(format!("{name}.toml")), text).unwrap();
}

/// Every backup takes at least two seconds (its hook sleeps), so backups
/// that run at the same time overlap long enough to be seen.
const SLOW: &str =
    "backup_consistency = \"exec\"\nbackup_exec = [\"/bin/sh\", \"-c\", \"sleep 2\"]";
/// Every backup fails: its hook exits 1.
const BROKEN: &str = "backup_consistency = \"exec\"\nbackup_exec = [\"/bin/false\"]";

async fn create(app: &TestApp, name: &str, plan: &str, blueprint: &str) -> i64 {
    let (status, body) = app
        .post(
            "/api/v1/clients",
            json!({ "name": name, "email": "ops@example.com", "plan": plan, "blueprint": blueprint }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["instances"][0]["id"].as_i64().unwrap();
    app.wait_phase(id, &["running"], UP).await;
    id
}

async fn backups(app: &TestApp, instance: i64) -> Vec<Value> {
    let (status, body) = app
        .get(&format!("/api/v1/instances/{instance}/backups"))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body.as_array().unwrap().clone()
}

async fn set_policy(app: &TestApp, plan: &str, policy: Value) {
    let (status, body) = app
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/plans/{plan}/backup-policy"),
            Some(policy),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

fn scheduled_ok(list: &[Value]) -> usize {
    list.iter()
        .filter(|b| b["trigger"] == "schedule" && b["status"] == "ok")
        .count()
}

/// Backups running right now, read in one statement so the count is one
/// instant's truth (several API calls would each see a different instant).
fn running_now(db: &std::path::Path) -> i64 {
    let conn = rusqlite::Connection::open_with_flags(
        db,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap();
    conn.busy_timeout(Duration::from_secs(5)).unwrap();
    conn.query_row(
        "SELECT COUNT(*) FROM backups WHERE status = 'running'",
        [],
        |r| r.get(0),
    )
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_schedule_fires_within_the_concurrency_cap_and_a_plan_policy_overrides_it() {
    if skip_docker() {
        return;
    }
    let app = TestApp::spawn_with(|c| {
        c.backup.schedule = "*/3 * * * * *".into();
        c.backup.verify_schedule = String::new();
        c.backup.schedule_tick = Duration::from_secs(1);
        c.backup.concurrency = 2;
        blueprint_variant(c, "slow-site", SLOW);
    })
    .await;
    app.create_plan("p", 0.25, "32MiB").await;
    app.create_plan("quiet", 0.25, "32MiB").await;
    // The plan's own schedule (1 January only) replaces the global one.
    set_policy(&app, "quiet", json!({ "schedule": "0 0 1 1 *" })).await;

    let mut busy = Vec::new();
    for n in 0..4 {
        busy.push(create(&app, &format!("Busy {n}"), "p", "slow-site").await);
    }
    let quiet = create(&app, "Quiet", "quiet", "slow-site").await;

    // Watch the store until every busy instance has two scheduled backups,
    // remembering the most that were ever running at once.
    let db = app.config.db_path();
    let mut most = 0;
    eventually(
        "two scheduled backups of every busy instance",
        SCHEDULED,
        || {
            most = most.max(running_now(&db));
            let (app, busy) = (&app, &busy);
            async move {
                for id in busy {
                    if scheduled_ok(&backups(app, *id).await) < 2 {
                        return None;
                    }
                }
                Some(())
            }
        },
    )
    .await;
    // Poll faster than the two-second backups while they keep coming.
    for _ in 0..60 {
        most = most.max(running_now(&db));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        most, 2,
        "with concurrency = 2 and four instances due together, exactly two backups run at once"
    );
    for id in &busy {
        let list = backups(&app, *id).await;
        assert!(
            list.iter()
                .filter(|b| b["trigger"] == "schedule")
                .all(|b| matches!(b["status"].as_str(), Some("ok" | "queued" | "running"))),
            "{list:?}"
        );
    }
    assert_eq!(
        backups(&app, quiet).await,
        Vec::<Value>::new(),
        "the plan's schedule, not the global one, applies to its instances"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_schedule_runs_with_the_global_off_and_prune_keeps_the_newest_verified() {
    if skip_docker() {
        return;
    }
    let app = TestApp::spawn_with(|c| {
        c.backup.schedule = String::new();
        c.backup.verify_schedule = String::new();
        c.backup.schedule_tick = Duration::from_secs(1);
    })
    .await;
    app.create_plan("own", 0.25, "32MiB").await;
    app.create_plan("p", 0.25, "32MiB").await;
    let keeper = create(&app, "Keeper", "own", "static-site").await;
    let idle = create(&app, "Idle", "p", "static-site").await;

    // The oldest backup is the only verified one: only that rule keeps it.
    let verified = app.backup_now(keeper).await;
    assert_eq!(verified["status"], "ok", "{verified}");
    let vid = verified["id"].as_i64().unwrap();
    let (status, body) = app
        .post(&format!("/api/v1/backups/{vid}/verify"), json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    eventually("the first backup verified", UP, || async {
        let (_, b) = app.get(&format!("/api/v1/backups/{vid}")).await;
        (b["verify_state"] == "ok").then_some(())
    })
    .await;
    set_policy(
        &app,
        "own",
        json!({ "schedule": "*/2 * * * * *", "keep_last": 2, "keep_daily": 0, "keep_weekly": 0, "keep_monthly": 0 }),
    )
    .await;

    // Remember every scheduled backup seen; wait until one of them is pruned.
    let mut seen: Vec<Value> = Vec::new();
    let end = Instant::now() + SCHEDULED;
    let pruned = loop {
        let list = backups(&app, keeper).await;
        let ids: HashSet<i64> = list.iter().map(|b| b["id"].as_i64().unwrap()).collect();
        if let Some(gone) = seen
            .iter()
            .find(|b| !ids.contains(&b["id"].as_i64().unwrap()))
        {
            break gone.clone();
        }
        for b in list {
            if b["trigger"] == "schedule"
                && b["status"] == "ok"
                && !seen.iter().any(|s| s["id"] == b["id"])
            {
                seen.push(b);
            }
        }
        assert!(
            Instant::now() < end,
            "no scheduled backup was pruned within {SCHEDULED:?}: {seen:?}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };

    let pid = pruned["id"].as_i64().unwrap();
    let (status, _) = app.get(&format!("/api/v1/backups/{pid}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the pruned row is gone");
    let archive: PathBuf = app
        .config
        .backup_dir()
        .join(pruned["path"].as_str().unwrap());
    assert!(!archive.exists(), "{} still exists", archive.display());
    let manifest = berth::backup::archive::manifest_path(&archive);
    assert!(!manifest.exists(), "{} still exists", manifest.display());

    let list = backups(&app, keeper).await;
    let ok: Vec<&Value> = list.iter().filter(|b| b["status"] == "ok").collect();
    assert!(
        ok.iter().any(|b| b["id"] == vid),
        "the newest verified backup is kept: {list:?}"
    );
    assert!(ok.len() <= 3, "keep_last 2 + the verified one: {list:?}");
    let kept = app
        .config
        .backup_dir()
        .join(verified["path"].as_str().unwrap());
    assert!(kept.is_file() && berth::backup::archive::manifest_path(&kept).is_file());
    assert_eq!(
        backups(&app, idle).await,
        Vec::<Value>::new(),
        "the global schedule is off, so an instance of a plan without one gets none"
    );
}

/// A local stand-in for the operator's webhook: records every JSON body.
pub(crate) async fn webhook_receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let sink = got.clone();
    let router = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let sink = sink.clone();
            async move {
                sink.lock().unwrap().push(body);
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, got)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_schedule_reverifies_failures_reach_the_webhook_and_old_backups_show_stale() {
    if skip_docker() {
        return;
    }
    let (hook, received) = webhook_receiver().await;
    let app = TestApp::spawn_with(|c| {
        c.backup.schedule = String::new();
        c.backup.verify_schedule = "*/2 * * * * *".into();
        c.backup.schedule_tick = Duration::from_secs(1);
        c.backup.failure_webhook = Some(hook);
        c.backup.stale_after = Duration::from_secs(3600);
        blueprint_variant(c, "broken-site", BROKEN);
    })
    .await;
    app.create_plan("p", 0.25, "32MiB").await;
    let fresh = create(&app, "Fresh", "p", "static-site").await;
    let old = create(&app, "Old", "p", "static-site").await;
    let broken = create(&app, "Broken", "p", "broken-site").await;

    // A failing backup calls the webhook with its id and cause.
    let failed = app.backup_now(broken).await;
    assert_eq!(failed["status"], "failed", "{failed}");
    let fid = failed["id"].as_i64().unwrap();
    let event = eventually("the backup.failed webhook", UP, || async {
        let got = received.lock().unwrap().clone();
        got.into_iter()
            .find(|e| e["event"] == "backup.failed" && e["id"] == fid)
    })
    .await;
    assert!(
        event["instance"].as_str().unwrap().starts_with("broken"),
        "{event}"
    );
    assert!(
        event["error"].as_str().unwrap().contains("code 1"),
        "{event}"
    );

    // The verify schedule verifies the newest backup without being asked...
    let b = app.backup_now(fresh).await;
    assert_eq!(b["status"], "ok", "{b}");
    let bid = b["id"].as_i64().unwrap();
    eventually("the scheduled verification", UP, || async {
        let (_, v) = app.get(&format!("/api/v1/backups/{bid}")).await;
        (v["verify_state"] == "ok").then_some(())
    })
    .await;
    // ...and again later: a damaged archive is caught and reported.
    let archive = app.config.backup_dir().join(b["path"].as_str().unwrap());
    let mut bytes = std::fs::read(&archive).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0xff;
    std::fs::write(&archive, bytes).unwrap();
    let v = eventually("the scheduled re-verification fails", UP, || async {
        let (_, v) = app.get(&format!("/api/v1/backups/{bid}")).await;
        (v["verify_state"] == "failed").then_some(v)
    })
    .await;
    assert!(
        v["verify_message"].as_str().unwrap().contains("sha256"),
        "{v}"
    );
    eventually("the verify.failed webhook", UP, || async {
        let got = received.lock().unwrap().clone();
        got.into_iter()
            .find(|e| e["event"] == "verify.failed" && e["id"] == bid)
    })
    .await;

    // Stale: the newest good backup is older than stale_after (aged in the
    // store: waiting an hour is not a test).
    let b = app.backup_now(old).await;
    assert_eq!(b["status"], "ok", "{b}");
    let conn = rusqlite::Connection::open(app.config.db_path()).unwrap();
    conn.busy_timeout(Duration::from_secs(10)).unwrap();
    let aged = conn
        .execute(
            "UPDATE backups SET finished_at = '2026-01-01T00:00:00Z' WHERE instance_id = ?1",
            [old],
        )
        .unwrap();
    assert_eq!(aged, 1);
    drop(conn);
    let (status, list) = app.get("/api/v1/backups/status").await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let stale = |id: i64| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|s| s["instance_id"] == id)
            .unwrap_or_else(|| panic!("instance {id} missing from {list}"))["stale"]
            .clone()
    };
    assert_eq!(stale(old), json!(true), "{list}");
    assert_eq!(stale(fresh), json!(false), "{list}");
    // No good backup yet, but created just now: not stale either.
    assert_eq!(stale(broken), json!(false), "{list}");
}
