//! Tenant data directories are hostile: berth never follows a link a tenant
//! planted there (seed files, the data dir itself, size walks), hands a new
//! data dir to the blueprint's container user, and runs containers with no
//! capabilities but those their blueprint adds back.

use std::os::unix::fs::{symlink, MetadataExt};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{eventually, skip_docker, TestApp};

const UP: Duration = Duration::from_secs(60);

fn first_instance(client: &Value) -> (i64, String) {
    let inst = &client["instances"][0];
    (
        inst["id"].as_i64().unwrap(),
        inst["domains"][0].as_str().unwrap().to_owned(),
    )
}

fn data_dir(app: &TestApp, slug: &str) -> PathBuf {
    app.data_dir().join("instances").join(slug).join("main")
}

/// Changes the instance's env (a recreate) and waits for the new container.
async fn recreate(app: &TestApp, id: i64, value: &str) -> Value {
    let before = app.instance(id).await["container_id"].clone();
    let (status, body) = app
        .patch(
            &format!("/api/v1/instances/{id}"),
            json!({ "env": { "RECREATE": value } }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    eventually("the instance is recreated", UP, || async {
        let inst = app.instance(id).await;
        let new = inst["container_id"].is_string() && inst["container_id"] != before;
        (new || inst["phase"] == "error").then_some(inst)
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_recreate_never_writes_a_seed_through_a_tenant_link() {
    if skip_docker() {
        return;
    }
    let app = TestApp::spawn().await;
    app.create_plan("p", 0.5, "64MiB").await;
    let client = app.create_client("Linker", "p").await;
    let (id, domain) = first_instance(&client);
    app.wait_caddy(&domain, 200, UP).await;

    // From inside its container (root, no capabilities), the tenant replaces
    // its index.html by a link to a host path outside its data dir: one that
    // does not exist yet, where a write would create it.
    let host = app.dir.path().join("host-side");
    std::fs::create_dir(&host).unwrap();
    let planted = host.join("planted.html");
    let container = app.wait_phase(id, &["running"], UP).await["container_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let target = planted.to_str().unwrap();
    let out = std::process::Command::new("docker")
        .args(["exec", &container, "ln", "-sf", target, "/www/index.html"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let data = data_dir(&app, "linker");
    assert_eq!(
        std::fs::read_link(data.join("index.html")).unwrap(),
        planted
    );

    let inst = recreate(&app, id, "1").await;
    assert_ne!(inst["phase"], "error", "{inst}");
    assert!(
        !planted.exists(),
        "berth created {} through the tenant's link",
        planted.display()
    );
    let link = std::fs::symlink_metadata(data.join("index.html")).unwrap();
    assert!(
        link.file_type().is_symlink(),
        "the tenant's link was replaced"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_in_place_of_the_data_dir_is_refused() {
    if skip_docker() {
        return;
    }
    let app = TestApp::spawn().await;
    app.create_plan("p", 0.5, "64MiB").await;
    let client = app.create_client("Dirlink", "p").await;
    let (id, domain) = first_instance(&client);
    app.wait_caddy(&domain, 200, UP).await;

    let host = app.dir.path().join("host-dir");
    std::fs::create_dir(&host).unwrap();
    let data = data_dir(&app, "dirlink");
    std::fs::remove_dir_all(&data).unwrap();
    symlink(&host, &data).unwrap();

    let inst = recreate(&app, id, "1").await;
    let inst = if inst["phase"] == "error" {
        inst
    } else {
        app.wait_phase(id, &["error"], UP).await
    };
    let message = inst["message"].as_str().unwrap();
    assert!(message.contains("is a symbolic link"), "{message}");
    assert!(message.contains(&data.display().to_string()), "{message}");
    assert_eq!(
        std::fs::read_dir(&host).unwrap().count(),
        0,
        "nothing written into the link's target"
    );
    assert_eq!(
        app.docker(&[
            "ps",
            "-aq",
            "--filter",
            &app.guard.label_filter(),
            "--filter",
            &format!("label=berth.instance={id}"),
        ]),
        "",
        "no container mounts the link's target"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_disk_walk_does_not_follow_a_link_to_a_big_host_dir() {
    if skip_docker() {
        return;
    }
    let app = TestApp::spawn().await;
    app.create_plan("p", 0.5, "64MiB").await;
    let client = app.create_client("Walker", "p").await;
    let (id, domain) = first_instance(&client);
    app.wait_caddy(&domain, 200, UP).await;

    let big = app.dir.path().join("big-host-dir");
    std::fs::create_dir(&big).unwrap();
    std::fs::write(big.join("blob"), vec![1u8; 8 << 20]).unwrap();
    let data = data_dir(&app, "walker");
    symlink(&big, data.join("escape")).unwrap();
    let seeded = std::fs::metadata(data.join("index.html")).unwrap().len();

    let disk = Mutex::default();
    berth::metrics::disk::walk_once(app.store(), &app.config, &disk)
        .await
        .unwrap();
    let bytes = disk.lock().unwrap()[&id];
    assert_eq!(
        bytes,
        seeded + big.to_str().unwrap().len() as u64,
        "the seed file plus the link itself"
    );
}

/// A blueprint that adds two capabilities back and gives its data to a
/// non-root user; the shipped static-site adds none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn containers_drop_all_capabilities_and_data_belongs_to_the_container_user() {
    if skip_docker() {
        return;
    }
    let app = TestApp::spawn_with(|c| {
        let dir = c.blueprint_dir.clone().unwrap();
        let text = std::fs::read_to_string(dir.join("static-site.toml")).unwrap();
        let text = text
            .replace("cap_add = []", "cap_add = [\"CHOWN\", \"CAP_SETUID\"]")
            .replace("data_owner = \"0:0\"", "data_owner = \"1234:2345\"");
        assert!(
            text.contains("1234:2345"),
            "static-site.toml names its data_owner"
        );
        std::fs::write(dir.join("static-caps.toml"), text).unwrap();
    })
    .await;
    app.create_plan("p", 0.5, "64MiB").await;
    let plain = app.create_client("Plain", "p").await;
    let (status, capped) = app
        .post(
            "/api/v1/clients",
            json!({ "name": "Capped", "email": "ops@example.com", "plan": "p", "blueprint": "static-caps" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{capped}");

    for (client, slug, caps) in [
        (&plain, "plain", vec![]),
        (&capped, "capped", vec!["CHOWN", "SETUID"]),
    ] {
        let (id, domain) = first_instance(client);
        // Healthy with no capabilities: busybox httpd serves its seed.
        let body = app.wait_caddy(&domain, 200, UP).await;
        assert!(body.contains("hosted by berth"), "{body}");
        let inst = app.wait_phase(id, &["running"], UP).await;
        let container = inst["container_id"].as_str().unwrap();
        let inspect = |f: &str| app.docker(&["inspect", "-f", f, container]);
        assert_eq!(inspect("{{json .HostConfig.CapDrop}}"), "[\"ALL\"]");
        let added: Option<Vec<String>> =
            serde_json::from_str(&inspect("{{json .HostConfig.CapAdd}}")).unwrap();
        let added: Vec<String> = added
            .unwrap_or_default()
            .iter()
            .map(|c| c.trim_start_matches("CAP_").to_owned())
            .collect();
        assert_eq!(added, caps, "{slug}");
        let data = data_dir(&app, slug);
        let owner = if slug == "capped" {
            (1234, 2345)
        } else {
            (0, 0)
        };
        for path in [data.clone(), data.join("index.html")] {
            let m = std::fs::metadata(&path).unwrap();
            assert_eq!((m.uid(), m.gid()), owner, "{}", path.display());
        }
    }
}
