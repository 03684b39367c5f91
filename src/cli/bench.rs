//! `berth bench ui`: the admin UI under load, reproducibly. Seeds a
//! throwaway store (clients, instances, varied phases), serves the UI in
//! this process without a reconciler (no Docker needed), signs in, and runs
//! `wrk` against the dashboard and the clients list. Prints wrk's latency
//! percentiles and this process's resident memory.

use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpListener;

use super::run::Failure;
use super::BenchCmd;
use crate::audit::Actor;
use crate::config::Config;
use crate::ops::{NewClientInput, NewInstanceInput, Ops, PlanInput};
use crate::web::{self, AppState};

const USER: &str = "bench";
const PASSWORD: &str = "bench-password-1";

pub async fn run(mut config: Config, cmd: BenchCmd) -> Result<(), Failure> {
    let BenchCmd::Ui {
        clients,
        instances_per_client,
        connections,
        duration,
        dir,
    } = cmd
    else {
        return Err(Failure::usage("not bench ui"));
    };
    let (dir, temporary) = match dir {
        Some(d) => (d, false),
        None => (
            std::env::temp_dir().join(format!("berth-bench-{}", std::process::id())),
            true,
        ),
    };
    config.data_dir = dir.clone();
    config.listen = "127.0.0.1:0".parse().expect("literal");
    config.port_range = "10000-19999".parse().expect("literal");
    let result = bench(
        config,
        clients,
        instances_per_client,
        connections,
        &duration,
    )
    .await;
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

fn fail(m: impl std::fmt::Display) -> Failure {
    Failure {
        code: 1,
        message: m.to_string(),
    }
}

async fn bench(
    config: Config,
    clients: u32,
    per_client: u32,
    connections: u32,
    duration: &str,
) -> Result<(), Failure> {
    let ops = Ops::open(&config).map_err(fail)?;
    let started = Instant::now();
    seed(&ops, clients, per_client).await?;
    eprintln!(
        "seeded {clients} clients, {} instances in {:.1?}",
        clients * per_client,
        started.elapsed()
    );

    let state = AppState::new(ops.clone(), Arc::default())
        .await
        .map_err(fail)?;
    let listener = TcpListener::bind("127.0.0.1:0").await.map_err(fail)?;
    let base = format!("http://{}", listener.local_addr().map_err(fail)?);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(web::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let cookie = sign_in(&base).await?;

    for path in ["/", "/clients"] {
        let url = format!("{base}{path}");
        let args = [
            "-t2".to_owned(),
            format!("-c{connections}"),
            format!("-d{duration}"),
            "--latency".to_owned(),
            "-H".to_owned(),
            format!("Cookie: {cookie}"),
            url.clone(),
        ];
        let out = tokio::process::Command::new("wrk")
            .args(&args)
            .output()
            .await
            .map_err(|e| fail(format!("running wrk (Debian package wrk): {e}")))?;
        let text = String::from_utf8_lossy(&out.stdout);
        println!("== GET {path} ({connections} connections, {duration})");
        for line in text.lines() {
            let l = line.trim_start();
            if l.starts_with("50%")
                || l.starts_with("90%")
                || l.starts_with("99%")
                || l.starts_with("Requests/sec")
                || l.starts_with("Latency")
                || l.contains("Non-2xx")
                || l.contains("requests in")
            {
                println!("   {l}");
            }
        }
    }
    println!("berth RSS: {}", rss());
    let _ = stop.send(());
    let _ = server.await;
    Ok(())
}

async fn seed(ops: &Ops, clients: u32, per_client: u32) -> Result<(), Failure> {
    let cli = Actor::cli();
    for (name, cpus, memory) in [
        ("small", 0.5, "512MiB"),
        ("medium", 1.0, "1GiB"),
        ("large", 2.0, "4GiB"),
    ] {
        let input = PlanInput {
            name: name.into(),
            cpus,
            memory: crate::domain::size::SizeInput::Text(memory.into()),
            memory_reservation: None,
            storage: None,
            max_instances: None,
        };
        ops.create_plan(&cli, input).await.map_err(fail)?;
    }
    let blueprint = ops.default_blueprint().map(str::to_owned);
    for n in 0..clients {
        let plan = ["small", "medium", "large"][n as usize % 3];
        let input = NewClientInput {
            name: format!("Client {n:04} <b>GmbH</b>"),
            email: format!("ops{n}@example.com"),
            plan: plan.into(),
            notes: String::new(),
            blueprint: blueprint.clone(),
            domain: None,
            env: None,
        };
        let view = ops.create_client(&cli, input).await.map_err(fail)?;
        for i in 1..per_client {
            let extra = NewInstanceInput {
                name: Some(format!("extra{i}")),
                blueprint: blueprint.clone(),
                domain: None,
                env: None,
            };
            ops.add_instance(&cli, &view.client.slug, extra)
                .await
                .map_err(fail)?;
        }
    }
    // A realistic mix of phases: mostly running, some stopped or failing.
    ops.shared()
        .store
        .call(|conn| {
            conn.execute_batch(
                "UPDATE instances SET phase = CASE id % 20 WHEN 0 THEN 'error' WHEN 1 THEN 'stopped' WHEN 2 THEN 'unhealthy' ELSE 'running' END,
                 message = CASE id % 20 WHEN 0 THEN 'container exited with code 1' ELSE '' END,
                 observed_at = strftime('%Y-%m-%dT%H:%M:%SZ', 'now')",
            )?;
            Ok(())
        })
        .await
        .map_err(fail)?;
    ops.create_user(&cli, USER, PASSWORD).await.map_err(fail)?;
    Ok(())
}

/// GET /login for the CSRF token, POST it; returns the session cookie.
async fn sign_in(base: &str) -> Result<String, Failure> {
    let http = crate::tls::client_builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(fail)?;
    let page = http
        .get(format!("{base}/login"))
        .send()
        .await
        .map_err(fail)?;
    let cookie =
        cookie_named(&page, "berth_csrf").ok_or_else(|| fail("no CSRF cookie from /login"))?;
    let html = page.text().await.map_err(fail)?;
    let token = html
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .ok_or_else(|| fail("no CSRF field on /login"))?;
    let body = format!("_csrf={token}&name={USER}&password={PASSWORD}");
    let res = http
        .post(format!("{base}/login"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .map_err(fail)?;
    if !res.status().is_redirection() {
        return Err(fail(format!("sign-in answered {}", res.status())));
    }
    session_cookie(&res).ok_or_else(|| fail("no session cookie after sign-in"))
}

fn session_cookie(res: &reqwest::Response) -> Option<String> {
    cookie_named(res, "berth_session")
}

fn cookie_named(res: &reqwest::Response, name: &str) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(&format!("{name}=")))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

fn rss() -> String {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let pick = |key: &str| {
        status
            .lines()
            .find(|l| l.starts_with(key))
            .map(|l| l[key.len()..].trim().to_owned())
            .unwrap_or_default()
    };
    format!("{} now, {} peak", pick("VmRSS:"), pick("VmHWM:"))
}
