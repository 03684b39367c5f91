//! Proves the harness itself works, against the real Caddy and Docker, so a
//! failing feature test is not a failing helper in disguise.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::{
    free_port, http_get, try_http_get, unique, wait_until, wait_until_async, CaddyProcess,
    DockerGuard,
};

#[test]
fn free_ports_are_distinct_and_bindable() {
    let ports: Vec<u16> = (0..50).map(|_| free_port()).collect();
    assert_eq!(ports.iter().collect::<HashSet<_>>().len(), ports.len());
    TcpListener::bind(("127.0.0.1", ports[0])).expect("port is free");
}

#[test]
fn unique_names_are_distinct_slugs() {
    let names: Vec<String> = (0..200).map(|_| unique("Smoke Test__Name!")).collect();
    assert_eq!(names.iter().collect::<HashSet<_>>().len(), names.len());
    for name in &names {
        berth::domain::Slug::parse(name).unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert!(name.starts_with("smoke-test-name-"), "{name}");
        assert!(name.len() <= 40, "{name}");
    }
    assert!(unique("--").starts_with("t-"));
}

#[test]
fn wait_until_returns_once_true() {
    let mut calls = Vec::new();
    wait_until("third call", Duration::from_secs(5), || {
        calls.push(Instant::now());
        calls.len() == 3
    });
    assert_eq!(calls.len(), 3);
    // The pauses grow from 10 ms (a sleep never ends early, so these lower
    // bounds hold on any machine; how fast is not asserted).
    assert!(calls[1] - calls[0] >= Duration::from_millis(10));
    assert!(calls[2] - calls[1] >= Duration::from_millis(20));
}

#[test]
#[should_panic(expected = "timed out after 50ms waiting for never")]
fn wait_until_panics_with_what() {
    wait_until("never", Duration::from_millis(50), || false);
}

#[tokio::test]
async fn wait_until_async_returns_once_true() {
    let mut calls = 0;
    wait_until_async("third call", Duration::from_secs(5), || {
        calls += 1;
        let done = calls == 3;
        async move { done }
    })
    .await;
    assert_eq!(calls, 3);
}

#[tokio::test]
#[should_panic(expected = "waiting for hang")]
async fn wait_until_async_times_out_a_hanging_call() {
    wait_until_async("hang", Duration::from_millis(50), || {
        std::future::pending::<bool>()
    })
    .await;
}

#[test]
fn http_get_sends_host_and_parses_status_and_body() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 1024];
        while !request.ends_with(b"\r\n\r\n") {
            let n = conn.read(&mut buf).unwrap();
            assert!(n > 0, "client closed early");
            request.extend_from_slice(&buf[..n]);
        }
        conn.write_all(b"HTTP/1.0 418 I'm a teapot\r\nX: y\r\n\r\nshort and stout")
            .unwrap();
        String::from_utf8(request).unwrap()
    });
    let (status, body) = http_get(&addr, "tea.example", "/pot");
    assert_eq!((status, body.as_str()), (418, "short and stout"));
    let request = server.join().unwrap();
    assert!(request.starts_with("GET /pot HTTP/1.0\r\n"), "{request}");
    assert!(request.contains("\r\nHost: tea.example\r\n"), "{request}");

    assert!(try_http_get(&format!("127.0.0.1:{}", free_port()), "x", "/").is_err());
}

#[tokio::test]
async fn caddy_serves_loaded_routes_and_restart_empty_drops_them() {
    let mut caddy = tokio::task::spawn_blocking(CaddyProcess::start)
        .await
        .unwrap();
    let site = format!("127.0.0.1:{}", caddy.http_port);
    let config = serde_json::json!({
        "admin": { "listen": caddy.admin_addr },
        "apps": { "http": {
            "http_port": caddy.http_port,
            "https_port": caddy.https_port,
            "servers": { "smoke": {
                "listen": [site],
                "automatic_https": { "disable": true },
                "routes": [
                    { "match": [{ "host": ["a.test"] }],
                      "handle": [{ "handler": "static_response", "body": "hello a" }] },
                    { "handle": [{ "handler": "static_response", "status_code": 404 }] }
                ]
            }}
        }}
    });
    let response = berth::tls::client_builder()
        .build()
        .unwrap()
        .post(format!("{}/load", caddy.admin_url))
        .json(&config)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{:?}",
        response.text().await
    );

    let (a, other) = tokio::task::spawn_blocking({
        let site = site.clone();
        move || {
            (
                http_get(&site, "a.test", "/"),
                http_get(&site, "b.test", "/"),
            )
        }
    })
    .await
    .unwrap();
    assert_eq!(a, (200, "hello a".to_owned()));
    assert_eq!(other.0, 404);

    let (admin_before, http_before) = (caddy.admin_url.clone(), caddy.http_port);
    let caddy = tokio::task::spawn_blocking(move || {
        caddy.restart_empty();
        caddy
    })
    .await
    .unwrap();
    assert_eq!(
        (caddy.admin_url.as_str(), caddy.http_port),
        (admin_before.as_str(), http_before)
    );
    assert!(
        try_http_get(&site, "a.test", "/").is_err(),
        "routes survived a restart"
    );
    let (status, body) = http_get(&caddy.admin_addr, &caddy.admin_addr, "/config/");
    assert_eq!(status, 200);
    assert!(!body.contains("hello a"), "{body}");
}

#[test]
fn docker_guard_removes_labelled_objects_and_tracked_images() {
    let owner = unique("guard");
    let image = format!("berth-test/{}:latest", unique("img"));
    let network = unique("net");
    let label = format!("berth.managed={owner}");
    let guard = DockerGuard::new(&owner);

    // A one-file image from busybox-static: `docker import` needs no registry.
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join("bin")).unwrap();
    std::fs::copy("/bin/busybox", root.path().join("bin/busybox"))
        .expect("busybox-static installed");
    let mut tar = Command::new("tar")
        .args(["-C", root.path().to_str().unwrap(), "-cf", "-", "."])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    guard.track_image(&image);
    docker(
        Command::new("docker")
            .args(["import", "-", &image])
            .stdin(tar.stdout.take().unwrap()),
    );
    assert!(tar.wait().unwrap().success(), "tar failed");
    docker(Command::new("docker").args(["network", "create", "--label", &label, &network]));
    docker(Command::new("docker").args([
        "create",
        "--label",
        &label,
        "--network",
        &network,
        &image,
        "/bin/busybox",
        "true",
    ]));
    docker(Command::new("docker").args(["volume", "create", "--label", &label]));
    let filter = guard.label_filter();
    assert_eq!(
        docker(Command::new("docker").args(["ps", "-aq", "--filter", &filter]))
            .lines()
            .count(),
        1
    );

    drop(guard);

    for args in [
        vec!["ps", "-aq", "--filter", &filter],
        vec!["network", "ls", "-q", "--filter", &filter],
        vec!["volume", "ls", "-q", "--filter", &filter],
        vec!["images", "-q", &image],
    ] {
        let left = docker(Command::new("docker").args(&args));
        assert!(left.trim().is_empty(), "docker {args:?} still lists {left}");
    }
    crate::harness::assert_absent("network", &network);
    crate::harness::assert_absent("image", &image);
}

fn docker(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("run {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn docker_fails_loudly_and_absence_needs_the_engines_not_found() {
    use crate::harness::{assert_absent, docker as docker_cli};
    // A failing docker command panics with docker's own words, never "".
    let failed = std::panic::catch_unwind(|| {
        docker_cli(&["inspect", "--type", "container", &unique("nope")])
    })
    .expect_err("a failing docker command must panic");
    let message = failed.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(message.contains("No such container"), "{message}");

    for kind in ["container", "network", "volume", "image", "object"] {
        assert_absent(kind, &unique("never-made"));
    }

    // Something that exists is not absent, and a failure other than "not
    // found" (here: an unknown kind) does not count as absence either.
    let owner = unique("absent");
    let guard = DockerGuard::new(&owner);
    let network = unique("net");
    docker_cli(&[
        "network",
        "create",
        "--label",
        &format!("berth.managed={owner}"),
        &network,
    ]);
    for (kind, name) in [
        ("network", network.as_str()),
        ("object", network.as_str()),
        ("bogus", "x"),
    ] {
        let name = name.to_owned();
        assert!(
            std::panic::catch_unwind(move || assert_absent(kind, &name)).is_err(),
            "assert_absent({kind}, ..) passed"
        );
    }
    drop(guard);
    assert_absent("network", &network);
}
