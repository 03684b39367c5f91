//! Rollouts against a real registry on loopback, the real engine and Caddy.
//! One app image in four versions, differing only in `VERSION`: v1 serves
//! its data file; v2 (and v2b) migrate it on start, so a rollback needs the
//! data restored, not only the old image; v3 touches the data and never
//! becomes healthy.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{
    api_client, berth_cli, docker, eventually, unique, BerthProcess, ChildSetup, Registry,
    TestApp,
};

const UP: Duration = Duration::from_secs(90);
const ROLLOUT: Duration = Duration::from_secs(240);

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
            app.through_caddy(domain, "/data.txt").filter(|(s, _)| *s == 200)
        })
        .await;
    }
    out
}

async fn wait_rollout(app: &TestApp, id: i64, states: &[&str]) -> Value {
    eventually(&format!("rollout {id} reaches {states:?}"), ROLLOUT, || async {
        let (status, r) = app.get(&format!("/api/v1/rollouts/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{r}");
        states.contains(&r["status"].as_str().unwrap()).then_some(r)
    })
    .await
}

fn data(app: &TestApp, domain: &str) -> String {
    let (status, body) = app.through_caddy(domain, "/data.txt").unwrap();
    assert_eq!(status, 200, "{body}");
    body
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
        assert_eq!(i["desired_image_id"], v.id("v1"), "adopted from the first container");
    }

    // (d) A failing pre-update backup stops that instance's update.
    let (first, first_domain, first_slug) = inst[0].clone();
    let no_backup = app.data_dir().join(format!("instances/{first_slug}/main/no-backup"));
    std::fs::write(&no_backup, "").unwrap();
    let container = app.instance(first).await["container_id"].clone();
    let (status, r) = app
        .post("/api/v1/rollouts", json!({ "blueprint": "rollapp", "tag": "v2", "instances": [first] }))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let r = wait_rollout(&app, r["id"].as_i64().unwrap(), &["failed", "halted"]).await;
    assert_eq!(r["status"], "failed", "{r}");
    let step = &r["steps"][0];
    assert_eq!(step["state"], "failed", "{r}");
    assert!(step["message"].as_str().unwrap().contains("backup"), "{r}");
    let i = app.instance(first).await;
    assert_eq!((&i["image_id"], &i["container_id"]), (&json!(v.id("v1")), &container));
    assert_eq!(data(&app, &first_domain), format!("data of {first_slug}\n"));
    std::fs::remove_file(&no_backup).unwrap();

    // Input errors are 4xx with a message.
    for (body, want) in [
        (json!({ "blueprint": "nope" }), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({ "blueprint": "rollapp", "waves": "all,1" }), StatusCode::UNPROCESSABLE_ENTITY),
        (json!({ "blueprint": "rollapp", "instances": [999999] }), StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let (status, err) = app.post("/api/v1/rollouts", body.clone()).await;
        assert_eq!(status, want, "{body}: {err}");
    }
    let (status, err) = app.post(&format!("/api/v1/instances/{first}/rollback"), json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "never updated: {err}");

    // (a) v1 → v2 in waves 1,2,all: all on v2, data migrated, a backup before each.
    let t0 = std::time::Instant::now();
    let (status, r) = app
        .post("/api/v1/rollouts", json!({ "blueprint": "rollapp", "tag": "v2", "waves": "1,2,all" }))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let a = r["id"].as_i64().unwrap();
    let (status, err) = app
        .post("/api/v1/rollouts", json!({ "blueprint": "rollapp", "tag": "v2" }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "one rollout per instance: {err}");
    let r = wait_rollout(&app, a, &["done", "failed", "halted"]).await;
    assert_eq!(r["status"], "done", "{r:#}");
    println!("rollout of 5 instances in waves 1,2,all: {} ms", t0.elapsed().as_millis());
    let waves: Vec<i64> = r["steps"].as_array().unwrap().iter().map(|s| s["wave"].as_i64().unwrap()).collect();
    assert_eq!(waves, vec![1, 2, 2, 3, 3]);
    for s in r["steps"].as_array().unwrap() {
        assert_eq!(s["state"], "succeeded", "{s}");
        assert_eq!((&s["from_image_id"], &s["to_image_id"]), (&json!(v.id("v1")), &json!(v.id("v2"))));
        let (_, b) = app.get(&format!("/api/v1/backups/{}", s["backup_id"])).await;
        assert_eq!((&b["status"], &b["trigger"]), (&json!("ok"), &json!("rollout")), "{b}");
    }
    for (id, domain, slug) in &inst {
        let i = app.instance(*id).await;
        assert_eq!((&i["image_id"], &i["desired_image_id"]), (&json!(v.id("v2")), &json!(v.id("v2"))));
        assert_eq!(data(&app, domain), format!("data of {slug}\nmigrated\n"));
    }
    assert!(image_present(v.id("v1")), "v1 is every instance's rollback point");

    // (b) v2 → v3: the canary is unhealthy, rolled back to v2 with its
    // pre-update data; the rollout halts; the other four are untouched.
    let before: Vec<Value> = futures_util::future::join_all(inst.iter().map(|(id, _, _)| app.instance(*id))).await;
    let (status, r) = app
        .post("/api/v1/rollouts", json!({ "blueprint": "rollapp", "tag": "v3" }))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let b = r["id"].as_i64().unwrap();
    let r = wait_rollout(&app, b, &["halted", "done", "failed"]).await;
    assert_eq!(r["status"], "halted", "{r:#}");
    let steps = r["steps"].as_array().unwrap();
    assert_eq!(steps[0]["state"], "rolled_back", "{r:#}");
    assert!(steps[1..].iter().all(|s| s["state"] == "pending"), "{r:#}");
    let (canary, canary_domain, canary_slug) = &inst[0];
    assert_eq!(data(&app, canary_domain), format!("data of {canary_slug}\nmigrated\n"));
    let i = app.instance(*canary).await;
    assert_eq!((&i["image_id"], &i["desired_image_id"]), (&json!(v.id("v2")), &json!(v.id("v2"))));
    assert_eq!(i["phase"], "running");
    for (k, (id, domain, slug)) in inst.iter().enumerate().skip(1) {
        let i = app.instance(*id).await;
        assert_eq!(i["container_id"], before[k]["container_id"], "untouched");
        assert_eq!(i["image_id"], v.id("v2"));
        assert_eq!(data(&app, domain), format!("data of {slug}\nmigrated\n"));
    }
    let (status, err) = app.post(&format!("/api/v1/instances/{canary}/rollback"), json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "rolled back already: {err}");

    // A halted rollout holds nobody: v2 → v2b for all, then old images go:
    // v1 is no rollback point any more; v2 is; v3 belongs to the halted rollout.
    let (status, r) = app
        .post("/api/v1/rollouts", json!({ "blueprint": "rollapp", "tag": "v2b", "waves": "all" }))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let r = wait_rollout(&app, r["id"].as_i64().unwrap(), &["done", "failed", "halted"]).await;
    assert_eq!(r["status"], "done", "{r:#}");
    eventually("v1 removed", UP, || async { (!image_present(v.id("v1"))).then_some(()) }).await;
    assert!(image_present(v.id("v2")) && image_present(v.id("v3")));

    // Manual rollback: back to v2 with the data from before v2b.
    let (second, second_domain, second_slug) = &inst[1];
    let (status, r) = app.post(&format!("/api/v1/instances/{second}/rollback"), json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    assert_eq!(r["kind"], "rollback");
    let r = wait_rollout(&app, r["id"].as_i64().unwrap(), &["done", "failed", "halted"]).await;
    assert_eq!(r["status"], "done", "{r:#}");
    let i = app.instance(*second).await;
    assert_eq!(i["image_id"], v.id("v2"));
    assert_eq!(data(&app, second_domain), format!("data of {second_slug}\nmigrated\n"));
    let (status, _) = app.post(&format!("/api/v1/instances/{second}/rollback"), json!({})).await;
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

/// SIGKILL mid-rollout: the restarted daemon finishes every step (each
/// either updated or rolled back), and every instance runs the image it is
/// pinned to, with data matching it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_rollout_the_restart_finishes_consistently() {
    let registry = tokio::task::spawn_blocking(Registry::start).await.unwrap();
    let (v, _registry) = pushed(registry).await;
    let setup = ChildSetup::new("rollcrash").await;
    let token = setup.create_token("crash");
    let ChildSetup { dir: _dir, guard, caddy: _caddy, config, .. } = setup;
    for tag in ["v1", "v2", "v2b", "v3"] {
        guard.track_image(&v.image(tag));
    }
    let bp_dir = config.blueprint_dir.clone().unwrap();
    std::fs::write(bp_dir.join("rollapp.toml"), blueprint(&v.image("v1"))).unwrap();
    let (code, _, err) = berth_cli(&config, &["plan", "create", "p", "--cpus", "0.2", "--memory", "32MiB"]);
    assert_eq!(code, 0, "{err}");
    let http = api_client(Duration::from_secs(30));
    let mut daemon = BerthProcess::start(&config);
    daemon.wait_healthy(&http, &config).await;
    let api = daemon.api.clone();
    let call = |method: reqwest::Method, path: String, body: Value| {
        let (http, api, token) = (http.clone(), api.clone(), token.clone());
        async move {
            let r = http.request(method, format!("{api}{path}")).bearer_auth(token).json(&body).send().await.unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let mut ids = Vec::new();
    for n in 0..3 {
        let (status, c) = call(reqwest::Method::POST, "/api/v1/clients".into(),
            json!({ "name": format!("Crash {n}"), "email": "a@b.example", "plan": "p", "blueprint": "rollapp" })).await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
        ids.push((c["instances"][0]["id"].as_i64().unwrap(), c["slug"].as_str().unwrap().to_owned()));
    }
    for (id, _) in &ids {
        eventually("instance running", UP, || async {
            let (_, i) = call(reqwest::Method::GET, format!("/api/v1/instances/{id}"), Value::Null).await;
            (i["phase"] == "running" && i["desired_image_id"] == v.id("v1")).then_some(())
        })
        .await;
    }
    let (status, r) = call(reqwest::Method::POST, "/api/v1/rollouts".into(),
        json!({ "blueprint": "rollapp", "tag": "v2", "waves": "1,all" })).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let rid = r["id"].as_i64().unwrap();
    // Kill while a step is under way: its backup taken or the new container coming up.
    let seen = eventually("a step under way", UP, || async {
        let (_, r) = call(reqwest::Method::GET, format!("/api/v1/rollouts/{rid}"), Value::Null).await;
        r["steps"].as_array()?.iter()
            .find(|s| s["state"] == "updating" || s["state"] == "backing_up")
            .map(|s| s["state"].as_str().unwrap().to_owned())
    })
    .await;
    daemon.kill9();
    println!("killed with a step {seen}");
    let mut daemon = BerthProcess::start(&config);
    daemon.wait_healthy(&http, &config).await;
    let api = daemon.api.clone();
    let get = |path: String| {
        let (http, api, token) = (http.clone(), api.clone(), token.clone());
        async move {
            let r = http.get(format!("{api}{path}")).bearer_auth(token).send().await.unwrap();
            r.json::<Value>().await.unwrap()
        }
    };
    let r = eventually("the rollout finishes after the restart", ROLLOUT, || async {
        let r = get(format!("/api/v1/rollouts/{rid}")).await;
        matches!(r["status"].as_str(), Some("done" | "failed" | "halted")).then_some(r)
    })
    .await;
    assert_eq!(r["status"], "done", "{r:#}");
    for (s, (id, slug)) in r["steps"].as_array().unwrap().iter().zip(&ids) {
        assert_eq!(s["state"], "succeeded", "{s}");
        let i = get(format!("/api/v1/instances/{id}")).await;
        assert_eq!((&i["image_id"], &i["desired_image_id"]), (&json!(v.id("v2")), &json!(v.id("v2"))), "{i}");
        let file = config.data_dir.join(format!("instances/{slug}/main/data.txt"));
        assert_eq!(std::fs::read_to_string(file).unwrap(), format!("data of {slug}\nmigrated\n"));
    }
    let containers = docker(&["ps", "-aq", "--filter", &guard.label_filter()]);
    assert_eq!(containers.lines().count(), 3, "one container per instance, no leftovers");
}
