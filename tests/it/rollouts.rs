//! Rollouts against a real registry on loopback, the real engine and Caddy.
//! One app image in four versions, differing only in `VERSION`: v1 serves
//! its data file; v2 (and v2b) migrate it on start, so a rollback needs the
//! data restored, not only the old image; v3 touches the data and never
//! becomes healthy.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{eventually, unique, Registry, TestApp};

pub(crate) const UP: Duration = Duration::from_secs(90);
pub(crate) const ROLLOUT: Duration = Duration::from_secs(240);

const SCRIPT: &str = r#"case "$VERSION" in
  v2) grep -q migrated /www/data.txt || echo migrated >> /www/data.txt ;;
  v2b) grep -q v2b /www/data.txt || echo v2b >> /www/data.txt ;;
  v3) echo v3-touched >> /www/data.txt; exec sleep 1000000 ;;
esac
echo "$VERSION" > /www/version
exec /bin/httpd -f -p 8080 -h /www"#;

/// Healthy when it serves; the exec hook fails while `/www/no-backup`
/// exists, which is how a test breaks one instance's pre-update backup.
pub(crate) fn blueprint(image: &str) -> String {
    format!(
        "description = \"versioned test app\"\nimage = \"{image}\"\ninternal_port = 8080\n\
         command = [\"/bin/sh\", \"-c\", '''{SCRIPT}''']\n\
         data_mount = \"/www\"\nbackup_consistency = \"exec\"\n\
         backup_exec = [\"/bin/sh\", \"-c\", \"test ! -e /www/no-backup\"]\n\
         cap_add = []\ndata_owner = \"0:0\"\n\
         [health]\ntest = [\"CMD\", \"/bin/wget\", \"-q\", \"-O\", \"/dev/null\", \"http://127.0.0.1:8080/version\"]\n\
         interval = 1\ntimeout = 1\nretries = 2\nstart_period = 0\n\
         [seed]\n\"data.txt\" = \"data of {{client}}\\n\"\n"
    )
}

/// The registry with v1, v2, v2b and v3 of one repository: (refs, ids) by version.
pub(crate) struct Versions {
    repo: String,
    ids: std::collections::HashMap<&'static str, String>,
}

impl Versions {
    fn push(registry: &Registry) -> Versions {
        let repo = format!("{}/{}", registry.addr, unique("berth-roll"));
        let ids = ["v1", "v2", "v2b", "v3"]
            .into_iter()
            .map(|v| {
                let env = format!("ENV VERSION={v}");
                (v, registry.push_busybox(&format!("{repo}:{v}"), &[&env]))
            })
            .collect();
        Versions { repo, ids }
    }

    pub(crate) fn image(&self, v: &str) -> String {
        format!("{}:{v}", self.repo)
    }

    pub(crate) fn id(&self, v: &str) -> &str {
        &self.ids[v]
    }
}

/// A client per name on blueprint "rollapp": (instance id, domain, slug).
async fn clients(app: &TestApp, names: &[&str]) -> Vec<(i64, String, String)> {
    app.create_plan("p", 0.2, "32MiB").await;
    let mut out = Vec::new();
    for name in names {
        let (status, c) = app
            .post("/api/v1/clients", json!({ "name": name, "email": "a@b.example", "plan": "p", "blueprint": "rollapp" }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
        let inst = &c["instances"][0];
        out.push((
            inst["id"].as_i64().unwrap(),
            inst["domains"][0].as_str().unwrap().to_owned(),
            c["slug"].as_str().unwrap().to_owned(),
        ));
    }
    for (id, domain, _) in &out {
        app.wait_phase(*id, &["running"], UP).await;
        eventually("the data file through caddy", UP, || async {
            app.through_caddy(domain, "/data.txt")
                .filter(|(s, _)| *s == 200)
        })
        .await;
    }
    out
}

async fn wait_rollout(app: &TestApp, id: i64, states: &[&str]) -> Value {
    eventually(
        &format!("rollout {id} reaches {states:?}"),
        ROLLOUT,
        || async {
            let (status, r) = app.get(&format!("/api/v1/rollouts/{id}")).await;
            assert_eq!(status, StatusCode::OK, "{r}");
            states.contains(&r["status"].as_str().unwrap()).then_some(r)
        },
    )
    .await
}

fn data(app: &TestApp, domain: &str) -> String {
    let (status, body) = app.through_caddy(domain, "/data.txt").unwrap();
    assert_eq!(status, 200, "{body}");
    body
}

/// Polls each domain through Caddy every 100 ms until stopped; the longest
/// stretch between two 200s per domain is that tenant's downtime.
struct Downtime {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    threads: Vec<std::thread::JoinHandle<Duration>>,
}

impl Downtime {
    fn watch(caddy: &str, domains: &[String]) -> Downtime {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let threads = domains
            .iter()
            .map(|d| {
                let (stop, caddy, d) = (stop.clone(), caddy.to_owned(), d.clone());
                std::thread::spawn(move || {
                    let (mut last_ok, mut worst) = (std::time::Instant::now(), Duration::ZERO);
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        if matches!(
                            crate::harness::try_http_get(&caddy, &d, "/version"),
                            Ok((200, _))
                        ) {
                            worst = worst.max(last_ok.elapsed());
                            last_ok = std::time::Instant::now();
                        }
                        std::thread::sleep(Duration::from_millis(100));
                    }
                    worst
                })
            })
            .collect();
        Downtime { stop, threads }
    }

    fn stop(self) -> Vec<Duration> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.threads
            .into_iter()
            .map(|t| t.join().unwrap())
            .collect()
    }
}

fn image_present(id: &str) -> bool {
    std::process::Command::new("docker")
        .args(["image", "inspect", id])
        .output()
        .unwrap()
        .status
        .success()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waves_rollback_with_data_failed_backup_and_old_images() {
    let registry = tokio::task::spawn_blocking(Registry::start).await.unwrap();
    let (v, _registry) = pushed(registry).await;
    let app = TestApp::spawn_with(|c| {
        c.updates.health_timeout = Duration::from_secs(60);
        // Retention keeps one backup: the rollback points must stay anyway.
        (c.backup.keep_last, c.backup.keep_daily) = (1, 0);
        (c.backup.keep_weekly, c.backup.keep_monthly) = (0, 0);
        let dir = c.blueprint_dir.clone().unwrap();
        std::fs::write(dir.join("rollapp.toml"), blueprint(&v.image("v1"))).unwrap();
    })
    .await;
    for tag in ["v1", "v2", "v2b", "v3"] {
        app.guard.track_image(&v.image(tag));
    }
    let names = ["Roll A", "Roll B", "Roll C", "Roll D", "Roll E"];
    let inst = clients(&app, &names).await;
    for (id, _, _) in &inst {
        let i = app.instance(*id).await;
        assert_eq!(i["image_id"], v.id("v1"));
        assert_eq!(
            i["desired_image_id"],
            v.id("v1"),
            "adopted from the first container"
        );
    }

    // (d) A failing pre-update backup stops that instance's update.
    let (first, first_domain, first_slug) = inst[0].clone();
    let no_backup = app
        .data_dir()
        .join(format!("instances/{first_slug}/main/no-backup"));
    std::fs::write(&no_backup, "").unwrap();
    let container = app.instance(first).await["container_id"].clone();
    let (status, r) = app
        .post(
            "/api/v1/rollouts",
            json!({ "blueprint": "rollapp", "tag": "v2", "instances": [first] }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let r = wait_rollout(&app, r["id"].as_i64().unwrap(), &["failed", "halted"]).await;
    assert_eq!(r["status"], "failed", "{r}");
    let step = &r["steps"][0];
    assert_eq!(step["state"], "failed", "{r}");
    assert!(step["message"].as_str().unwrap().contains("backup"), "{r}");
    let i = app.instance(first).await;
    assert_eq!(
        (&i["image_id"], &i["container_id"]),
        (&json!(v.id("v1")), &container)
    );
    assert_eq!(data(&app, &first_domain), format!("data of {first_slug}\n"));
    std::fs::remove_file(&no_backup).unwrap();

    // Input errors are 4xx with a message.
    for (body, want) in [
        (
            json!({ "blueprint": "nope" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "blueprint": "rollapp", "waves": "all,1" }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        (
            json!({ "blueprint": "rollapp", "instances": [999999] }),
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let (status, err) = app.post("/api/v1/rollouts", body.clone()).await;
        assert_eq!(status, want, "{body}: {err}");
    }
    let (status, err) = app
        .post(&format!("/api/v1/instances/{first}/rollback"), json!({}))
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "never updated: {err}"
    );

    // (a) v1 → v2 in waves 1,2,all: all on v2, data migrated, a backup before each.
    let t0 = std::time::Instant::now();
    let domains: Vec<String> = inst.iter().map(|(_, d, _)| d.clone()).collect();
    let caddy = format!("127.0.0.1:{}", app.config.caddy.http_port);
    let watch = Downtime::watch(&caddy, &domains);
    let (status, r) = app
        .post(
            "/api/v1/rollouts",
            json!({ "blueprint": "rollapp", "tag": "v2", "waves": "1,2,all" }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let a = r["id"].as_i64().unwrap();
    let (status, err) = app
        .post(
            "/api/v1/rollouts",
            json!({ "blueprint": "rollapp", "tag": "v2" }),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "one rollout per instance: {err}"
    );
    let r = wait_rollout(&app, a, &["done", "failed", "halted"]).await;
    assert_eq!(r["status"], "done", "{r:#}");
    let took = t0.elapsed();
    let gaps: Vec<u128> = watch.stop().into_iter().map(|d| d.as_millis()).collect();
    println!(
        "rollout of 5 instances in waves 1,2,all (pull included): {} ms; longest gap between 200s per tenant (ms, 100 ms polls): {gaps:?}",
        took.as_millis()
    );
    let waves: Vec<i64> = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["wave"].as_i64().unwrap())
        .collect();
    assert_eq!(waves, vec![1, 2, 2, 3, 3]);
    for s in r["steps"].as_array().unwrap() {
        assert_eq!(s["state"], "succeeded", "{s}");
        assert_eq!(
            (&s["from_image_id"], &s["to_image_id"]),
            (&json!(v.id("v1")), &json!(v.id("v2")))
        );
        let (_, b) = app
            .get(&format!("/api/v1/backups/{}", s["backup_id"]))
            .await;
        assert_eq!(
            (&b["status"], &b["trigger"]),
            (&json!("ok"), &json!("rollout")),
            "{b}"
        );
    }
    for (id, domain, slug) in &inst {
        let i = app.instance(*id).await;
        assert_eq!(
            (&i["image_id"], &i["desired_image_id"]),
            (&json!(v.id("v2")), &json!(v.id("v2")))
        );
        assert_eq!(data(&app, domain), format!("data of {slug}\nmigrated\n"));
    }
    assert!(
        image_present(v.id("v1")),
        "v1 is every instance's rollback point"
    );
    // A newer backup does not prune the rollback point (keep_last = 1).
    let (third, _, _) = &inst[2];
    let point = r["steps"][2]["backup_id"].as_i64().unwrap();
    let (status, newer) = app
        .post(&format!("/api/v1/instances/{third}/backups"), json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{newer}");
    eventually("the newer backup", UP, || async {
        let (_, b) = app.get(&format!("/api/v1/backups/{}", newer["id"])).await;
        (b["status"] == "ok").then_some(())
    })
    .await;
    let (status, kept) = app.get(&format!("/api/v1/backups/{point}")).await;
    assert_eq!(
        (status, &kept["status"]),
        (StatusCode::OK, &json!("ok")),
        "{kept}"
    );

    // (b) v2 → v3: the canary is unhealthy, rolled back to v2 with its
    // pre-update data; the rollout halts; the other four are untouched.
    let before: Vec<Value> =
        futures_util::future::join_all(inst.iter().map(|(id, _, _)| app.instance(*id))).await;
    let (status, r) = app
        .post(
            "/api/v1/rollouts",
            json!({ "blueprint": "rollapp", "tag": "v3" }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let b = r["id"].as_i64().unwrap();
    let r = wait_rollout(&app, b, &["halted", "done", "failed"]).await;
    assert_eq!(r["status"], "halted", "{r:#}");
    let steps = r["steps"].as_array().unwrap();
    assert_eq!(steps[0]["state"], "rolled_back", "{r:#}");
    assert!(steps[1..].iter().all(|s| s["state"] == "pending"), "{r:#}");
    let (canary, canary_domain, canary_slug) = &inst[0];
    assert_eq!(
        data(&app, canary_domain),
        format!("data of {canary_slug}\nmigrated\n")
    );
    let i = app.instance(*canary).await;
    assert_eq!(
        (&i["image_id"], &i["desired_image_id"]),
        (&json!(v.id("v2")), &json!(v.id("v2")))
    );
    assert_eq!(i["phase"], "running");
    for (k, (id, domain, slug)) in inst.iter().enumerate().skip(1) {
        let i = app.instance(*id).await;
        assert_eq!(i["container_id"], before[k]["container_id"], "untouched");
        assert_eq!(i["image_id"], v.id("v2"));
        assert_eq!(data(&app, domain), format!("data of {slug}\nmigrated\n"));
    }
    let (status, err) = app
        .post(&format!("/api/v1/instances/{canary}/rollback"), json!({}))
        .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "rolled back already: {err}"
    );

    // A halted rollout holds nobody: v2 → v2b for all, then old images go:
    // v1 is no rollback point any more; v2 is; v3 belongs to the halted rollout.
    let (status, r) = app
        .post(
            "/api/v1/rollouts",
            json!({ "blueprint": "rollapp", "tag": "v2b", "waves": "all" }),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let r = wait_rollout(
        &app,
        r["id"].as_i64().unwrap(),
        &["done", "failed", "halted"],
    )
    .await;
    assert_eq!(r["status"], "done", "{r:#}");
    eventually("v1 removed", UP, || async {
        (!image_present(v.id("v1"))).then_some(())
    })
    .await;
    assert!(image_present(v.id("v2")) && image_present(v.id("v3")));

    // Manual rollback: back to v2 with the data from before v2b.
    let (second, second_domain, second_slug) = &inst[1];
    let (status, r) = app
        .post(&format!("/api/v1/instances/{second}/rollback"), json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    assert_eq!(r["kind"], "rollback");
    let r = wait_rollout(
        &app,
        r["id"].as_i64().unwrap(),
        &["done", "failed", "halted"],
    )
    .await;
    assert_eq!(r["status"], "done", "{r:#}");
    let i = app.instance(*second).await;
    assert_eq!(i["image_id"], v.id("v2"));
    assert_eq!(
        data(&app, second_domain),
        format!("data of {second_slug}\nmigrated\n")
    );
    let (status, _) = app
        .post(&format!("/api/v1/instances/{second}/rollback"), json!({}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (_, list) = app.get("/api/v1/rollouts").await;
    assert_eq!(list.as_array().unwrap().len(), 5);
}

/// The versions pushed to `registry`, which stays up beside them.
pub(crate) async fn pushed(registry: Registry) -> (Versions, Registry) {
    tokio::task::spawn_blocking(move || (Versions::push(&registry), registry))
        .await
        .unwrap()
}
