//! kill -9 in the middle of creates: the restarted daemon converges with no
//! orphan container, no duplicate port and every route present.

use std::collections::HashSet;
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{
    berth_cli, eventually, free_port, skip_docker, test_config, try_http_get, unique, BerthProcess,
    CaddyProcess, DockerGuard,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_creates_the_daemon_converges_after_restart() {
    if skip_docker() {
        return;
    }
    let dir = tempfile::Builder::new()
        .prefix("berth-crash-")
        .tempdir()
        .unwrap();
    let owner = unique("crash");
    let guard = DockerGuard::new(&owner);
    let caddy = tokio::task::spawn_blocking(CaddyProcess::start)
        .await
        .unwrap();
    let image = format!("berth-test/static-site:{}", unique("img"));
    guard.track_image(&image);
    let config = test_config(&dir, &owner, &caddy, &image, |c| {
        c.listen = format!("127.0.0.1:{}", free_port()).parse().unwrap()
    });
    std::fs::create_dir_all(&config.data_dir).unwrap();
    let (code, token, err) = berth_cli(&config, &["token", "create", "crash"]);
    assert_eq!(code, 0, "{err}");
    let token = token.trim().to_owned();
    let (code, _, err) = berth_cli(
        &config,
        &["plan", "create", "p", "--cpus", "0.1", "--memory", "32MiB"],
    );
    assert_eq!(code, 0, "{err}");

    let http = berth::tls::client_builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut daemon = BerthProcess::start(&config);
    let api = daemon.api.clone();
    eventually("daemon up", Duration::from_secs(30), || async {
        http.get(format!("{api}/api/v1/health"))
            .send()
            .await
            .ok()
            .filter(|r| r.status().is_success())
    })
    .await;

    // Fire creates, and kill the daemon once a few have been accepted and
    // the reconciler is busy with them.
    let creates: Vec<_> = (0..12)
        .map(|i| {
            let (http, api, token) = (http.clone(), api.clone(), token.clone());
            tokio::spawn(async move {
                http.post(format!("{api}/api/v1/clients"))
                    .bearer_auth(token)
                    .json(&json!({ "name": format!("Crash {i}"), "email": "a@b.example", "plan": "p", "blueprint": "static-site" }))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
            })
        })
        .collect();
    let data = config.data_dir.clone();
    eventually(
        "some creates reached Docker",
        Duration::from_secs(30),
        || {
            let data = data.clone();
            async move {
                (std::fs::read_dir(data.join("instances"))
                    .map(|d| d.count())
                    .unwrap_or(0)
                    >= 2)
                    .then_some(())
            }
        },
    )
    .await;
    daemon.kill9();
    for c in creates {
        let _ = c.await;
    }

    let daemon = BerthProcess::start(&config);
    let clients: Vec<Value> = eventually(
        "daemon back with its clients",
        Duration::from_secs(30),
        || async {
            let r = http
                .get(format!("{api}/api/v1/instances"))
                .bearer_auth(&token)
                .send()
                .await
                .ok()?;
            r.json::<Vec<Value>>().await.ok()
        },
    )
    .await;
    assert!(!clients.is_empty());

    let instances: Vec<Value> = eventually(
        "every instance running",
        Duration::from_secs(90),
        || async {
            let list: Vec<Value> = http
                .get(format!("{api}/api/v1/instances"))
                .bearer_auth(&token)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            list.iter()
                .all(|i| matches!(i["phase"].as_str(), Some("running" | "starting")))
                .then_some(list)
        },
    )
    .await;

    let ports: HashSet<u64> = instances
        .iter()
        .map(|i| i["host_port"].as_u64().unwrap())
        .collect();
    assert_eq!(ports.len(), instances.len(), "no duplicate port");
    let ids: HashSet<String> = instances.iter().map(|i| i["id"].to_string()).collect();
    let containers = std::process::Command::new("docker")
        .args([
            "ps",
            "-a",
            "--filter",
            &guard.label_filter(),
            "--format",
            "{{.Label \"berth.instance\"}}",
        ])
        .output()
        .unwrap();
    let labels: Vec<String> = String::from_utf8_lossy(&containers.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        labels.len(),
        instances.len(),
        "one container per instance, no orphans: {labels:?}"
    );
    assert!(
        labels.iter().all(|l| ids.contains(l)),
        "{labels:?} vs {ids:?}"
    );
    for inst in &instances {
        let domain = inst["domains"][0].as_str().unwrap().to_owned();
        let port = caddy.http_port;
        eventually(&format!("{domain} routed"), Duration::from_secs(30), || {
            let domain = domain.clone();
            async move {
                matches!(
                    try_http_get(&format!("127.0.0.1:{port}"), &domain, "/"),
                    Ok((200, _))
                )
                .then_some(())
            }
        })
        .await;
    }
    drop(daemon);
}
