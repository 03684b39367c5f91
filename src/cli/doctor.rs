//! `berth doctor`: says what is missing before `berth serve` trips on it.

use std::net::TcpListener;
use std::path::Path;

use super::run::Failure;
use crate::blueprint::Blueprints;
use crate::caddy::CaddyAdmin;
use crate::config::Config;
use crate::docker::Docker;

struct Report {
    failures: usize,
}

impl Report {
    fn check(&mut self, what: &str, result: Result<String, String>) {
        match result {
            Ok(detail) => println!("ok    {what}: {detail}"),
            Err(problem) => {
                self.failures += 1;
                println!("FAIL  {what}: {problem}");
            }
        }
    }
}

pub async fn doctor(config: &Config) -> Result<(), Failure> {
    let mut r = Report { failures: 0 };
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
    r.check(
        "listen address",
        port_free(&config.listen.to_string())
            .map_err(|e| format!("{e} (is berth already running?)")),
    );
    r.check(
        "port range",
        Ok(format!(
            "{} ({} ports)",
            config.port_range,
            config.port_range.len()
        )),
    );
    if r.failures > 0 {
        return Err(Failure {
            code: 1,
            message: format!("{} check(s) failed", r.failures),
        });
    }
    Ok(())
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
