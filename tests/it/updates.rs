//! Issue 13's foundation: the "being updated" page while an app boots
//! (instead of Caddy's bare 502) and an instance's logs for the admin
//! (API and CLI, followed until interrupted).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{berth_cli, env_for, eventually, TestApp};

const UP: Duration = Duration::from_secs(60);

/// The static site, healthy only once `/www/ready` exists: its boot lasts
/// exactly as long as the test wants.
fn slow_site(static_image: &str) -> String {
    format!(
        "description = \"static site that becomes healthy on a file\"\n\
         image = \"{static_image}\"\nbuild = \"busybox\"\ninternal_port = 8080\n\
         command = [\"/bin/sh\", \"-c\", \"while [ ! -f /www/ready ]; do sleep 0.2; done; exec /bin/httpd -f -v -p 8080 -h /www\"]\n\
         data_mount = \"/www\"\nbackup_consistency = \"pause\"\ncap_add = []\ndata_owner = \"0:0\"\n\
         [health]\ntest = [\"CMD\", \"/bin/cat\", \"/www/ready\"]\n\
         interval = 1\ntimeout = 1\nretries = 3\nstart_period = 120\n"
    )
}

/// The response head (status line and headers) of GET / through Caddy.
fn head_through_caddy(app: &TestApp, host: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", app.config.caddy.http_port)).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET / HTTP/1.0\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    raw.split("\r\n\r\n").next().unwrap_or("").to_owned()
}

async fn client_with(app: &TestApp, name: &str, blueprint: &str) -> (i64, String) {
    app.create_plan("p", 0.5, "64MiB").await;
    let (status, client) = app
        .post(
            "/api/v1/clients",
            json!({ "name": name, "email": "ops@example.com", "plan": "p", "blueprint": blueprint }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{client}");
    let inst = &client["instances"][0];
    (
        inst["id"].as_i64().unwrap(),
        inst["domains"][0].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_booting_app_shows_the_updating_page_then_its_own() {
    let app = TestApp::spawn_with(|c| {
        let dir = c.blueprint_dir.clone().unwrap();
        let image = std::fs::read_to_string(dir.join("static-site.toml"))
            .unwrap()
            .lines()
            .find_map(|l| {
                l.strip_prefix("image = \"")
                    .map(|r| r.trim_end_matches('"').to_owned())
            })
            .unwrap();
        std::fs::write(dir.join("slow-site.toml"), slow_site(&image)).unwrap();
    })
    .await;
    let (id, domain) = client_with(&app, "Slow", "slow-site").await;

    let page = app.wait_caddy(&domain, 503, UP).await;
    assert!(page.contains("being updated"), "{page}");
    let head = head_through_caddy(&app, &domain);
    assert!(head.contains("Retry-After: 30"), "{head}");
    assert_eq!(app.instance(id).await["phase"], "starting");

    let data = app.data_dir().join("instances/slow/main");
    std::fs::write(data.join("index.html"), "the app itself").unwrap();
    std::fs::write(data.join("ready"), "ok").unwrap();
    let t0 = Instant::now();
    let body = app.wait_caddy(&domain, 200, UP).await;
    println!(
        "booting page → app: first 200 {} ms after the health file appeared (interval 1 s)",
        t0.elapsed().as_millis()
    );
    assert_eq!(body, "the app itself");
    app.wait_phase(id, &["running"], UP).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logs_through_the_api_and_the_cli_followed_until_interrupted() {
    let app = TestApp::spawn().await;
    let (id, domain) = client_with(&app, "Loggy", "static-site").await;
    app.wait_caddy(&domain, 200, UP).await;
    // busybox httpd -v logs each answer's status: a 404 marks our request
    // (its health checks all get 200).
    app.through_caddy(&domain, "/hello-from-the-test");

    let path = format!("/api/v1/instances/{id}/logs?tail=50");
    let logs: Value = eventually("the request in the logs", UP, || async {
        let (status, body) = app.get(&path).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body["lines"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l.as_str().unwrap().contains("response:404"))
            .then_some(body)
    })
    .await;
    assert!(logs["lines"].as_array().unwrap().len() <= 50);
    let (status, one) = app
        .get(&format!("/api/v1/instances/{id}/logs?tail=1"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(one["lines"].as_array().unwrap().len(), 1, "{one}");
    for bad in ["0", "10001", "many", "-3"] {
        let (status, body) = app
            .get(&format!("/api/v1/instances/{id}/logs?tail={bad}"))
            .await;
        assert_eq!(
            status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "tail={bad}: {body}"
        );
    }
    let (status, _) = app.get("/api/v1/instances/999999/logs").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let (code, out, err) = berth_cli(
        &app.config,
        &["instance", "logs", &id.to_string(), "-n", "50"],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("response:404"), "{out}");
    let (code, _, err) = berth_cli(
        &app.config,
        &["instance", "logs", &id.to_string(), "-n", "0"],
    );
    assert_ne!(code, 0);
    assert_eq!(err.trim().lines().count(), 1, "{err}");

    // -f: the tail (one health check's line), then a request made
    // afterwards, until SIGINT.
    let mut child = Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["instance", "logs", &id.to_string(), "-f", "-n", "1"])
        .envs(env_for(&app.config))
        .env_remove("BERTH_CONFIG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(UP).expect("the tail's one line");
    let end = Instant::now() + UP;
    let mut seen = Vec::new();
    let mut asked = Instant::now() - Duration::from_secs(10);
    while !seen.iter().any(|l: &String| l.contains("response:404")) {
        assert!(
            Instant::now() < end,
            "never followed after {first:?}: {seen:?}"
        );
        if asked.elapsed() > Duration::from_secs(2) {
            app.through_caddy(&domain, "/followed-live");
            asked = Instant::now();
        }
        if let Ok(l) = rx.recv_timeout(Duration::from_millis(200)) {
            seen.push(l);
        }
    }
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .unwrap()
        .success());
    let stopped = Instant::now();
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(
            stopped.elapsed() < Duration::from_secs(10),
            "-f ignored Ctrl-C"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_image_id_is_recorded_and_a_pinned_tag_recreates() {
    let app = TestApp::spawn().await;
    let (id, domain) = client_with(&app, "Pinned", "static-site").await;
    app.wait_caddy(&domain, 200, UP).await;
    let inst = eventually("the image id recorded", UP, || async {
        let i = app.instance(id).await;
        i["image_id"].is_string().then_some(i)
    })
    .await;
    let image_id = inst["image_id"].as_str().unwrap().to_owned();
    assert!(image_id.starts_with("sha256:"), "{inst}");
    assert_eq!(inst["image"], app.static_image.as_str());
    assert!(inst["image_tag"].is_null(), "{inst}");
    let engine_id = app.docker(&["image", "inspect", "-f", "{{.Id}}", &app.static_image]);
    assert_eq!(image_id, engine_id.trim());
    let old_container = inst["container_id"].as_str().unwrap().to_owned();

    // Another tag of the same repository, made here as a registry would
    // serve it; pinning it recreates the container on it, data kept.
    let repo = app.static_image.rsplit_once(':').unwrap().0.to_owned();
    let tag = crate::harness::unique("v2").replace(|c: char| !c.is_ascii_alphanumeric(), "");
    let pinned = format!("{repo}:{tag}");
    app.guard.track_image(&pinned);
    app.docker(&["tag", &app.static_image, &pinned]);
    std::fs::write(
        app.data_dir().join("instances/pinned/main/kept.txt"),
        "kept",
    )
    .unwrap();
    let (status, body) = app
        .patch(
            &format!("/api/v1/instances/{id}"),
            json!({ "image_tag": tag }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["image"], pinned.as_str());
    assert_eq!(body["image_tag"], tag.as_str());
    let inst = eventually("recreated on the pinned tag", UP, || async {
        let i = app.instance(id).await;
        (i["phase"] == "running" && i["container_id"].as_str() != Some(old_container.as_str()))
            .then_some(i)
    })
    .await;
    let container = inst["container_id"].as_str().unwrap();
    assert_eq!(
        app.docker(&["inspect", "-f", "{{.Config.Image}}", container])
            .trim(),
        pinned
    );
    assert_eq!(
        app.through_caddy(&domain, "/kept.txt").unwrap(),
        (200, "kept".to_owned())
    );

    let (code, out, err) = berth_cli(&app.config, &["instance", "show", &id.to_string()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains(&pinned) && out.contains("tag from the instance"),
        "{out}"
    );
    assert!(out.contains(&image_id), "{out}");
    let (code, out, _) = berth_cli(&app.config, &["instance", "list"]);
    assert_eq!(code, 0);
    let short: String = image_id
        .trim_start_matches("sha256:")
        .chars()
        .take(12)
        .collect();
    assert!(out.contains(&short), "{out}");

    let (status, body) = app
        .patch(
            &format!("/api/v1/instances/{id}"),
            json!({ "image_tag": "bad tag!" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    // "" unpins: back on the blueprint's tag.
    let (status, body) = app
        .patch(
            &format!("/api/v1/instances/{id}"),
            json!({ "image_tag": "" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["image"], app.static_image.as_str());
}
