//! Usage end to end: the sampler reads real containers' cgroups, so a busy
//! loop capped by its plan shows up as that many cores, a memory hog shows
//! its memory and OOM kills, and the pages, API and `/metrics` report them.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{berth_cli, eventually, TestApp};

const UP: Duration = Duration::from_secs(60);

/// A berth sampling every second, with two extra blueprints on the test
/// image: a CPU burner and a memory hog.
async fn spawn(quota_webhook: Option<String>) -> TestApp {
    TestApp::spawn_with(|config| {
        config.metrics.quota_webhook = quota_webhook;
        config.metrics.interval = Duration::from_secs(1);
        config.metrics.disk_interval = Duration::from_secs(1);
        let dir = config.blueprint_dir.clone().expect("test blueprint dir");
        let base = std::fs::read_to_string(dir.join("static-site.toml")).unwrap();
        let image = base.lines().find(|l| l.starts_with("image = ")).unwrap().to_owned();
        let blueprint = |command: &str| {
            format!("{image}\nbuild = \"busybox\"\ninternal_port = 8080\ndata_mount = \"/www\"\ncommand = {command}\n")
        };
        std::fs::write(dir.join("burner.toml"), blueprint(r#"["/bin/sh", "-c", "while :; do :; done"]"#)).unwrap();
        // Holds ~40 MB for a few seconds, then asks for 40 MB more than the
        // 64 MiB limit allows; the kernel kills `tail`, the loop starts over.
        std::fs::write(
            dir.join("hog.toml"),
            blueprint(r#"["/bin/sh", "-c", "while :; do (head -c 40000000 /dev/zero; sleep 3; head -c 40000000 /dev/zero) | tail >/dev/null; done"]"#),
        )
        .unwrap();
    })
    .await
}

/// A local HTTP endpoint standing in for the provider's webhook receiver:
/// answers 200 and hands over each JSON body.
async fn webhook_receiver() -> (String, tokio::sync::mpsc::Receiver<Value>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "http://{}/hook?token=secret",
        listener.local_addr().unwrap()
    );
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let body = loop {
                let n = sock.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buf).to_string();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len: usize = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if body.len() >= len {
                        break Some(body.to_owned());
                    }
                }
            };
            let _ = sock
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await;
            if let Some(body) = body {
                let _ = tx
                    .send(serde_json::from_str(&body).unwrap_or(Value::String(body)))
                    .await;
            }
        }
    });
    (url, rx)
}

fn unix_now_f() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

/// CPU seconds the container used so far, from its cgroup (v1 or v2).
fn cgroup_cpu_secs(id: &str) -> f64 {
    let v1 = format!("/sys/fs/cgroup/cpuacct/docker/{id}/cpuacct.usage");
    if let Ok(ns) = std::fs::read_to_string(v1) {
        return ns.trim().parse::<f64>().unwrap() / 1e9;
    }
    for dir in [
        format!("/sys/fs/cgroup/system.slice/docker-{id}.scope"),
        format!("/sys/fs/cgroup/docker/{id}"),
    ] {
        if let Ok(stat) = std::fs::read_to_string(format!("{dir}/cpu.stat")) {
            let us = stat
                .lines()
                .find_map(|l| l.strip_prefix("usage_usec "))
                .unwrap();
            return us.trim().parse::<f64>().unwrap() / 1e6;
        }
    }
    panic!("no cgroup found for container {id}");
}

async fn client_with(app: &TestApp, name: &str, plan: &str, blueprint: &str) -> (String, i64) {
    let (status, body) = app
        .post("/api/v1/clients", json!({ "name": name, "email": "ops@example.com", "plan": plan, "blueprint": blueprint }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    (
        body["slug"].as_str().unwrap().to_owned(),
        body["instances"][0]["id"].as_i64().unwrap(),
    )
}

/// The instance's raw points (1 h range) once `ready` accepts them.
async fn series_until(
    app: &TestApp,
    id: i64,
    what: &str,
    ready: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    eventually(what, Duration::from_secs(90), || async {
        let (status, body) = app
            .get(&format!("/api/v1/instances/{id}/usage?range=1h"))
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let points = body["series"].as_array().cloned().unwrap_or_default();
        ready(&points).then_some(points)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_capped_busy_loop_shows_its_cores_and_the_pages_show_it() {
    let app = spawn(None).await;
    app.post(
        "/api/v1/plans",
        json!({ "name": "half", "cpus": 0.5, "memory": "64MiB", "storage": "1GiB" }),
    )
    .await;
    let (slug, id) = client_with(&app, "Burner Ltd", "half", "burner").await;
    app.wait_phase(id, &["running"], UP).await;

    // Ground truth read straight from the kernel, independent of the
    // sampler: CPU seconds over the same window as the samples.
    let container = app.instance(id).await["container_id"]
        .as_str()
        .unwrap()
        .to_owned();
    series_until(&app, id, "warm-up samples", |p| {
        p.iter().filter(|p| p["up"] == 1.0).count() >= 3
    })
    .await;
    let (t0, cpu0) = (unix_now_f(), cgroup_cpu_secs(&container));
    let points = series_until(&app, id, "eight more running samples", |p| {
        p.iter()
            .filter(|p| p["up"] == 1.0 && p["ts"].as_f64().unwrap() > t0 + 1.0)
            .count()
            >= 8
    })
    .await;
    let (t1, cpu1) = (unix_now_f(), cgroup_cpu_secs(&container));
    let truth = (cpu1 - cpu0) / (t1 - t0);
    let window: Vec<f64> = points
        .iter()
        .filter(|p| p["up"] == 1.0 && p["ts"].as_f64().unwrap() > t0 + 1.0)
        .map(|p| p["cpu"].as_f64().unwrap())
        .collect();
    let avg = window.iter().sum::<f64>() / window.len() as f64;
    assert!(
        (avg - truth).abs() <= 0.2 * truth.max(0.05),
        "samples say {avg:.3} cores, the kernel {truth:.3}: {window:?}"
    );
    assert!(
        avg <= 0.6,
        "the plan caps at 0.5 cores, samples say {avg:.3}"
    );
    // On a machine with a free half core the burner gets all of its plan. On
    // a saturated one (other builds) it gets less, and the samples must say so.
    if truth >= 0.45 {
        assert!(
            (0.4..=0.6).contains(&avg),
            "expected ~0.5 cores, got {avg:.3} from {window:?}"
        );
    } else {
        eprintln!("host is busy: the burner got {truth:.3} cores; samples said {avg:.3}");
    }
    assert!(points.iter().all(|p| p["oom_kills"] == 0), "{points:?}");

    // The API's client view, the pages and /metrics agree.
    let (status, usage) = app
        .get(&format!("/api/v1/clients/{slug}/usage?range=24h"))
        .await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    assert_eq!(usage["instances"][0]["cpus"], 0.5);
    assert_eq!(usage["instances"][0]["memory_limit"], 64 << 20);
    let (status, body) = app
        .get(&format!("/api/v1/clients/{slug}/usage?range=2h"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("1h, 24h, 7d, 30d"),
        "{body}"
    );

    // The pages are admin pages: without a session they send to the login.
    let page = format!("{}/usage/clients/{slug}?range=1h", app.api);
    let no_redirects = berth::tls::client_builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let anonymous = no_redirects
        .get(&page)
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        anonymous.headers()["location"].to_str().unwrap(),
        "/login",
        "sent to the login"
    );

    // /metrics: open from loopback, a wrong token is still refused.
    let metrics = app
        .http
        .get(format!("{}/metrics", app.api))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    let text = metrics.text().await.unwrap();
    let line = format!("berth_instance_cpu_seconds_total{{client=\"{slug}\",instance=\"main\"}} ");
    assert!(text.contains(&line), "{text}");
    assert!(text.contains("berth_reconcile_passes_total "), "{text}");
    let metric = |name: &str| -> f64 {
        let key = format!("{name}{{client=\"{slug}\",instance=\"main\"}} ");
        text.lines()
            .find_map(|l| l.strip_prefix(&key))
            .unwrap_or_else(|| panic!("no {key} in /metrics: {text}"))
            .trim()
            .parse()
            .unwrap()
    };

    // Signed in, the pages show the same figures.
    app.ops()
        .create_user(&berth::audit::Actor::cli(), "alice", "correct-horse-1")
        .await
        .unwrap();
    let ui = crate::ui::UiSession::sign_in(&app, "alice", "correct-horse-1").await;
    let (status, html) = ui.get(&format!("/usage/clients/{slug}?range=1h")).await;
    assert_eq!(status, StatusCode::OK, "{html}");
    assert!(html.contains(&format!("Usage of {slug}")), "{html}");
    // The memory limit /metrics reports, in the chart's words.
    assert_eq!(
        metric("berth_instance_memory_limit_bytes"),
        (64u64 << 20) as f64
    );
    assert!(html.contains("limit 64.0 MiB"), "{html}");
    assert!(html.contains("plan 0.5 cores"), "{html}");
    // No OOM kill in /metrics, and no OOM badge on the page.
    assert_eq!(metric("berth_instance_oom_kills_total"), 0.0);
    assert!(!html.contains("OOM kills"), "{html}");
    assert_eq!(metric("berth_instance_up"), 1.0);
    // The dashboard's row for the burner: its CPU average within what the
    // API's top list says (samples may land between the two reads) and
    // under the plan's cap, like the kernel's counter over the same time.
    let (status, dash) = ui.get("/usage?range=1h").await;
    assert_eq!(status, StatusCode::OK, "{dash}");
    let (_, top) = app.get("/api/v1/usage/top?range=1h").await;
    let api_avg = top
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client"] == slug.as_str())
        .unwrap_or_else(|| panic!("{slug} in {top}"))["cpu_avg"]
        .as_f64()
        .unwrap();
    let row = dash
        .split("<tr")
        .find(|r| r.contains(&format!("href=\"/usage/clients/{slug}\"")))
        .unwrap_or_else(|| panic!("no row for {slug}: {dash}"));
    let page_avg: f64 = row
        .split("<td class=\"num\">")
        .nth(1)
        .and_then(|c| c.split('<').next())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no CPU figure in {row}"));
    assert!(
        (page_avg - api_avg).abs() <= 0.05 && page_avg <= 0.6,
        "page says {page_avg} cores, the API {api_avg}"
    );
    // No backup yet: counted as such rather than given a made-up age.
    assert!(text.contains("berth_instances_without_backup 1"), "{text}");
    let refused = app
        .http
        .get(format!("{}/metrics", app.api))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    // This month's export bills the burner's time and cores. The kernel's
    // counter is the truth: billing cannot exceed what the cgroup used, and
    // misses at most what ran outside the sampled time, at the plan's cap.
    let kernel_before = cgroup_cpu_secs(&container);
    let month = time::OffsetDateTime::now_utc();
    let month = format!("{:04}-{:02}", month.year(), u8::from(month.month()));
    let (status, lines) = app
        .get(&format!("/api/v1/usage/export?month={month}&format=json"))
        .await;
    assert_eq!(status, StatusCode::OK, "{lines}");
    let line = lines
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["client"] == slug.as_str())
        .expect("burner billed")
        .clone();
    let kernel_after = cgroup_cpu_secs(&container);
    let age = unix_now_f()
        - time::OffsetDateTime::parse(
            &app.docker(&["inspect", "-f", "{{.State.StartedAt}}", &container]),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
        .unix_timestamp_nanos() as f64
            / 1e9;
    let up_secs = line["instance_hours"].as_f64().unwrap() * 3600.0;
    let billed = line["cpu_core_hours"].as_f64().unwrap() * 3600.0;
    assert!(up_secs > 0.0, "{line}");
    // Float sums of per-sample products: allow 1% and a hundredth of a second.
    assert!(
        billed <= kernel_after * 1.01 + 0.01,
        "billed {billed:.2} CPU s, the kernel counted {kernel_after:.2}: {line}"
    );
    let unsampled = (age - up_secs).max(0.0);
    assert!(
        billed >= kernel_before - 0.6 * unsampled - 0.5,
        "billed {billed:.2} CPU s, the kernel counted {kernel_before:.2}, \
         {unsampled:.1}s were not sampled: {line}"
    );
    let csv = app
        .get_text(&format!("/api/v1/usage/export?month={month}&format=csv"))
        .await;
    assert!(
        csv.starts_with("month,client,instances,instance_hours,cpu_core_hours"),
        "{csv}"
    );
    assert!(csv.contains(&format!("{month},{slug},1,")), "{csv}");
    let (status, _) = app.get("/api/v1/usage/export?month=2026-13").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    // The CLI reads the same store.
    let (code, out, err) = berth_cli(&app.config, &["usage", "export", "--month", &month]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&format!("{month},{slug},1,")), "{out}");
    let (code, out, err) = berth_cli(&app.config, &["usage", "show", &slug, "--range", "1h"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("main") && out.contains("/ 0.5"), "{out}");
    let (code, _, err) = berth_cli(&app.config, &["usage", "show", &slug, "--range", "2h"]);
    assert_eq!((code, err.trim().lines().count()), (2, 1), "{err}");
    let (code, _, err) = berth_cli(&app.config, &["usage", "export", "--month", "2026-13"]);
    assert_eq!((code, err.trim().lines().count()), (1, 1), "{err}");

    // The engine's stats API (the fallback when cgroup files are missing)
    // and the init pid used for network counters answer for this container.
    let docker =
        berth::docker::Docker::connect(&app.config.docker.socket, &app.config.docker.owner)
            .await
            .unwrap();
    let stats = docker.stats_once(&container).await.unwrap();
    assert!(
        stats.cpu_ns > 0 && stats.mem > 0 && stats.pids >= 1,
        "{stats:?}"
    );
    assert!(docker.init_pid(&container).await.unwrap().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_memory_hog_shows_its_memory_and_oom_kills_and_storage_over_quota_warns() {
    let (hook, mut hooks) = webhook_receiver().await;
    let app = spawn(Some(hook)).await;
    app.post(
        "/api/v1/plans",
        json!({ "name": "tight", "cpus": 0.25, "memory": "64MiB", "storage": "1MiB" }),
    )
    .await;
    let (slug, id) = client_with(&app, "Hog GmbH", "tight", "hog").await;
    app.wait_phase(id, &["running"], UP).await;

    let limit = (64u64 << 20) as f64;
    let points = series_until(&app, id, "memory near the limit and an OOM kill", |p| {
        let kills: u64 = p.iter().map(|p| p["oom_kills"].as_u64().unwrap_or(0)).sum();
        let peak = p
            .iter()
            .map(|p| p["mem_max"].as_f64().unwrap_or(0.0))
            .fold(0.0, f64::max);
        kills >= 1 && peak >= 0.5 * limit
    })
    .await;
    let peak = points
        .iter()
        .map(|p| p["mem_max"].as_f64().unwrap())
        .fold(0.0, f64::max);
    assert!(peak <= limit, "memory {peak} above the limit");

    // 2 MiB in a 1 MiB quota: the client is warned (API and pages).
    std::fs::write(
        app.data_dir()
            .join("instances")
            .join(&slug)
            .join("main")
            .join("big.bin"),
        vec![7u8; 2 << 20],
    )
    .unwrap();
    let usage = eventually("storage warning", Duration::from_secs(30), || async {
        let (_, usage) = app
            .get(&format!("/api/v1/clients/{slug}/usage?range=1h"))
            .await;
        (!usage["warnings"].as_array().unwrap().is_empty()).then_some(usage)
    })
    .await;
    assert_eq!(usage["warnings"][0]["kind"], "storage");
    assert_eq!(usage["warnings"][0]["quota"], 1 << 20);
    let posted = tokio::time::timeout(Duration::from_secs(30), hooks.recv())
        .await
        .expect("webhook called")
        .unwrap();
    assert_eq!(posted["event"], "storage_over_quota", "{posted}");
    assert_eq!(posted["client"], slug.as_str(), "{posted}");
    assert_eq!(posted["quota_bytes"], 1 << 20, "{posted}");
    let (_, client) = app.get(&format!("/api/v1/clients/{slug}")).await;
    assert_eq!(client["warnings"][0]["kind"], "storage", "{client}");
    let (_, top) = app.get("/api/v1/usage/top?range=24h").await;
    let me = top
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["client"] == slug.as_str())
        .unwrap()
        .clone();
    assert_eq!(me["over_quota"], true, "{me}");
    assert!(me["oom_kills"].as_u64().unwrap() >= 1, "{me}");

    // Back under quota, the warning clears.
    std::fs::remove_file(
        app.data_dir()
            .join("instances")
            .join(&slug)
            .join("main")
            .join("big.bin"),
    )
    .unwrap();
    eventually("warning cleared", Duration::from_secs(30), || async {
        let (_, usage) = app
            .get(&format!("/api/v1/clients/{slug}/usage?range=1h"))
            .await;
        usage["warnings"]
            .as_array()
            .unwrap()
            .is_empty()
            .then_some(())
    })
    .await;
}
