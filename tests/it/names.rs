//! Container and network names are unambiguous (`<prefix>-<client>--<instance>`),
//! and containers named the old way (`<prefix>-<client>-<instance>`, which
//! let client `coll` instance `x` and client `coll-x` collide) are recreated
//! under the new name with the same data. Names are pinned with the network
//! pool off: a network made for the instance is named like its container.
//! (An adopted pool network is named by its instance's unique port; see
//! `network_pool.rs`.)

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{eventually, skip_docker, TestApp};

const UP: Duration = Duration::from_secs(60);

/// No pool: every network is made for its instance and named like it.
async fn spawn_without_pool() -> TestApp {
    TestApp::spawn_with(|c| c.docker.network_pool = 0).await
}

fn inspect(app: &TestApp, kind: &str, object: &str, format: &str) -> String {
    app.docker(&["inspect", "--type", kind, "-f", format, object])
}

/// Names of this test's containers (or networks) for `instance`.
fn names_of(app: &TestApp, kind: &str, instance: i64) -> Vec<String> {
    let filter = format!("label=berth.instance={instance}");
    let owner = app.guard.label_filter();
    let out = if kind == "network" {
        app.docker(&[
            "network",
            "ls",
            "--format",
            "{{.Name}}",
            "--filter",
            &owner,
            "--filter",
            &filter,
        ])
    } else {
        app.docker(&[
            "ps",
            "-a",
            "--format",
            "{{.Names}}",
            "--filter",
            &owner,
            "--filter",
            &filter,
        ])
    };
    let mut names: Vec<String> = out.lines().map(str::to_owned).collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_coll_instance_x_and_client_coll_x_run_side_by_side() {
    if skip_docker() {
        return;
    }
    let app = spawn_without_pool().await;
    app.create_plan("p", 0.5, "64MiB").await;
    app.create_client("Coll", "p").await;
    let (status, x) = app
        .post(
            "/api/v1/clients/coll/instances",
            json!({ "name": "x", "blueprint": "static-site" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{x}");
    // Its default domain (coll-x.berth.test) is x's now; the UNIQUE domain
    // says so rather than routing one to the other.
    let (status, body) = app
        .post("/api/v1/clients", json!({ "name": "Coll X", "email": "ops@example.com", "plan": "p", "blueprint": "static-site" }))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, coll_x) = app
        .post("/api/v1/clients", json!({ "name": "Coll X", "email": "ops@example.com", "plan": "p", "blueprint": "static-site", "domain": "collx.berth.test" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{coll_x}");
    assert_eq!(coll_x["slug"], "coll-x");

    let prefix = &app.config.docker.name_prefix;
    let x_id = x["id"].as_i64().unwrap();
    let cx_id = coll_x["instances"][0]["id"].as_i64().unwrap();
    let x_body = app.wait_caddy("coll-x.berth.test", 200, UP).await;
    let cx_body = app.wait_caddy("collx.berth.test", 200, UP).await;
    assert!(x_body.contains("<h1>Coll</h1>"), "{x_body}");
    assert!(cx_body.contains("<h1>Coll X</h1>"), "{cx_body}");
    app.wait_phase(x_id, &["running"], UP).await;
    app.wait_phase(cx_id, &["running"], UP).await;
    for kind in ["container", "network"] {
        assert_eq!(
            names_of(&app, kind, x_id),
            vec![format!("{prefix}-coll--x")]
        );
        assert_eq!(
            names_of(&app, kind, cx_id),
            vec![format!("{prefix}-coll-x")]
        );
    }
}

/// The previous version's container and network for a non-main instance,
/// made by hand the way it made them; the new berth converges to the new
/// names and the tenant's data is intact.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn old_style_names_are_migrated_keeping_the_data() {
    if skip_docker() {
        return;
    }
    let mut app = spawn_without_pool().await;
    app.create_plan("p", 0.5, "64MiB").await;
    app.create_client("Mig", "p").await;
    let (status, side) = app
        .post(
            "/api/v1/clients/mig/instances",
            json!({ "name": "side", "blueprint": "static-site" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{side}");
    let id = side["id"].as_i64().unwrap();
    let port = side["host_port"].as_u64().unwrap();
    app.wait_caddy("mig-side.berth.test", 200, UP).await;
    let data = app.data_dir().join("instances/mig/side");
    std::fs::write(data.join("marker.txt"), "tenant data\n").unwrap();
    app.stop().await;

    // Replace the new-style objects with what the old version made.
    let prefix = app.config.docker.name_prefix.clone();
    let (new, old) = (format!("{prefix}-mig--side"), format!("{prefix}-mig-side"));
    let subnet = inspect(
        &app,
        "network",
        &new,
        "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
    );
    assert!(subnet.contains('/'), "{subnet:?}");
    let image = inspect(&app, "container", &new, "{{.Config.Image}}");
    assert!(!image.is_empty());
    let must = |args: &[&str]| {
        let out = std::process::Command::new("docker")
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "docker {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    must(&["rm", "-f", &new]);
    must(&["network", "rm", &new]);
    let owner = format!("berth.managed={}", app.guard.owner());
    let instance = format!("berth.instance={id}");
    must(&[
        "network", "create", "--subnet", &subnet, "--label", &owner, "--label", &instance, &old,
    ]);
    must(&[
        "run",
        "-d",
        "--name",
        &old,
        "--label",
        &owner,
        "--label",
        &instance,
        "--label",
        "berth.client=mig",
        "--label",
        "berth.spec-hash=from-the-old-version",
        "--network",
        &old,
        "--mount",
        &format!("type=bind,src={},dst=/www", data.display()),
        "-p",
        &format!("127.0.0.1:{port}:8080"),
        &image,
        "/bin/httpd",
        "-f",
        "-v",
        "-p",
        "8080",
        "-h",
        "/www",
    ]);

    // Start berth again on the same store, Docker engine and Caddy.
    let berth = berth::app::App::build(app.config.clone()).await.unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(berth.run(async {
        let _ = stopped.await;
    }));
    eventually("berth renames the old container", UP, || async {
        let names = (
            names_of(&app, "container", id),
            names_of(&app, "network", id),
        );
        (names == (vec![new.clone()], vec![new.clone()])).then_some(())
    })
    .await;
    let body = app.wait_caddy("mig-side.berth.test", 200, UP).await;
    assert!(body.contains("<h1>Mig</h1>"), "{body}");
    let marker = eventually("the old data is served", UP, || async {
        app.through_caddy("mig-side.berth.test", "/marker.txt")
            .filter(|(s, _)| *s == 200)
    })
    .await;
    assert_eq!(marker.1, "tenant data\n");
    assert_eq!(
        std::fs::read_to_string(data.join("marker.txt")).unwrap(),
        "tenant data\n"
    );
    let _ = stop.send(());
    let _ = task.await;
}
