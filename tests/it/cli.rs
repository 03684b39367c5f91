//! The CLI: exit codes (0 done, 1 refused, 2 usage/config), one-line errors,
//! and the same operations as the API on the same store.

use crate::harness::{berth_cli, skip_docker, test_config, unique, CaddyProcess};

fn one_line(stderr: &str) -> &str {
    let trimmed = stderr.trim_end();
    assert_eq!(trimmed.lines().count(), 1, "one line: {stderr:?}");
    trimmed
}

#[test]
fn config_errors_name_the_key_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    std::fs::write(&file, "port_range = \"9000-10\"\n").unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["--config", file.to_str().unwrap(), "config", "check"])
        .env_remove("BERTH_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(one_line(&String::from_utf8_lossy(&out.stderr)).contains("port_range"));

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["config", "check"])
        .env("BERTH_CADDY_HTTP_PORT", "eighty")
        .env_remove("BERTH_CONFIG")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(one_line(&String::from_utf8_lossy(&out.stderr)).contains("http_port"));

    let example = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["config", "example"])
        .output()
        .unwrap();
    assert!(example.status.success());
    std::fs::write(&file, &example.stdout).unwrap();
    let check = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .args(["--config", file.to_str().unwrap(), "config", "check"])
        .env_remove("BERTH_CONFIG")
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn operations_refuse_bad_input_with_one_line_and_exit_1() {
    if skip_docker() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let caddy = CaddyProcess::start();
    let config = test_config(&dir, &unique("cli"), &caddy, "unused:1", |_| {});

    let (code, _, err) = berth_cli(&config, &["plan", "create", "small", "--memory", "64MiB"]);
    assert_eq!(code, 2, "{err}");
    assert!(one_line(&err).contains("--cpus"));
    let (code, out, err) = berth_cli(
        &config,
        &[
            "plan", "create", "small", "--cpus", "0.5", "--memory", "64MiB",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Plan small created: 0.5 CPU"), "{out}");
    let (code, _, err) = berth_cli(
        &config,
        &[
            "plan", "create", "small", "--cpus", "0.5", "--memory", "64MiB",
        ],
    );
    assert_eq!(code, 1);
    assert!(one_line(&err).contains("already exists"));
    // A plan's image tag follows Docker's tag grammar.
    let pinned = |tag: &str| {
        let args = [
            "--json",
            "plan",
            "create",
            "pinned",
            "--cpus",
            "0.5",
            "--memory",
            "64MiB",
            "--image-tag",
            tag,
        ];
        berth_cli(&config, &args)
    };
    let (code, _, err) = pinned("no/slash");
    assert_eq!(code, 1, "{err}");
    assert!(one_line(&err).contains("image_tag"), "{err}");
    let (code, out, err) = pinned("0.6.5");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("\"image_tag\": \"0.6.5\""), "{out}");
    let (code, _, err) = berth_cli(
        &config,
        &[
            "client", "create", "Acme", "--email", "nope", "--plan", "small",
        ],
    );
    assert_eq!(code, 1);
    assert!(one_line(&err).contains("email"));
    let (code, _, err) = berth_cli(
        &config,
        &[
            "client",
            "create",
            "Acme",
            "--email",
            "a@b.example",
            "--plan",
            "ghost",
        ],
    );
    assert_eq!(code, 1);
    assert!(one_line(&err).contains("ghost"));

    let (code, out, err) = berth_cli(
        &config,
        &[
            "client",
            "create",
            "Acme",
            "--email",
            "a@b.example",
            "--plan",
            "small",
            "--blueprint",
            "static-site",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.starts_with("Client acme (Acme) created"), "{out}");
    let (code, out, _) = berth_cli(&config, &["client", "list"]);
    assert_eq!(code, 0);
    assert!(out.lines().any(|l| l.starts_with("acme ")), "{out}");
    let (code, _, err) = berth_cli(&config, &["client", "delete", "acme", "--confirm", "ACME"]);
    assert_eq!(code, 1);
    assert!(one_line(&err).contains("acme"));
    let (code, out, _) = berth_cli(&config, &["client", "suspend", "acme"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("Client acme (Acme) suspended"), "{out}");
    let (code, _, err) = berth_cli(&config, &["client", "show", "nobody"]);
    assert_eq!(code, 1);
    assert!(one_line(&err).contains("not found"));
    let (code, _, _) = berth_cli(&config, &["frobnicate"]);
    assert_eq!(code, 2);
}

#[test]
fn doctor_reports_each_check() {
    if skip_docker() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let caddy = CaddyProcess::start();
    let config = test_config(&dir, &unique("doc"), &caddy, "unused:1", |_| {});
    let (code, out, err) = berth_cli(&config, &["doctor"]);
    assert_eq!(code, 0, "{out}{err}");
    for check in [
        "data dir",
        "blueprints",
        "docker",
        "caddy",
        "listen address",
    ] {
        assert!(
            out.lines()
                .any(|l| l.starts_with("ok") && l.contains(check)),
            "{check}: {out}"
        );
    }
    let (code, out, err) = berth_cli(&config, &["--json", "doctor"]);
    assert_eq!(code, 0, "{out}{err}");
    let checks: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    let checks = checks.as_array().unwrap();
    assert!(checks.iter().all(|c| c["ok"] == true), "{out}");
    assert!(
        checks.iter().any(|c| c["check"] == "listen address"),
        "{out}"
    );
    let mut broken = config.clone();
    broken.docker.socket = dir.path().join("no.sock");
    broken.caddy.admin = format!("http://127.0.0.1:{}", crate::harness::free_port());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_berth"))
        .arg("doctor")
        .envs(crate::harness::env_for(&broken))
        .env(
            "BERTH_DOCKER_SOCKET",
            broken.docker.socket.to_str().unwrap(),
        )
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("FAIL") && l.contains("docker")),
        "{text}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("FAIL") && l.contains("caddy")),
        "{text}"
    );
}

fn keys(v: &serde_json::Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .unwrap_or_else(|| panic!("an object: {v}"))
        .keys()
        .cloned()
        .collect();
    k.sort();
    k
}

/// Fields a script must never see: store bookkeeping and secrets.
const INTERNAL: &[&str] = &[
    "restart_gen",
    "restart_done_gen",
    "client_id",
    "container_id",
    "observed_at",
    "secrets",
    "hash",
    "WEBUI_SECRET_KEY",
];

#[test]
fn json_is_for_scripts_and_summaries_and_tables_are_for_people() {
    if skip_docker() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let caddy = CaddyProcess::start();
    let config = test_config(&dir, &unique("cliout"), &caddy, "unused:1", |_| {});

    let (code, out, err) = berth_cli(
        &config,
        &[
            "--json", "plan", "create", "big", "--cpus", "2", "--memory", "2GiB",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let plan: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(
        keys(&plan),
        [
            "approval",
            "blueprints",
            "cpus",
            "created_at",
            "image_tag",
            "instances",
            "max_instances",
            "memory",
            "memory_reservation",
            "name",
            "portal_restore",
            "storage"
        ]
    );
    assert_eq!(plan["memory"], 2u64 << 30);

    // An app with a generated secret: the secret stays out of every output.
    let (code, out, err) = berth_cli(
        &config,
        &[
            "--json",
            "client",
            "create",
            "Chat Co",
            "--email",
            "a@b.example",
            "--plan",
            "big",
            "--blueprint",
            "open-webui",
            "--env",
            "MODE=demo",
        ],
    );
    assert_eq!(code, 0, "{err}");
    for field in INTERNAL {
        assert!(!out.contains(field), "{field} in {out}");
    }
    let client: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(client["slug"], "chat-co");
    let inst = &client["instances"][0];
    assert_eq!(
        keys(inst),
        [
            "blueprint",
            "client",
            "created_at",
            "desired",
            "domains",
            "env",
            "host_port",
            "id",
            "image",
            "image_digest",
            "image_id",
            "message",
            "name",
            "phase",
            "plan",
            "tag_from",
            "urls"
        ]
    );
    assert_eq!(inst["env"], serde_json::json!({ "MODE": "demo" }));
    // test_config: plain HTTP on the test Caddy's port, base domain berth.test.
    assert_eq!(
        inst["urls"][0],
        format!("http://chat-co.berth.test:{}", caddy.http_port)
    );
    let id = inst["id"].as_i64().unwrap().to_string();

    for args in [
        vec!["--json", "client", "show", "chat-co"],
        vec!["--json", "client", "list"],
        vec!["--json", "instance", "list"],
        vec!["--json", "instance", "show", &id],
        vec!["--json", "plan", "list"],
        vec!["--json", "token", "list"],
    ] {
        let (code, out, err) = berth_cli(&config, &args);
        assert_eq!(code, 0, "{args:?}: {err}");
        serde_json::from_str::<serde_json::Value>(&out)
            .unwrap_or_else(|e| panic!("{args:?} prints JSON ({e}): {out}"));
        for field in INTERNAL {
            assert!(!out.contains(field), "{args:?}: {field} in {out}");
        }
    }

    // People: a summary line, then the instance table.
    let (code, out, err) = berth_cli(
        &config,
        &[
            "client",
            "create",
            "Site Co",
            "--email",
            "a@b.example",
            "--plan",
            "big",
            "--blueprint",
            "static-site",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let mut lines = out.lines();
    assert_eq!(
        lines.next(),
        Some("Client site-co (Site Co) created: plan big, active, 1 instance(s).")
    );
    let header: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(
        header,
        [
            "ID",
            "CLIENT",
            "NAME",
            "BLUEPRINT",
            "IMAGE",
            "IMAGE_ID",
            "PORT",
            "DOMAINS",
            "PHASE",
            "MESSAGE"
        ]
    );
    assert!(
        lines.next().unwrap().contains("site-co.berth.test"),
        "{out}"
    );
    assert!(!out.contains('{'), "no JSON for people: {out}");

    let (code, out, _) = berth_cli(&config, &["instance", "show", &id]);
    assert_eq!(code, 0);
    assert!(
        out.lines()
            .any(|l| l.starts_with("client:") && l.ends_with("chat-co")),
        "{out}"
    );
    assert!(
        out.lines()
            .any(|l| l.starts_with("env:") && l.ends_with("MODE=demo")),
        "{out}"
    );
    assert!(!out.contains("WEBUI_SECRET_KEY"), "{out}");

    let (code, out, _) = berth_cli(&config, &["plan", "list"]);
    assert_eq!(code, 0);
    assert!(
        out.lines().any(|l| l
            .split_whitespace()
            .eq(["big", "2", "2.0", "GiB", "-", "-", "manual", "2"])),
        "{out}"
    );

    let (code, out, _) = berth_cli(&config, &["plan", "delete", "big"]);
    assert_eq!(code, 1, "a plan in use is not deleted: {out}");
    let (code, out, err) = berth_cli(&config, &["--json", "token", "create", "ci"]);
    assert_eq!(code, 0, "{err}");
    let token: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(token["name"], "ci");
    assert!(
        token["token"].as_str().is_some_and(|t| t.len() > 20),
        "{out}"
    );
    let (code, out, _) = berth_cli(&config, &["token", "revoke", "ci"]);
    assert_eq!(code, 0);
    assert_eq!(out, "Token ci revoked.\n");
    let (code, out, _) = berth_cli(&config, &["--json", "token", "revoke", "ci"]);
    assert_eq!(code, 1);
    assert_eq!(out, "", "nothing on stdout when refused");

    // Refusals are the same in both forms: one line on stderr, exit 1.
    for json in [false, true] {
        let mut args = vec!["client", "show", "nobody"];
        if json {
            args.insert(0, "--json");
        }
        let (code, out, err) = berth_cli(&config, &args);
        assert_eq!(code, 1);
        assert_eq!(out, "");
        assert!(one_line(&err).contains("not found"));
    }
}
