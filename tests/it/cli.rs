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
    assert!(out.contains("\"small\""));
    let (code, _, err) = berth_cli(
        &config,
        &[
            "plan", "create", "small", "--cpus", "0.5", "--memory", "64MiB",
        ],
    );
    assert_eq!(code, 1);
    assert!(one_line(&err).contains("already exists"));
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
    assert!(out.contains("\"slug\": \"acme\""));
    let (code, out, _) = berth_cli(&config, &["client", "list"]);
    assert_eq!(code, 0);
    assert!(out.lines().any(|l| l.starts_with("acme ")), "{out}");
    let (code, _, err) = berth_cli(&config, &["client", "delete", "acme", "--confirm", "ACME"]);
    assert_eq!(code, 1);
    assert!(one_line(&err).contains("acme"));
    let (code, out, _) = berth_cli(&config, &["client", "suspend", "acme"]);
    assert_eq!(code, 0);
    assert!(out.contains("\"suspended\""));
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
