//! Images that are not on the host are pulled (from a real registry on
//! loopback: Debian's docker-registry); an unreachable registry ends in a
//! clear error phase instead of a hang.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;

use crate::harness::{free_port, try_http_get, unique, wait_until, TestApp};

struct Registry {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n", dir.path().join("data").display()),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .args(["serve", config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry from Debian's package (installed by .ci/run)");
        wait_until("registry up", Duration::from_secs(30), || {
            matches!(try_http_get(&addr, "localhost", "/v2/"), Ok((200, _)))
        });
        Registry {
            child,
            addr,
            _dir: dir,
        }
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn docker(args: &[&str]) {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn blueprint(image: &str) -> String {
    format!(
        "image = \"{image}\"\ninternal_port = 8080\ncommand = [\"/bin/httpd\", \"-f\", \"-p\", \"8080\", \"-h\", \"/www\"]\ndata_mount = \"/www\"\n\n[seed]\n\"index.html\" = \"pulled {{client}}\"\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_image_is_pulled_and_unreachable_registry_is_an_error() {
    let registry = tokio::task::spawn_blocking(Registry::start).await.unwrap();
    let image = format!("{}/berth-pull:{}", registry.addr, unique("t"));
    let rootfs = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        rootfs.path(),
        berth::docker::busybox_rootfs(std::path::Path::new("/bin/busybox")).unwrap(),
    )
    .unwrap();
    docker(&["import", rootfs.path().to_str().unwrap(), &image]);
    docker(&["push", &image]);
    docker(&["rmi", &image]);

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
