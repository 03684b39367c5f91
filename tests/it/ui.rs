//! The admin UI against a real berth (Docker, Caddy): the audit trail of
//! UI, API and CLI, and a real headless Chromium driven over WebDriver.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{eventually, free_port, unique, TestApp};

const UP: Duration = Duration::from_secs(90);

/// Runs the `berth` binary against the test app's data directory.
fn berth_cli(app: &TestApp, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("BERTH_DATA_DIR", &app.config.data_dir)
        .env("BERTH_BLUEPRINT_DIR", app.config.blueprint_dir())
        .env("BERTH_PORT_RANGE", app.config.port_range.to_string())
        .env("BERTH_BASE_DOMAIN", &app.config.base_domain)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("berth binary runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "berth {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A signed-in browser-less session: cookie + CSRF token.
pub(crate) struct UiSession {
    base: String,
    pub http: reqwest::Client,
    pub cookie: String,
    csrf: String,
}

pub(crate) fn csrf_of(html: &str) -> String {
    html.split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("CSRF field")
        .to_owned()
}

fn session_cookie(res: &reqwest::Response) -> String {
    cookie_named(res, "berth_session")
}

/// `name=value` of a cookie the answer sets (the sign-in form's CSRF cookie
/// is `berth_csrf`: anonymous visitors get no session).
fn cookie_named(res: &reqwest::Response, name: &str) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .map(|v| v.split(';').next().unwrap().to_owned())
        .unwrap_or_else(|| panic!("cookie {name}"))
}

impl UiSession {
    pub async fn sign_in(app: &TestApp, name: &str, password: &str) -> UiSession {
        let http = berth::tls::client_builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let page = http.get(format!("{}/login", app.api)).send().await.unwrap();
        let cookie = cookie_named(&page, "berth_csrf");
        let csrf = csrf_of(&page.text().await.unwrap());
        let res = http
            .post(format!("{}/login", app.api))
            .header("cookie", &cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("_csrf={csrf}&name={name}&password={password}"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let cookie = session_cookie(&res);
        let mut s = UiSession {
            base: app.api.clone(),
            http,
            cookie,
            csrf: String::new(),
        };
        s.csrf = csrf_of(&s.get("/").await.1);
        s
    }

    pub async fn get(&self, path: &str) -> (StatusCode, String) {
        let res = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .unwrap();
        (res.status(), res.text().await.unwrap())
    }

    pub async fn post(&self, path: &str, form: &str) -> StatusCode {
        self.http
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(format!("_csrf={}&{form}", self.csrf))
            .send()
            .await
            .unwrap()
            .status()
    }

    async fn audit(&self, action: &str) -> Vec<Value> {
        let (status, body) = self
            .get(&format!("/audit/export?format=json&action={action}"))
            .await;
        assert_eq!(status, StatusCode::OK);
        serde_json::from_str(&body).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_front_end_leaves_exactly_one_audit_entry_with_actor_and_ip() {
    let app = TestApp::spawn().await;
    berth_cli(
        &app,
        &["user", "create", "alice", "--password-stdin"],
        "correct-horse-1\n",
    );
    let ui = UiSession::sign_in(&app, "alice", "correct-horse-1").await;

    assert_eq!(
        ui.post("/plans", "name=from-ui&cpus=0.5&memory=64MiB")
            .await,
        StatusCode::SEE_OTHER
    );
    app.create_plan("from-api", 0.5, "64MiB").await;
    berth_cli(
        &app,
        &[
            "plan", "create", "from-cli", "--cpus", "0.5", "--memory", "64MiB",
        ],
        "",
    );

    let entries = ui.audit("plan.create").await;
    let one = |target: &str| {
        let matching: Vec<&Value> = entries.iter().filter(|e| e["target"] == target).collect();
        assert_eq!(matching.len(), 1, "{target}: {entries:?}");
        matching[0].clone()
    };
    let e = one("from-ui");
    assert_eq!(
        (e["actor"].as_str(), e["ip"].as_str()),
        (Some("user:alice"), Some("127.0.0.1"))
    );
    let e = one("from-api");
    assert_eq!(
        (e["actor"].as_str(), e["ip"].as_str()),
        (Some("token:test"), Some("127.0.0.1"))
    );
    let e = one("from-cli");
    assert_eq!((e["actor"].as_str(), &e["ip"]), (Some("cli"), &Value::Null));

    // A client made and suspended in the UI: one entry each, by alice.
    let name = unique("Audit Co");
    let form = format!(
        "name={}&email=a%40example.com&plan=from-ui&blueprint=static-site&domain=&notes=",
        name.replace(' ', "+")
    );
    assert_eq!(ui.post("/clients", &form).await, StatusCode::SEE_OTHER);
    let slug = ui.audit("client.create").await[0]["target"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        ui.post(&format!("/clients/{slug}/suspend"), "").await,
        StatusCode::SEE_OTHER
    );
    let suspends: Vec<Value> = ui.audit("client.suspend").await;
    assert_eq!(suspends.len(), 1);
    assert_eq!(suspends[0]["actor"], "user:alice");
    assert_eq!(suspends[0]["client_slug"], slug.as_str());
    // CSV export carries the same entries.
    let (_, csv) = ui
        .get("/audit/export?format=csv&action=client.suspend")
        .await;
    assert_eq!(csv.lines().count(), 2, "{csv}");
    assert!(csv.contains("\"user:alice\""));
    // Suspending an already suspended client changes nothing and records nothing.
    assert_eq!(
        ui.post(&format!("/clients/{slug}/suspend"), "").await,
        StatusCode::SEE_OTHER
    );
    assert_eq!(ui.audit("client.suspend").await.len(), 1);
    let (status, _) = app
        .post(&format!("/api/v1/clients/{slug}/resume"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK);
    let resumes = ui.audit("client.resume").await;
    assert_eq!(
        (resumes.len(), resumes[0]["actor"].as_str()),
        (1, Some("token:test"))
    );
}

/// chromedriver on a free loopback port, killed on drop.
pub(crate) struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    pub(crate) async fn start() -> Driver {
        let port = free_port();
        let child = Command::new(
            std::env::var("BERTH_TEST_CHROMEDRIVER").unwrap_or_else(|_| "chromedriver".into()),
        )
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (Debian package chromium-driver)");
        let url = format!("http://127.0.0.1:{port}");
        let http = berth::tls::client_builder().no_proxy().build().unwrap();
        eventually("chromedriver answers", Duration::from_secs(30), || async {
            http.get(format!("{url}/status"))
                .send()
                .await
                .ok()
                .filter(|r| r.status().is_success())
        })
        .await;
        Driver { child, url }
    }

    pub(crate) async fn browser(&self) -> Client {
        let mut caps = serde_json::Map::new();
        let binary =
            std::env::var("BERTH_TEST_CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
        caps.insert(
            "goog:chromeOptions".into(),
            json!({ "binary": binary, "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"] }),
        );
        ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(caps)
            .connect(&self.url)
            .await
            .expect("a browser session")
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Shots {
    dir: std::path::PathBuf,
    n: u32,
}

impl Shots {
    fn new() -> Shots {
        let target = std::env::var("CARGO_TARGET_DIR")
            .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/target").into());
        let dir = std::path::Path::new(&target).join("ui-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        Shots { dir, n: 0 }
    }

    async fn take(&mut self, b: &Client, name: &str) {
        self.n += 1;
        let png = b.screenshot().await.unwrap();
        std::fs::write(self.dir.join(format!("{:02}-{name}.png", self.n)), png).unwrap();
    }
}

pub(crate) async fn fill(b: &Client, name: &str, value: &str) {
    let input = b
        .find(Locator::Css(&format!("[name='{name}']")))
        .await
        .unwrap();
    input.clear().await.unwrap();
    input.send_keys(value).await.unwrap();
}

pub(crate) async fn submit(b: &Client, form_action: &str) {
    b.find(Locator::Css(&format!(
        "form[action='{form_action}'] button[type='submit']"
    )))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
}

pub(crate) async fn text(b: &Client, css: &str) -> String {
    match b.find(Locator::Css(css)).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Waits (without reloading) until the element's text is one of `want`.
pub(crate) async fn wait_text(b: &Client, css: &str, want: &[&str]) -> String {
    eventually(&format!("{css} shows {want:?}"), UP, || async {
        let t = text(b, css).await;
        want.contains(&t.as_str()).then_some(t)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_browser_sets_up_creates_suspends_resumes_and_deletes_a_client() {
    let app = TestApp::spawn().await;
    let driver = Driver::start().await;
    let b = driver.browser().await;
    let mut shots = Shots::new();
    let base = app.api.clone();

    // First run: /login sends to /setup (we browse from loopback: no code).
    b.goto(&format!("{base}/login")).await.unwrap();
    assert!(b.current_url().await.unwrap().path().ends_with("/setup"));
    fill(&b, "name", "admin").await;
    fill(&b, "password", "correct-horse-1").await;
    shots.take(&b, "setup").await;
    submit(&b, "/setup").await;
    wait_text(&b, "h1", &["Dashboard"]).await;
    shots.take(&b, "dashboard-empty").await;

    b.goto(&format!("{base}/plans/new")).await.unwrap();
    fill(&b, "name", "small").await;
    fill(&b, "cpus", "0.5").await;
    fill(&b, "memory", "not-a-size").await;
    submit(&b, "/plans").await;
    // The error sits beside the field that caused it.
    eventually("a field error beside memory", UP, || async {
        let error = text(&b, "label[for='f-memory'] .field-error").await;
        (!error.is_empty()).then_some(error)
    })
    .await;
    shots.take(&b, "plan-field-error").await;
    fill(&b, "memory", "64MiB").await;
    submit(&b, "/plans").await;
    wait_text(&b, "h1", &["Plans"]).await;
    shots.take(&b, "plans").await;

    b.goto(&format!("{base}/clients/new")).await.unwrap();
    let name = unique("Browser Co");
    fill(&b, "name", &name).await;
    fill(&b, "email", "ops@example.com").await;
    b.find(Locator::Css("select[name='blueprint']"))
        .await
        .unwrap()
        .select_by_value("static-site")
        .await
        .unwrap();
    shots.take(&b, "new-client").await;
    submit(&b, "/clients").await;
    wait_text(&b, "h1 .badge", &["active"]).await;
    let slug = b
        .current_url()
        .await
        .unwrap()
        .path()
        .trim_start_matches("/clients/")
        .to_owned();

    // The phase changes on the open page, by the status script alone.
    wait_text(&b, "[data-instance] .badge", &["running"]).await;
    shots.take(&b, "client-running").await;

    submit(&b, &format!("/clients/{slug}/suspend")).await;
    wait_text(&b, "h1 .badge", &["suspended"]).await;
    assert!(
        text(&b, ".flash-ok").await.contains("suspended"),
        "flash after suspend"
    );
    wait_text(&b, "[data-instance] .badge", &["stopped"]).await;
    shots.take(&b, "client-suspended").await;

    submit(&b, &format!("/clients/{slug}/resume")).await;
    wait_text(&b, "h1 .badge", &["active"]).await;
    let id: i64 = b
        .find(Locator::Css("[data-instance]"))
        .await
        .unwrap()
        .attr("data-instance")
        .await
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    let inst = app.wait_phase(id, &["running"], UP).await;
    eprintln!("API says {}", inst["phase"]);
    wait_text(&b, "[data-instance] .badge", &["running"]).await;

    // "Back up now" on the client page; the status script follows the row.
    submit(&b, &format!("/instances/{id}/backups")).await;
    wait_text(&b, "[data-backup] .badge", &["finished", "ok"]).await;
    shots.take(&b, "client-backup-done").await;
    b.goto(&format!("{base}/instances/{id}/backups"))
        .await
        .unwrap();
    wait_text(&b, "[data-backup] .badge", &["ok"]).await;
    shots.take(&b, "backups").await;

    // The pages a screenshot is taken of: each answers 200 (read without
    // the browser, which cannot see statuses) and shows its heading.
    let ui = UiSession::sign_in(&app, "admin", "correct-horse-1").await;
    for (path, heading, shot) in [
        ("/clients", "Clients", "clients"),
        ("/", "Dashboard", "dashboard"),
        ("/audit", "Audit log", "audit"),
        ("/tokens", "API tokens", "tokens"),
        ("/users", "Users", "users"),
    ] {
        let (status, html) = ui.get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}: {html}");
        assert!(html.contains(heading), "{path}: {html}");
        b.goto(&format!("{base}{path}")).await.unwrap();
        wait_text(&b, "h1", &[heading]).await;
        shots.take(&b, shot).await;
    }

    b.goto(&format!("{base}/clients/{slug}/delete"))
        .await
        .unwrap();
    fill(&b, "confirm", "wrong").await;
    submit(&b, &format!("/clients/{slug}/delete")).await;
    eventually("the confirmation is refused", UP, || async {
        text(&b, "label[for='f-confirm'] .field-error")
            .await
            .contains("nothing was deleted")
            .then_some(())
    })
    .await;
    fill(&b, "confirm", &slug).await;
    shots.take(&b, "delete-confirm").await;
    submit(&b, &format!("/clients/{slug}/delete")).await;
    let heading = eventually("deletion report", UP, || async {
        let h = text(&b, "h1").await;
        h.contains("erased").then_some(h)
    })
    .await;
    // An erased client is named by id only, even on its own report.
    assert!(!heading.contains(&name), "{heading}");
    shots.take(&b, "deletion-report").await;
    let (status, _) = app.get(&format!("/api/v1/clients/{slug}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    b.close().await.unwrap();
}
