//! `TestApp`: a whole berth (store, reconciler, API) in this process, wired
//! to a private Caddy and the real Docker engine under a unique owner label,
//! with its own blueprint copy whose image name is unique, so the guard can
//! remove everything the test made.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::Duration;

use berth::config::Config;
use reqwest::StatusCode;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::oneshot;

/// How long a backup of a test instance may take.
const UP: Duration = Duration::from_secs(120);

use super::{try_http_get, unique, wait_until_async, CaddyProcess, DockerGuard};

/// How many host ports each test app gets.
pub const PORTS_PER_APP: u16 = 40;

pub struct TestApp {
    pub api: String,
    pub token: String,
    pub config: Config,
    pub caddy: CaddyProcess,
    pub http: reqwest::Client,
    pub static_image: String,
    pub dir: TempDir,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    pub guard: DockerGuard,
    ops: berth::ops::Ops,
    store: berth::store::Store,
}

/// A block of ports none of which is bound right now, below the kernel's
/// ephemeral range: a port from that range can be taken at any moment by an
/// outgoing connection (or [`super::free_port`]), and then a container's port
/// publish fails. Blocks are spread by process id so concurrent test runs on
/// one machine rarely meet.
pub fn free_port_block(len: u16) -> (u16, u16) {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    const LOW: u16 = 10_000;
    let high = ephemeral_low().saturating_sub(len).max(LOW + len);
    let span = high - LOW;
    let spread = (std::process::id() % 50) * 200;
    for _ in 0..span / len {
        let next = u32::from(NEXT.fetch_add(len, Ordering::Relaxed));
        let first = LOW + ((spread + next) % u32::from(span)) as u16;
        let last = first + len - 1;
        if (first..=last).all(|p| TcpListener::bind(("127.0.0.1", p)).is_ok()) {
            return (first, last);
        }
    }
    panic!("no free block of {len} ports below {high}");
}

/// The first port the kernel hands out for outgoing connections.
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .unwrap_or(32_768)
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        Self::spawn_with(|_| {}).await
    }

    /// Like [`TestApp::spawn`], letting the test adjust the config first.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::Builder::new()
            .prefix("berth-test-")
            .tempdir()
            .unwrap();
        let owner = unique("owner");
        let guard = DockerGuard::new(&owner);
        let static_image = format!("berth-test/static-site:{}", unique("img"));
        guard.track_image(&static_image);
        let caddy = tokio::task::spawn_blocking(CaddyProcess::start)
            .await
            .unwrap();
        let config = test_config(&dir, &owner, &caddy, &static_image, adjust);
        let app = berth::app::App::build(config.clone())
            .await
            .expect("berth builds");
        let api = format!("http://{}", app.local_addr());
        let ops = app.ops().clone();
        let store = app.store().clone();
        let token = app
            .ops()
            .create_token(&berth::audit::Actor::cli(), "test")
            .await
            .unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            app.run(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        let http = berth::tls::client_builder()
            .no_proxy()
            .timeout(Duration::from_secs(90))
            .build()
            .unwrap();
        TestApp {
            api,
            token,
            config,
            caddy,
            http,
            static_image,
            dir,
            stop: Some(stop),
            task: Some(task),
            guard,
            ops,
            store,
        }
    }

    /// Stops the daemon (graceful) and waits for it, keeping Docker state.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        api_call(&self.http, &self.api, &self.token, method, path, body).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    /// GET of a non-JSON answer (e.g. a CSV export); asserts 200.
    pub async fn get_text(&self, path: &str) -> String {
        let (status, body) = self.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        match body {
            Value::String(text) => text,
            json => json.to_string(),
        }
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::DELETE, path, Some(body)).await
    }

    /// berth with these `[[offsite]]` targets and no backup schedule:
    /// backups and copies happen when a test asks.
    pub async fn with_offsite(targets: Vec<berth::config::OffsiteTarget>) -> TestApp {
        TestApp::spawn_with(|c| {
            c.backup.schedule = String::new();
            c.offsite = targets;
        })
        .await
    }

    /// Backs `instance` up now through the API and returns the backup once
    /// it finished (ok or failed).
    pub async fn backup_now(&self, instance: i64) -> Value {
        let (status, body) = self
            .post(&format!("/api/v1/instances/{instance}/backups"), json!({}))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let id = body["id"].as_i64().unwrap();
        super::eventually(&format!("backup {id} finishes"), UP, || async move {
            let (_, b) = self.get(&format!("/api/v1/backups/{id}")).await;
            matches!(b["status"].as_str(), Some("ok" | "failed")).then_some(b)
        })
        .await
    }

    /// [`TestApp::backup_now`] that must succeed; its id.
    pub async fn backup_ok(&self, instance: i64) -> i64 {
        let done = self.backup_now(instance).await;
        assert_eq!(done["status"], "ok", "{done}");
        done["id"].as_i64().unwrap()
    }

    /// A confirmed delete: asserts the 202 and its job, follows the job to
    /// the end and returns its report.
    pub async fn delete_and_follow(&self, path: &str, body: Value) -> Value {
        super::delete_and_follow(&self.http, &self.api, &self.token, path, body).await
    }

    pub async fn create_plan(&self, name: &str, cpus: f64, memory: &str) -> Value {
        let (status, body) = self
            .post(
                "/api/v1/plans",
                json!({ "name": name, "cpus": cpus, "memory": memory }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    /// Gives plan `name` an LLM key per client with a monthly budget of
    /// `limit_usd`; returns the API's answer.
    pub async fn enable_llm(&self, plan: &str, limit_usd: f64) -> Value {
        let (code, body) = self
            .call(
                reqwest::Method::PUT,
                &format!("/api/v1/plans/{plan}/llm"),
                Some(json!({ "enabled": true, "limit_usd": limit_usd, "limit_reset": "monthly" })),
            )
            .await;
        assert_eq!(code, StatusCode::OK, "{body}");
        body
    }

    /// Creates a static-site client; returns the API's answer.
    pub async fn create_client(&self, name: &str, plan: &str) -> Value {
        let (status, body) = self
            .post("/api/v1/clients", json!({ "name": name, "email": "ops@example.com", "plan": plan, "blueprint": "static-site" }))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

    pub async fn instance(&self, id: i64) -> Value {
        let (status, body) = self.get(&format!("/api/v1/instances/{id}")).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }

    /// Waits until the instance's phase is one of `phases`; returns it.
    pub async fn wait_phase(&self, id: i64, phases: &[&str], deadline: Duration) -> Value {
        eventually(
            &format!("instance {id} reaches {phases:?}"),
            deadline,
            || async {
                let inst = self.instance(id).await;
                phases
                    .contains(&inst["phase"].as_str().unwrap_or(""))
                    .then_some(inst)
            },
        )
        .await
    }

    /// GET through Caddy with the given Host header: (status, body), or None
    /// while nothing listens.
    pub fn through_caddy(&self, host: &str, path: &str) -> Option<(u16, String)> {
        try_http_get(&format!("127.0.0.1:{}", self.caddy.http_port), host, path).ok()
    }

    /// Waits until `host` answers `status` through Caddy; returns the body.
    /// On a timeout it panics with the last answer and every instance's
    /// phase and message, so a failure says where the instance got stuck.
    pub async fn wait_caddy(&self, host: &str, status: u16, deadline: Duration) -> String {
        let end = tokio::time::Instant::now() + deadline;
        let mut pause = Duration::from_millis(10);
        let mut last = None;
        loop {
            let got = self.through_caddy(host, "/");
            if let Some((s, body)) = &got {
                if *s == status {
                    return body.clone();
                }
            }
            last = got.or(last);
            if tokio::time::Instant::now() >= end {
                let states: Vec<String> = match self.ops.list_instances(None).await {
                    Ok(rows) => rows
                        .iter()
                        .map(|i| format!("{} {:?}: {} {}", i.id, i.domains, i.phase, i.message))
                        .collect(),
                    Err(e) => vec![format!("cannot list instances: {e}")],
                };
                panic!(
                    "timed out after {deadline:?} waiting for {host} to answer {status} \
                     through caddy; last answer {last:?}; instances: {states:#?}"
                );
            }
            tokio::time::sleep(pause).await;
            pause = (pause * 2).min(Duration::from_millis(200));
        }
    }

    /// The operations layer of this berth, for looking at the store directly.
    pub fn ops(&self) -> &berth::ops::Ops {
        &self.ops
    }

    /// The daemon's store, for seeding and inspecting rows no operation exposes.
    pub fn store(&self) -> &berth::store::Store {
        &self.store
    }

    pub fn data_dir(&self) -> PathBuf {
        self.config.data_dir.clone()
    }

    /// `docker <args>`'s trimmed stdout; panics with docker's stderr on failure.
    pub fn docker(&self, args: &[&str]) -> String {
        super::docker(args)
    }
}

/// One API request to `api` (e.g. "http://127.0.0.1:1234") with `token`:
/// (status, JSON body, or the text as a JSON string when it is not JSON).
pub async fn api_call(
    http: &reqwest::Client,
    api: &str,
    token: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = http
        .request(method, format!("{api}{path}"))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.expect("API answers");
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// Polls `f` with backoff until it yields a value; panics naming `what`
/// when `deadline` passes.
pub async fn eventually<T, F, Fut>(what: &str, deadline: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let end = tokio::time::Instant::now() + deadline;
    let mut delay = Duration::from_millis(10);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < end,
            "timed out after {deadline:?} waiting for {what}"
        );
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_millis(200));
    }
}

impl Drop for TestApp {
    /// Stops the daemon and waits for it, so no reconcile pass creates
    /// anything after the Docker guard (dropped next) has swept.
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            // A graceful stop: aborting would leave the reconciler (its own
            // task) running detached for a moment.
            match tokio::runtime::Handle::try_current() {
                Ok(handle)
                    if handle.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread =>
                {
                    tokio::task::block_in_place(|| {
                        let _ =
                            handle.block_on(tokio::time::timeout(Duration::from_secs(30), task));
                    });
                }
                _ => task.abort(),
            }
        }
    }
}

/// The config a test berth runs with: everything on loopback, ports and
/// names unique to this test, a short reconcile interval.
#[allow(clippy::field_reassign_with_default)]
pub fn test_config(
    dir: &TempDir,
    owner: &str,
    caddy: &CaddyProcess,
    static_image: &str,
    adjust: impl FnOnce(&mut Config),
) -> Config {
    let blueprints = dir.path().join("templates");
    std::fs::create_dir_all(&blueprints).unwrap();
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("templates");
    for entry in std::fs::read_dir(source).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("berth/static-site:1", static_image);
        std::fs::write(blueprints.join(path.file_name().unwrap()), text).unwrap();
    }
    let (first, last) = free_port_block(PORTS_PER_APP);
    let mut config = Config::default();
    config.listen = "127.0.0.1:0".parse().unwrap();
    config.data_dir = dir.path().join("data");
    config.blueprint_dir = Some(blueprints);
    config.port_range = format!("{first}-{last}").parse().unwrap();
    config.base_domain = "berth.test".into();
    config.reconcile_interval = Duration::from_secs(2);
    config.docker.owner = owner.to_owned();
    let tail: String = owner.chars().filter(char::is_ascii_alphanumeric).collect();
    config.docker.name_prefix = format!("t{}", &tail[tail.len() - 6..]);
    config.caddy.admin = caddy.admin_url.clone();
    config.caddy.manage = false;
    config.caddy.http_port = caddy.http_port;
    config.caddy.https_port = caddy.https_port;
    config.caddy.listen_host = "127.0.0.1".into();
    // Smaller than the default (sized for a burst of 20 creates): tests run
    // side by side on one engine and create a few instances each.
    config.docker.network_pool = 8;
    // The default daily check would pull the real Open WebUI image (GBs)
    // in a test that happens to run at 04:30; tests that want it set it.
    config.updates.check_schedule = String::new();
    adjust(&mut config);
    config
}
