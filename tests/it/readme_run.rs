//! The README's first command, as a new user runs it: `berth serve` with no
//! config file in a fresh directory, so `data_dir` is the relative default
//! `berth-data` and Caddy is the managed one. Only what must be unique per
//! test (ports, Docker owner label and name prefix) comes from `BERTH_*`
//! variables; the blueprints are a `./templates` copy, as in a checkout,
//! with a static-site image name of this test's own.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::harness::{
    free_port, free_port_block, proc_status_field, skip_docker, try_http_get, unique, wait_until,
    BerthServe, DockerGuard, PORTS_PER_APP,
};

/// Builds the busybox image and starts the container on a loaded machine.
const INSTANCE_DEADLINE: Duration = Duration::from_secs(120);
const START_DEADLINE: Duration = Duration::from_secs(60);

struct Fresh {
    cwd: tempfile::TempDir,
    env: Vec<(&'static str, String)>,
    http_port: u16,
    admin_port: u16,
    guard: DockerGuard,
}

/// A fresh directory holding only `templates/`, and the per-test variables.
fn fresh(prefix: &str) -> Fresh {
    let cwd = tempfile::Builder::new()
        .prefix("berth-readme-")
        .tempdir()
        .unwrap();
    let owner = unique(prefix);
    let guard = DockerGuard::new(&owner);
    let image = format!("berth-test/static-site:{}", unique("img"));
    guard.track_image(&image);
    copy_templates(&cwd.path().join("templates"), &image);
    let (first, last) = free_port_block(PORTS_PER_APP);
    let (http_port, admin_port) = (free_port(), free_port());
    let tail: String = owner.chars().filter(char::is_ascii_alphanumeric).collect();
    let env = vec![
        ("BERTH_LISTEN", format!("127.0.0.1:{}", free_port())),
        ("BERTH_CADDY_HTTP_PORT", http_port.to_string()),
        ("BERTH_CADDY_HTTPS_PORT", free_port().to_string()),
        (
            "BERTH_CADDY_ADMIN",
            format!("http://127.0.0.1:{admin_port}"),
        ),
        ("BERTH_PORT_RANGE", format!("{first}-{last}")),
        ("BERTH_DOCKER_OWNER", owner.clone()),
        (
            "BERTH_DOCKER_NAME_PREFIX",
            format!("r{}", &tail[tail.len() - 6..]),
        ),
    ];
    Fresh {
        cwd,
        env,
        http_port,
        admin_port,
        guard,
    }
}

fn copy_templates(to: &Path, image: &str) {
    std::fs::create_dir_all(to).unwrap();
    let source = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("templates");
    for entry in std::fs::read_dir(source).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("berth/static-site:1", image);
        std::fs::write(to.join(path.file_name().unwrap()), text).unwrap();
    }
}

/// Waits for a health answer that satisfies `ok`; returns it.
fn wait_health(berth: &BerthServe, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let mut last = Value::Null;
    wait_until(what, START_DEADLINE, || match berth.health() {
        Some(h) => {
            let done = ok(&h);
            last = h;
            done
        }
        None => false,
    });
    last
}

fn get_with_token(listen: &str, path: &str, token: &str) -> Value {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let resp = berth::tls::client_builder()
            .no_proxy()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap()
            .get(format!("http://{listen}{path}"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        resp.json().await.unwrap()
    })
}

#[test]
fn serve_with_the_default_relative_config_reaches_an_instance_through_managed_caddy() {
    if skip_docker() {
        return;
    }
    let f = fresh("readme");
    let mut berth = BerthServe::start(f.cwd.path(), f.env.clone(), &[]);
    let health = wait_health(&berth, "the managed Caddy is up", |h| {
        h["caddy"]["up"] == true
    });
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["caddy"]["managed"], true, "{health}");
    assert_eq!(health["pid"], berth.child.id(), "{health}");

    // Relative defaults, resolved against the directory berth started in.
    let data = f.cwd.path().join("berth-data");
    assert!(data.join("caddy/caddy/bootstrap.json").is_file());
    assert!(data.join("berth.db").is_file());

    // The CLI, run the same way, finds the same store.
    let (code, token, err) = berth.cli(&["token", "create", "readme"]);
    assert_eq!(code, 0, "{err}");
    let token = token.trim().to_owned();
    assert_eq!(
        token.lines().count(),
        1,
        "only the token on stdout: {token}"
    );
    let (code, out, err) = berth.cli(&[
        "plan", "create", "small", "--cpus", "0.5", "--memory", "64MiB",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Plan small created"), "{out}");
    let (code, out, err) = berth.cli(&[
        "--json",
        "client",
        "create",
        "Readme Co",
        "--email",
        "ops@example.com",
        "--plan",
        "small",
        "--blueprint",
        "static-site",
    ]);
    assert_eq!(code, 0, "{err}");
    let client: Value = serde_json::from_str(&out).expect("--json prints JSON");
    assert_eq!(client["slug"], "readme-co", "{client}");
    let instance = &client["instances"][0];
    let host = "readme-co.localhost";
    assert_eq!(
        instance["urls"][0],
        format!("http://{host}:{}", f.http_port),
        "{client}"
    );

    // Through the managed Caddy, by the host name the CLI printed.
    let caddy = format!("127.0.0.1:{}", f.http_port);
    let mut last = None;
    wait_until(
        "the instance answers through Caddy",
        INSTANCE_DEADLINE,
        || {
            last = try_http_get(&caddy, host, "/").ok();
            matches!(&last, Some((200, _)))
        },
    );
    let (_, body) = last.unwrap();
    assert!(body.contains("<h1>Readme Co</h1>"), "{body}");
    assert!(data.join("instances/readme-co/main/index.html").is_file());

    // The API the token opens sees it running (once its health check passed).
    let id = instance["id"].as_i64().unwrap();
    let mut api = Value::Null;
    wait_until(
        "the API reports the instance running",
        INSTANCE_DEADLINE,
        || {
            api = get_with_token(&berth.listen, &format!("/api/v1/instances/{id}"), &token);
            api["phase"] == "running"
        },
    );
    assert_eq!(api["client_slug"], "readme-co", "{api}");

    // `berth doctor` recognises the running daemon instead of "address in use".
    let (code, out, err) = berth.cli(&["doctor"]);
    assert_eq!(code, 0, "{out}{err}");
    let pid = berth.child.id();
    assert!(
        out.lines().any(|l| l.starts_with("ok")
            && l.contains("berth: running")
            && l.contains(&format!("pid {pid}"))),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("ok") && l.contains("managed caddy: up")),
        "{out}"
    );

    // SIGTERM stops berth and its Caddy; nothing keeps the ports.
    let caddies = berth.children_named("caddy");
    assert_eq!(caddies.len(), 1, "{caddies:?}");
    let status = berth.terminate(Duration::from_secs(30));
    assert!(status.success(), "{status}\n{}", berth.log());
    wait_until("the managed Caddy is gone", Duration::from_secs(10), || {
        !Path::new(&format!("/proc/{}", caddies[0])).exists()
            || proc_status_field(caddies[0], "State").is_some_and(|s| s.starts_with('Z'))
    });
    assert!(
        try_http_get(&format!("127.0.0.1:{}", f.admin_port), "x", "/config/").is_err(),
        "Caddy's admin API still answers"
    );
    f.guard.cleanup();
}

#[test]
fn a_managed_caddy_that_cannot_start_says_why_in_health_log_and_doctor() {
    if skip_docker() {
        return;
    }
    let f = fresh("nocaddy");
    // Caddy listens on all interfaces by default; take its port there.
    let _taken = std::net::TcpListener::bind(("0.0.0.0", f.http_port)).unwrap();
    let berth = BerthServe::start(f.cwd.path(), f.env.clone(), &[]);
    let health = wait_health(&berth, "health reports a failed Caddy start", |h| {
        h["caddy"]["failures"].as_u64().unwrap_or(0) >= 1
    });
    assert_eq!(health["status"], "degraded", "{health}");
    assert_eq!(health["caddy"]["managed"], true, "{health}");
    assert_eq!(health["caddy"]["up"], false, "{health}");
    let why = health["caddy"]["last_error"].as_str().unwrap_or_default();
    assert!(why.contains("address already in use"), "{health}");
    assert!(why.contains(&f.http_port.to_string()), "{health}");

    let log = berth.log();
    assert!(
        log.lines()
            .any(|l| l.contains("ERROR") && l.contains("address already in use")),
        "{log}"
    );

    let (code, out, err) = berth.cli(&["doctor"]);
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.lines()
            .any(|l| l.starts_with("ok") && l.contains("berth: running")),
        "{out}"
    );
    assert!(
        out.lines().any(|l| l.starts_with("FAIL")
            && l.contains("managed caddy")
            && l.contains("address already in use")),
        "{out}"
    );
    assert!(!out.contains("listen address"), "{out}");
}

#[test]
fn the_managed_caddy_does_not_inherit_berths_ambient_capabilities() {
    if skip_docker() {
        return;
    }
    // Raising an ambient capability needs it in the permitted set: root.
    assert_eq!(
        proc_status_field(std::process::id(), "Uid").map(|u| u.starts_with("0\t")),
        Some(true),
        "this test runs as root, like the rest of the suite"
    );
    let f = fresh("caps");
    let berth = BerthServe::start(
        f.cwd.path(),
        f.env.clone(),
        &[
            "setpriv",
            "--inh-caps",
            "+chown",
            "--ambient-caps",
            "+chown",
            "--",
        ],
    );
    wait_health(&berth, "the managed Caddy is up", |h| {
        h["caddy"]["up"] == true
    });
    // The premise: berth itself holds CAP_CHOWN (bit 0) as an ambient capability.
    assert_eq!(
        proc_status_field(berth.child.id(), "CapAmb").as_deref(),
        Some("0000000000000001")
    );
    let caddies = berth.children_named("caddy");
    assert_eq!(caddies.len(), 1, "{caddies:?}");
    assert_eq!(
        proc_status_field(caddies[0], "CapAmb").as_deref(),
        Some("0000000000000000")
    );
}
