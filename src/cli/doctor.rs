//! `berth doctor`: says what is missing before `berth serve` trips on it,
//! and, while berth runs, how the running daemon and its Caddy are doing.

use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::Path;
use std::time::Duration;

use serde::Serialize;
use serde_json::Value;

use super::error::Failure;
use super::output;
use crate::blueprint::Blueprints;
use crate::caddy::CaddyAdmin;
use crate::config::Config;
use crate::docker::Docker;

#[derive(Serialize)]
struct Check {
    check: String,
    ok: bool,
    detail: String,
}

struct Report {
    checks: Vec<Check>,
    json: bool,
}

impl Report {
    fn check(&mut self, what: &str, result: Result<String, String>) {
        let (ok, detail) = match result {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        };
        if !self.json {
            let mark = if ok { "ok  " } else { "FAIL" };
            println!("{mark}  {what}: {detail}");
        }
        self.checks.push(Check {
            check: what.to_owned(),
            ok,
            detail,
        });
    }

    fn failures(&self) -> usize {
        self.checks.iter().filter(|c| !c.ok).count()
    }
}

pub async fn doctor(config: &Config, json: bool) -> Result<(), Failure> {
    let mut r = Report {
        checks: Vec::new(),
        json,
    };
    let running = running_berth(config.listen).await;
    if let Some(health) = &running {
        r.check("berth", Ok(describe_running(config.listen, health)));
        if let Some(caddy) = health.get("caddy").filter(|c| c["managed"] == true) {
            r.check("managed caddy", managed_caddy(caddy));
        }
    }
    r.check("data dir", writable(&config.data_dir));
    r.check("backup dir", writable(&config.backup_dir()));
    r.check(
        "blueprints",
        Blueprints::load_dir(&config.blueprint_dir())
            .map(|b| {
                format!(
                    "{} in {}",
                    b.names().collect::<Vec<_>>().join(", "),
                    config.blueprint_dir().display()
                )
            })
            .map_err(|e| e.to_string()),
    );
    let docker = match Docker::connect(&config.docker.socket, &config.docker.owner).await {
        Ok(d) => d
            .version()
            .await
            .map(|v| format!("engine {v} at {}", config.docker.socket.display()))
            .map_err(|e| e.to_string()),
        Err(e) => Err(format!(
            "{e} (is dockerd running, and may this user use its socket?)"
        )),
    };
    r.check("docker", docker);
    r.check(
        "busybox (static-site image)",
        if config.docker.busybox.is_file() {
            Ok(config.docker.busybox.display().to_string())
        } else {
            Err(format!(
                "{} missing; install busybox-static",
                config.docker.busybox.display()
            ))
        },
    );
    check_caddy(&mut r, config).await;
    // A running berth holds its own listen address; that is not a problem.
    if running.is_none() {
        r.check(
            "listen address",
            port_free(&config.listen.to_string())
                .map_err(|e| format!("{e} (and what answers there is not berth)")),
        );
    }
    r.check(
        "port range",
        Ok(format!(
            "{} ({} ports)",
            config.port_range,
            config.port_range.len()
        )),
    );
    if json {
        output::json(&r.checks);
    }
    if r.failures() > 0 {
        return Err(Failure::failed(format!("{} check(s) failed", r.failures())));
    }
    Ok(())
}

/// An answering Caddy, or one berth can start on free ports.
async fn check_caddy(r: &mut Report, config: &Config) {
    let caddy_up = match CaddyAdmin::new(&config.caddy.admin) {
        Ok(admin) => admin.is_up().await,
        Err(_) => false,
    };
    if caddy_up {
        r.check(
            "caddy",
            Ok(format!("admin API answers at {}", config.caddy.admin)),
        );
    } else if config.caddy.manage {
        let version = std::process::Command::new(&config.caddy.bin)
            .arg("version")
            .output();
        r.check(
            "caddy",
            match version {
                Ok(out) if out.status.success() => Ok(format!(
                    "none running; berth will start {} ({})",
                    config.caddy.bin.display(),
                    String::from_utf8_lossy(&out.stdout)
                        .split_whitespace()
                        .next()
                        .unwrap_or("?")
                )),
                _ => Err(format!(
                    "none answers at {} and {} cannot run; install caddy",
                    config.caddy.admin,
                    config.caddy.bin.display()
                )),
            },
        );
        let host = if config.caddy.listen_host.is_empty() {
            "0.0.0.0"
        } else {
            &config.caddy.listen_host
        };
        r.check(
            "caddy http port",
            port_free(&format!("{host}:{}", config.caddy.http_port)),
        );
        if config.caddy.tls {
            r.check(
                "caddy https port",
                port_free(&format!("{host}:{}", config.caddy.https_port)),
            );
        }
    } else {
        r.check(
            "caddy",
            Err(format!(
                "nothing answers at {} and caddy.manage = false; start the caddy service",
                config.caddy.admin
            )),
        );
    }
}

/// The health answer of a berth listening on `listen`, if that is what
/// listens there (anything else answers no JSON with a version).
async fn running_berth(listen: SocketAddr) -> Option<Value> {
    let host: IpAddr = match listen.ip() {
        IpAddr::V4(a) if a.is_unspecified() => [127, 0, 0, 1].into(),
        IpAddr::V6(a) if a.is_unspecified() => std::net::Ipv6Addr::LOCALHOST.into(),
        ip => ip,
    };
    let url = format!(
        "http://{}/api/v1/health",
        SocketAddr::new(host, listen.port())
    );
    let client = crate::tls::client_builder()
        .no_proxy()
        .timeout(Duration::from_secs(3))
        .build()
        .ok()?;
    let body: Value = client.get(url).send().await.ok()?.json().await.ok()?;
    body.get("version")?.as_str()?;
    Some(body)
}

fn describe_running(listen: SocketAddr, health: &Value) -> String {
    let field = |k: &str| match &health[k] {
        Value::String(s) => s.clone(),
        Value::Null => "?".into(),
        v => v.to_string(),
    };
    format!(
        "running at {listen} (pid {}, version {}), status {}",
        field("pid"),
        field("version"),
        field("status")
    )
}

fn managed_caddy(caddy: &Value) -> Result<String, String> {
    if caddy["up"] == true {
        return Ok("up".into());
    }
    let why = caddy["last_error"].as_str().unwrap_or("not up yet");
    Err(format!(
        "not running ({} failed starts): {why}",
        caddy["failures"].as_u64().unwrap_or(0)
    ))
}

fn writable(dir: &Path) -> Result<String, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let probe = dir.join(".berth-doctor");
    std::fs::write(&probe, b"ok").map_err(|e| format!("{} is not writable: {e}", dir.display()))?;
    let _ = std::fs::remove_file(probe);
    Ok(dir.display().to_string())
}

fn port_free(addr: &str) -> Result<String, String> {
    TcpListener::bind(addr)
        .map(|_| format!("{addr} is free"))
        .map_err(|e| format!("{addr}: {e}"))
}
