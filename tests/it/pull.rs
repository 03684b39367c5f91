//! Images that are not on the host are pulled (from a real registry on
//! loopback: Debian's docker-registry); an unreachable registry ends in a
//! clear error phase instead of a hang.

use std::time::Duration;

use serde_json::json;

use crate::harness::{free_port, unique, Registry, TestApp};

fn blueprint(image: &str) -> String {
    format!(
        "image = \"{image}\"\ninternal_port = 8080\ncommand = [\"/bin/httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\ndata_mount = \"/www\"\n\n[seed]\n\"index.html\" = \"pulled {{client}}\"\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_image_is_pulled_and_unreachable_registry_is_an_error() {
    let registry = tokio::task::spawn_blocking(Registry::start).await.unwrap();
    let image = format!("{}/berth-pull:{}", registry.addr, unique("t"));
    registry.push_busybox(&image, &["ENV V=1"]);

    let ghost = format!("127.0.0.1:{}/nope:1", free_port());
    let app = TestApp::spawn_with(|c| {
        let dir = c.blueprint_dir.clone().unwrap();
        std::fs::write(dir.join("pulled.toml"), blueprint(&image)).unwrap();
        std::fs::write(dir.join("ghost.toml"), blueprint(&ghost)).unwrap();
    })
    .await;
    app.guard.track_image(&image);
    app.create_plan("p", 0.5, "64MiB").await;

    let (status, client) = app
        .post(
            "/api/v1/clients",
            json!({ "name": "Puller", "email": "a@b.example", "plan": "p", "blueprint": "pulled" }),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{client}");
    let body = app
        .wait_caddy("puller.berth.test", 200, Duration::from_secs(60))
        .await;
    assert_eq!(body, "pulled puller");

    let (_, client) = app
        .post(
            "/api/v1/clients",
            json!({ "name": "Ghost", "email": "a@b.example", "plan": "p", "blueprint": "ghost" }),
        )
        .await;
    let id = client["instances"][0]["id"].as_i64().unwrap();
    let inst = app
        .wait_phase(id, &["error"], Duration::from_secs(90))
        .await;
    let message = inst["message"].as_str().unwrap();
    assert!(
        message.contains("pull") && message.contains("nope"),
        "{message}"
    );
}

/// A registry that accepts connections and never answers: the pull is
/// abandoned at `docker.pull_timeout`, and the instance says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_that_hangs_times_out_with_a_clear_message() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().map_while(Result::ok) {
            held.push(conn);
        }
    });
    let image = format!("{addr}/stalled:1");
    let app = TestApp::spawn_with(|c| {
        c.docker.pull_timeout = Duration::from_secs(3);
        let dir = c.blueprint_dir.clone().unwrap();
        std::fs::write(dir.join("stalled.toml"), blueprint(&image)).unwrap();
    })
    .await;
    app.create_plan("p", 0.5, "64MiB").await;
    let (status, client) = app
        .post(
            "/api/v1/clients",
            json!({ "name": "Stalled", "email": "a@b.example", "plan": "p", "blueprint": "stalled" }),
        )
        .await;
    assert_eq!(status, reqwest::StatusCode::CREATED, "{client}");
    let id = client["instances"][0]["id"].as_i64().unwrap();
    let started = std::time::Instant::now();
    let inst = app
        .wait_phase(id, &["error"], Duration::from_secs(60))
        .await;
    let message = inst["message"].as_str().unwrap();
    assert!(
        message.contains("timed out after 3 s") && message.contains("stalled"),
        "{message}"
    );
    println!(
        "stalled pull: error phase {} ms after the create (timeout 3 s)",
        started.elapsed().as_millis()
    );
}
