//! kill -9 of a real `berth serve` at exact steps of a restore's directory
//! swap, a confirmed delete and a plan-change recreate, then a restart on the
//! same data dir. The kill point is deterministic: `BERTH_TEST_PAUSE_AT`
//! (see `berth::testhook`) makes the daemon stop at the named step and write
//! a file, and the test kills it there.

use std::path::{Path, PathBuf};
use std::time::Duration;

use berth::config::Config;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::harness::{
    api_call, api_client, docker, eventually, follow_deletion, skip_docker, try_http_get,
    BerthProcess, CaddyProcess, ChildSetup, DockerGuard,
};

const UP: Duration = Duration::from_secs(90);

/// One berth data dir, its Caddy and its Docker objects, with a daemon that
/// can be killed and started again. Fields drop in order: the daemon dies
/// first, the guard sweeps Docker, the directory goes last.
struct Rig {
    daemon: Option<BerthProcess>,
    http: reqwest::Client,
    token: String,
    config: Config,
    pause_file: PathBuf,
    caddy: CaddyProcess,
    guard: DockerGuard,
    _dir: TempDir,
}

impl Rig {
    async fn new() -> Rig {
        let setup = ChildSetup::new("crashpt").await;
        let token = setup.create_token("crash");
        let ChildSetup {
            dir,
            guard,
            caddy,
            config,
            ..
        } = setup;
        Rig {
            daemon: None,
            http: api_client(Duration::from_secs(30)),
            token,
            pause_file: dir.path().join("paused"),
            config,
            caddy,
            guard,
            _dir: dir,
        }
    }

    /// Starts `berth serve` (pausing at `pause_at`, if given) and waits for it.
    async fn start(&mut self, pause_at: Option<&str>) {
        let mut env = vec![(
            "BERTH_TEST_PAUSE_FILE",
            self.pause_file.display().to_string(),
        )];
        if let Some(step) = pause_at {
            env.push(("BERTH_TEST_PAUSE_AT", step.to_owned()));
        }
        let daemon = self
            .daemon
            .insert(BerthProcess::start_with_env(&self.config, &env));
        daemon.wait_healthy(&self.http, &self.config).await;
    }

    /// Waits until the daemon is paused at `step`, then kill -9s it.
    async fn kill_when_paused(&mut self, step: &str) {
        let file = self.pause_file.clone();
        eventually(&format!("berth paused at {step}"), UP, || {
            let file = file.clone();
            async move { (std::fs::read_to_string(&file).ok()? == step).then_some(()) }
        })
        .await;
        self.daemon.take().unwrap().kill9();
        std::fs::remove_file(&self.pause_file).unwrap();
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let api = format!("http://{}", self.config.listen);
        api_call(&self.http, &api, &self.token, method, path, body).await
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    async fn plan(&self, name: &str, cpus: f64, memory: &str) {
        let (status, body) = self
            .post(
                "/api/v1/plans",
                json!({ "name": name, "cpus": cpus, "memory": memory }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    /// Creates a static-site client and waits until Caddy serves it:
    /// (instance id, domain).
    async fn client(&self, name: &str, plan: &str) -> (i64, String) {
        let (status, body) = self
            .post(
                "/api/v1/clients",
                json!({ "name": name, "email": "ops@example.com", "plan": plan, "blueprint": "static-site" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let inst = &body["instances"][0];
        let id = inst["id"].as_i64().unwrap();
        let domain = inst["domains"][0].as_str().unwrap().to_owned();
        self.wait_phase(id, "running").await;
        self.wait_served(&domain, "/", None).await;
        (id, domain)
    }

    async fn wait_phase(&self, id: i64, phase: &str) -> Value {
        eventually(&format!("instance {id} {phase}"), UP, || async {
            let (status, inst) = self.get(&format!("/api/v1/instances/{id}")).await;
            (status == StatusCode::OK && inst["phase"] == phase).then_some(inst)
        })
        .await
    }

    /// Waits until `path` on `domain` answers 200 through Caddy (with `body`,
    /// if given).
    async fn wait_served(&self, domain: &str, path: &str, body: Option<&str>) {
        let addr = format!("127.0.0.1:{}", self.caddy.http_port);
        eventually(
            &format!("{domain}{path} served with {body:?}"),
            UP,
            || async {
                match try_http_get(&addr, domain, path) {
                    Ok((200, got)) if body.is_none_or(|b| got == b) => Some(()),
                    _ => None,
                }
            },
        )
        .await;
    }

    async fn backup(&self, instance: i64) -> Value {
        let (status, body) = self
            .post(&format!("/api/v1/instances/{instance}/backups"), json!({}))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let id = body["id"].as_i64().unwrap();
        let b = eventually(&format!("backup {id}"), UP, || async {
            let (_, b) = self.get(&format!("/api/v1/backups/{id}")).await;
            matches!(b["status"].as_str(), Some("ok" | "failed")).then_some(b)
        })
        .await;
        assert_eq!(b["status"], "ok", "{b}");
        b
    }

    async fn wait_restore(&self, id: i64) -> Value {
        eventually(&format!("restore {id} settles"), UP, || async {
            let (_, r) = self.get(&format!("/api/v1/restores/{id}")).await;
            matches!(r["status"].as_str(), Some("ok" | "failed")).then_some(r)
        })
        .await
    }

    /// The ids of this rig's containers (all states).
    fn containers(&self) -> Vec<String> {
        docker_lines(&["ps", "-aq", "--filter", &self.guard.label_filter()])
    }
}

/// Output lines of a docker command that must succeed.
fn docker_lines(args: &[&str]) -> Vec<String> {
    docker(args)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Entries left beside the instance's data dir by a restore.
fn restore_leftovers(data: &Path) -> Vec<String> {
    std::fs::read_dir(data.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".restore-"))
        .collect()
}

const ONE: &str = "version one\n";
const TWO: &str = "version two\n";

/// A running instance whose backup holds `ONE` and whose live data holds
/// `TWO` plus a file written after the backup; a restore of that backup is
/// requested and berth killed at `step`. Returns the rig (daemon down), the
/// restore id, the instance id, its domain and its data dir.
async fn restore_killed_at(step: &str) -> (Rig, i64, i64, String, PathBuf) {
    let mut rig = Rig::new().await;
    rig.start(Some(step)).await;
    rig.plan("p", 0.25, "32MiB").await;
    let (id, domain) = rig.client("Keeper", "p").await;
    let data = rig.config.instance_data_dir("keeper", "main");
    std::fs::write(data.join("index.html"), ONE).unwrap();
    let backup = rig.backup(id).await;
    std::fs::write(data.join("index.html"), TWO).unwrap();
    std::fs::write(data.join("after.txt"), "written after the backup").unwrap();
    rig.wait_served(&domain, "/", Some(TWO)).await;

    let (status, restore) = rig
        .post(
            &format!("/api/v1/backups/{}/restore", backup["id"]),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{restore}");
    let rid = restore["id"].as_i64().unwrap();
    rig.kill_when_paused(step).await;
    (rig, rid, id, domain, data)
}

/// Restarts berth after a restore killed before its commit: the restore
/// fails with a message naming `outcome`, the live data (`TWO` and the file
/// written after the backup) is whole, nothing of the restore is left, and
/// the instance runs and serves `TWO` again. Returns the restore.
async fn restart_expecting_live_data(
    rig: &mut Rig,
    rid: i64,
    id: i64,
    domain: &str,
    data: &Path,
    outcome: &str,
) -> Value {
    rig.start(None).await;
    let restore = rig.wait_restore(rid).await;
    assert_eq!(restore["status"], "failed", "{restore}");
    assert!(
        restore["message"].as_str().unwrap().contains(outcome),
        "{restore}"
    );
    assert_eq!(read(&data.join("index.html")), TWO);
    assert_eq!(read(&data.join("after.txt")), "written after the backup");
    assert_eq!(restore_leftovers(data), Vec::<String>::new());
    rig.wait_phase(id, "running").await;
    rig.wait_served(domain, "/", Some(TWO)).await;
    restore
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_the_restore_swap_rolls_back_to_the_previous_data() {
    if skip_docker() {
        return;
    }
    let (mut rig, rid, id, domain, data) = restore_killed_at("restore-swapped").await;
    // The kill landed after the swap: the restored data is in place and
    // the previous data lies beside it.
    assert_eq!(read(&data.join("index.html")), ONE);
    assert_eq!(
        restore_leftovers(&data).len(),
        2,
        "staging dir and its marker"
    );

    let restore =
        restart_expecting_live_data(&mut rig, rid, id, &domain, &data, "rolled back").await;

    // Nothing is stuck: the same restore, asked again, goes through.
    let (status, again) = rig
        .post(
            &format!("/api/v1/backups/{}/restore", restore["backup_id"]),
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    let again = rig.wait_restore(again["id"].as_i64().unwrap()).await;
    assert_eq!(again["status"], "ok", "{again}");
    assert!(!data.join("after.txt").exists());
    rig.wait_served(&domain, "/", Some(ONE)).await;
    assert_eq!(rig.containers().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_before_the_restore_swap_leaves_the_live_data_untouched() {
    if skip_docker() {
        return;
    }
    let (mut rig, rid, id, domain, data) = restore_killed_at("restore-staged").await;
    assert_eq!(read(&data.join("index.html")), TWO);
    assert_eq!(
        restore_leftovers(&data).len(),
        1,
        "the extracted staging dir"
    );

    restart_expecting_live_data(&mut rig, rid, id, &domain, &data, "untouched").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_the_restore_committed_keeps_the_restored_data() {
    if skip_docker() {
        return;
    }
    let (mut rig, rid, id, domain, data) = restore_killed_at("restore-committed").await;
    assert_eq!(read(&data.join("index.html")), ONE);

    rig.start(None).await;
    let restore = rig.wait_restore(rid).await;
    assert_eq!(restore["status"], "ok", "{restore}");
    assert_eq!(read(&data.join("index.html")), ONE);
    assert!(
        !data.join("after.txt").exists(),
        "the restored data is whole"
    );
    assert_eq!(restore_leftovers(&data), Vec::<String>::new());
    rig.wait_phase(id, "running").await;
    rig.wait_served(&domain, "/", Some(ONE)).await;
}

/// A client with data and a backup; its confirmed delete (a job) is killed
/// at `step`, berth restarted: the restarted berth finishes the job and
/// everything is gone.
async fn delete_killed_at(step: &str) {
    let mut rig = Rig::new().await;
    rig.start(Some(step)).await;
    rig.plan("p", 0.25, "32MiB").await;
    let (id, _) = rig.client("Leaver", "p").await;
    let backup = rig.backup(id).await;
    let data = rig.config.instance_data_dir("leaver", "main");
    let backups = rig.config.backup_dir().join("leaver");
    let archive = rig
        .config
        .backup_dir()
        .join(backup["path"].as_str().unwrap());
    assert!(archive.is_file());
    // The instance's own network (a pool network it adopted, or one made for
    // it): by id, since the pool may make a network of the same name again.
    let network = docker_lines(&[
        "inspect",
        "-f",
        "{{range .NetworkSettings.Networks}}{{.NetworkID}}{{end}}",
        &rig.config.container_name("leaver", "main"),
    ]);

    // The request only records the job; the worker pauses at `step`.
    let (status, job) = rig
        .call(
            Method::DELETE,
            "/api/v1/clients/leaver",
            Some(json!({ "confirm": "leaver" })),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{job}");
    let location = format!("/api/v1/deletions/{}", job["id"]);
    rig.kill_when_paused(step).await;
    // Where the kill landed: containers already gone; data gone only at the later step.
    assert_eq!(rig.containers(), Vec::<String>::new());
    assert_eq!(data.exists(), step == "delete-data", "{}", data.display());
    // The rows and the unfinished job survived the kill.
    {
        let store = berth::store::Store::open(&rig.config.db_path()).unwrap();
        let job_id = job["id"].as_i64().unwrap();
        let (client, job) = store
            .call(move |conn| {
                Ok((
                    berth::store::clients::get(conn, "leaver"),
                    berth::store::deletions::get(conn, job_id)?,
                ))
            })
            .await
            .unwrap();
        assert!(client.is_ok(), "the client row went before the job ended");
        assert!(!job.status.is_finished(), "{job:?}");
    }

    rig.start(None).await;
    let api = format!("http://{}", rig.config.listen);
    let report = follow_deletion(&rig.http, &api, &rig.token, &location).await;
    assert_eq!(report["client_deleted"], true, "{report}");
    // Measured before anything went: a run after the kill reports the data
    // even though it is already gone.
    assert!(
        report["instances"][0]["data_bytes"].as_u64().unwrap() > 0,
        "{report}"
    );
    let (status, _) = rig.get("/api/v1/clients/leaver").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = rig.get(&format!("/api/v1/instances/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!data.exists(), "{} left behind", data.display());
    assert!(
        !data.parent().unwrap().exists(),
        "the client's instances dir is left behind"
    );
    assert!(!backups.exists(), "{} left behind", backups.display());
    assert!(Path::new(report["report_file"].as_str().unwrap()).is_file());
    assert_eq!(rig.containers(), Vec::<String>::new());
    eventually("the instance's network removed", UP, || async {
        let gone = std::process::Command::new("docker")
            .args(["network", "inspect", &network[0]])
            .output()
            .is_ok_and(|o| !o.status.success());
        gone.then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_during_a_delete_before_the_data_goes_the_delete_can_finish() {
    if skip_docker() {
        return;
    }
    delete_killed_at("delete-data").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_during_a_delete_before_the_rows_go_the_delete_can_finish() {
    if skip_docker() {
        return;
    }
    delete_killed_at("delete-rows").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_between_remove_and_create_of_a_plan_change_the_instance_comes_back_with_new_limits()
{
    if skip_docker() {
        return;
    }
    let mut rig = Rig::new().await;
    rig.start(Some("recreate-removed")).await;
    rig.plan("small", 0.25, "64MiB").await;
    rig.plan("large", 1.0, "128MiB").await;
    let (id, domain) = rig.client("Grower", "small").await;
    let data = rig.config.instance_data_dir("grower", "main");
    std::fs::write(data.join("data.txt"), "precious").unwrap();
    rig.wait_served(&domain, "/data.txt", Some("precious"))
        .await;
    let before = rig.containers();
    assert_eq!(before.len(), 1);

    let (status, body) = rig
        .call(
            Method::PATCH,
            "/api/v1/clients/grower",
            Some(json!({ "plan": "large" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    rig.kill_when_paused("recreate-removed").await;
    assert_eq!(
        rig.containers(),
        Vec::<String>::new(),
        "killed after the old container went and before the new one was made"
    );

    rig.start(None).await;
    // The stored phase still names the removed container until a pass observes.
    let container = eventually("the successor container running", UP, || async {
        let (_, inst) = rig.get(&format!("/api/v1/instances/{id}")).await;
        let c = inst["container_id"].as_str().unwrap_or("").to_owned();
        (inst["phase"] == "running" && !c.is_empty() && !c.starts_with(&before[0])).then_some(c)
    })
    .await;
    assert_eq!(rig.containers().len(), 1, "one container, no orphan");
    let inspect = |format: &str| docker_lines(&["inspect", "-f", format, &container]).join("");
    assert_eq!(inspect("{{.HostConfig.NanoCpus}}"), "1000000000");
    assert_eq!(
        inspect("{{.HostConfig.Memory}}"),
        (128u64 << 20).to_string()
    );
    assert_eq!(read(&data.join("data.txt")), "precious");
    rig.wait_served(&domain, "/data.txt", Some("precious"))
        .await;
}

/// A create that arrives while a pass is busy joins that pass instead of
/// waiting for it to end: here the pass is held at a recreate for good, and
/// the new client's container still comes up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_during_a_busy_pass_joins_it() {
    if skip_docker() {
        return;
    }
    let mut rig = Rig::new().await;
    rig.start(Some("recreate-removed")).await;
    rig.plan("small", 0.25, "64MiB").await;
    rig.plan("large", 1.0, "128MiB").await;
    rig.client("Grower", "small").await;
    let (status, body) = rig
        .call(
            Method::PATCH,
            "/api/v1/clients/grower",
            Some(json!({ "plan": "large" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let file = rig.pause_file.clone();
    eventually("the pass held at the recreate", UP, || {
        let file = file.clone();
        async move { (std::fs::read_to_string(&file).ok()? == "recreate-removed").then_some(()) }
    })
    .await;
    // Not `rig.client`: phases are recorded when the held pass ends, never here.
    let (status, body) = rig
        .post(
            "/api/v1/clients",
            json!({ "name": "Late", "email": "ops@example.com", "plan": "small", "blueprint": "static-site" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let instance = format!("label=berth.instance={}", body["instances"][0]["id"]);
    eventually("the late client's container running", UP, || async {
        let running = docker_lines(&[
            "ps",
            "-q",
            "--filter",
            &rig.guard.label_filter(),
            "--filter",
            &instance,
        ]);
        (!running.is_empty()).then_some(())
    })
    .await;
}
