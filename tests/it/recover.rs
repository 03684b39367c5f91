//! Disaster recovery end to end: berth runs as a real process with three
//! static-site clients, copies their data and its own state to a REST
//! restic repository, and the host is lost (daemon killed, data dir with
//! database, backups and sealer key removed, containers and networks gone,
//! Caddy restarted empty). `berth recover --from dr`, cut off after its
//! first instance and run again, brings every client back; `berth serve`
//! takes over and each answers through Caddy with its own data.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{
    api_call, api_client, berth_cli, digests, docker, env_for, eventually, try_http_get,
    wait_until, BerthProcess, ChildSetup, RestServer,
};

const UP: Duration = Duration::from_secs(60);

/// `berth <args>` with the test's variables and the config file naming the target.
fn berth(config: &berth::config::Config, file: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_berth"));
    cmd.args(args)
        .envs(env_for(config))
        .env("BERTH_CONFIG", file)
        .stdin(Stdio::null());
    cmd
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Removes the test's containers and networks, as a lost host loses them.
fn remove_containers_and_networks(owner: &str) {
    let filter = format!("label=berth.managed={owner}");
    let ids = docker(&["ps", "-aq", "--filter", &filter]);
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if !ids.is_empty() {
        docker(&[&["rm", "-f"][..], &ids].concat());
    }
    let nets = docker(&["network", "ls", "-q", "--filter", &filter]);
    let nets: Vec<&str> = nets.split_whitespace().collect();
    if !nets.is_empty() {
        docker(&[&["network", "rm"][..], &nets].concat());
    }
}

async fn wait_job(http: &reqwest::Client, api: &str, token: &str, path: &str) -> Value {
    let body = eventually(&format!("{path} finishes"), UP, || async {
        let (_, b) = api_call(http, api, token, Method::GET, path, None).await;
        matches!(b["status"].as_str(), Some("ok" | "failed")).then_some(b)
    })
    .await;
    assert_eq!(body["status"], "ok", "{path}: {body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_host_is_rebuilt_from_offsite_and_every_client_answers_with_its_data() {
    let started = std::time::Instant::now();
    let rest = tokio::task::spawn_blocking(RestServer::start)
        .await
        .unwrap();
    let mut setup = ChildSetup::new("recover").await;
    let repo = format!("rest:http://127.0.0.1:{}/", rest.port);
    let password = rest.dir.path().join("password");
    let file = setup.dir.path().join("berth.toml");
    std::fs::write(
        &file,
        format!(
            "[backup]\nschedule = \"\"\n\n[[offsite]]\nname = \"dr\"\nrepository = \"{repo}\"\n\
             password_file = \"{}\"\ncopy_schedule = \"0 0 1 1 *\"\n",
            password.display()
        ),
    )
    .unwrap();
    let config = setup.config.clone();
    let token = setup.create_token("dr");
    // The key the database's sealed values need: it must come back too.
    let key = config.data_dir.join("secrets/llm.key");
    std::fs::create_dir_all(key.parent().unwrap()).unwrap();
    std::fs::write(&key, "ab".repeat(32)).unwrap();
    let (code, _, err) = berth_cli(
        &config,
        &["plan", "create", "p", "--cpus", "0.1", "--memory", "32MiB"],
    );
    assert_eq!(code, 0, "{err}");
    let out = berth(&config, &file, &["offsite", "init", "dr"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));

    let http = api_client(Duration::from_secs(30));
    let extra = [("BERTH_CONFIG", file.display().to_string())];
    let mut daemon = BerthProcess::start_with_env(&config, &extra);
    daemon.wait_healthy(&http, &config).await;
    let api = daemon.api.clone();
    let call = |method: Method, path: String, body: Option<Value>| {
        let (http, api, token) = (http.clone(), api.clone(), token.clone());
        async move { api_call(&http, &api, &token, method, &path, body).await }
    };

    // Three clients, each with its own page and a little binary data.
    let mut clients = Vec::new();
    for i in 0..3 {
        let (status, body) = call(
            Method::POST,
            "/api/v1/clients".into(),
            Some(
                json!({ "name": format!("Lost Co {i}"), "email": "ops@example.com",
                         "plan": "p", "blueprint": "static-site" }),
            ),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let id = body["instances"][0]["id"].as_i64().unwrap();
        let slug = body["slug"].as_str().unwrap().to_owned();
        let host = body["instances"][0]["domains"][0]
            .as_str()
            .unwrap()
            .to_owned();
        clients.push((id, slug, host));
    }
    let mut want = Vec::new();
    for (id, slug, _) in &clients {
        eventually(&format!("instance {id} runs"), UP, || async {
            let (_, b) = call(Method::GET, format!("/api/v1/instances/{id}"), None).await;
            (b["phase"] == "running").then_some(())
        })
        .await;
        let data = config.instance_data_dir(slug, "main");
        std::fs::write(data.join("index.html"), format!("the site of {slug}\n")).unwrap();
        std::fs::create_dir_all(data.join("files")).unwrap();
        let blob: Vec<u8> = (0..300_000u32)
            .map(|n| (n * 7 + *id as u32) as u8)
            .collect();
        std::fs::write(data.join("files/blob.bin"), blob).unwrap();
        want.push(digests(&data));
    }
    // Backed up, copied offsite, and berth's state after them.
    // A copy to the target now (an instance's, or `{}`: berth's state), waited for.
    let copy_now = |body: Value| {
        let call = &call;
        let (http, api, token) = (&http, &api, &token);
        async move {
            let (status, c) =
                call(Method::POST, "/api/v1/offsite/dr/copies".into(), Some(body)).await;
            assert_eq!(status, StatusCode::ACCEPTED, "{c}");
            let copy = c["id"].as_i64().unwrap();
            wait_job(http, api, token, &format!("/api/v1/offsite-copies/{copy}")).await;
        }
    };
    let mut old_backups = Vec::new();
    for (id, _, _) in &clients {
        let (status, b) = call(
            Method::POST,
            format!("/api/v1/instances/{id}/backups"),
            Some(json!({})),
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{b}");
        let backup = b["id"].as_i64().unwrap();
        wait_job(&http, &api, &token, &format!("/api/v1/backups/{backup}")).await;
        old_backups.push(backup);
        copy_now(json!({ "instance": id })).await;
    }
    copy_now(json!({})).await;
    let staged = config.data_dir.join("offsite-state");
    assert!(
        !staged.join("berth.db").exists() && !staged.join("llm.key").exists(),
        "the staged state copy is removed once restic has read it"
    );
    daemon.kill9();

    // A host with its own database is refused, in one line.
    let out = berth(&config, &file, &["recover", "--from", "dr"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        stderr.contains("berth.db exists") && stderr.trim().lines().count() == 1,
        "{stderr}"
    );

    // The host is lost.
    std::fs::remove_dir_all(&config.data_dir).unwrap();
    remove_containers_and_networks(&setup.owner);
    setup.caddy.restart_empty();
    let caddy = format!("127.0.0.1:{}", setup.caddy.http_port);
    // An empty Caddy has no HTTP server at all: nothing answers.
    if let Ok((_, body)) = try_http_get(&caddy, &clients[0].2, "/") {
        assert!(!body.contains("the site of"), "{body}");
    }

    // A recovery cut off after its first instance...
    let pause = setup.dir.path().join("paused");
    let mut first = berth(
        &config,
        &file,
        &["recover", "--from", "dr", "--parallel", "1"],
    )
    .env("BERTH_TEST_PAUSE_AT", "recover-instance-restored")
    .env("BERTH_TEST_PAUSE_FILE", &pause)
    .stdout(std::fs::File::create(setup.dir.path().join("recover-1.log")).unwrap())
    .stderr(Stdio::null())
    .spawn()
    .unwrap();
    wait_until("recover restored one instance", UP, || {
        pause.exists() || first.try_wait().unwrap().is_some()
    });
    assert!(first.try_wait().unwrap().is_none(), "recover ended early");
    first.kill().unwrap();
    first.wait().unwrap();
    let said = std::fs::read_to_string(setup.dir.path().join("recover-1.log")).unwrap();
    eprintln!("the first recover said, until it was killed:\n{said}");
    assert!(
        said.contains("step 1/3, state") && said.contains("LLM sealer key restored"),
        "{said}"
    );
    assert_eq!(said.matches("restored, ").count(), 1, "{said}");
    assert_eq!(
        std::fs::read(&key).unwrap(),
        "ab".repeat(32).as_bytes(),
        "the sealer key came back"
    );

    // ...is run again and completes.
    let out = berth(
        &config,
        &file,
        &["--json", "recover", "--from", "dr", "--wait", "60s"],
    )
    .output()
    .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        (&report["restored"], &report["healthy"], &report["ok"]),
        (&json!(3), &json!(3), &json!(true)),
        "{report:#}"
    );
    let items = report["instances"].as_array().unwrap();
    assert_eq!(
        items.iter().filter(|i| i["resumed"] == true).count(),
        1,
        "the first run's instance is not restored twice: {report:#}"
    );
    for i in items {
        assert_eq!(i["health"], "healthy", "{i}");
        assert!(i["restored_bytes"].as_u64().unwrap() > 300_000, "{i}");
        assert!(
            i["snapshot_id"].is_string() && i["snapshot_time"].is_string(),
            "{i}"
        );
    }
    let report_file = report["report_file"].as_str().unwrap();
    assert!(report_file.starts_with(&*config.reports_dir().to_string_lossy()));
    assert!(Path::new(report_file).is_file());
    let progress = String::from_utf8_lossy(&out.stderr);
    eprintln!("the resumed recover said:\n{progress}");
    assert!(progress.contains("step 3/3"), "{progress}");

    // Done once: a third run is refused.
    let out = berth(&config, &file, &["recover", "--from", "dr"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already recovered"),
        "{}",
        text(&out)
    );

    // berth serve takes over (its Caddy restarted empty again: serve repairs routes).
    setup.caddy.restart_empty();
    let mut daemon = BerthProcess::start_with_env(&config, &extra);
    daemon.wait_healthy(&http, &config).await;
    for ((_, slug, host), want) in clients.iter().zip(&want) {
        let body = eventually(&format!("{host} answers through Caddy"), UP, || async {
            match try_http_get(&caddy, host, "/") {
                Ok((200, body)) if body.contains("the site of") => Some(body),
                _ => None,
            }
        })
        .await;
        assert_eq!(body.trim(), format!("the site of {slug}"));
        let data = config.instance_data_dir(slug, "main");
        assert_eq!(&digests(&data), want, "{slug}'s data byte for byte");
    }
    // The old host's archives are marked lost, not silently missing.
    for backup in old_backups {
        let (_, b) = api_call(
            &http,
            &daemon.api,
            &token,
            Method::GET,
            &format!("/api/v1/backups/{backup}"),
            None,
        )
        .await;
        assert_eq!(b["verify_state"], "failed", "{b}");
        assert!(
            b["verify_message"]
                .as_str()
                .unwrap()
                .contains("archive missing"),
            "{b}"
        );
    }
    daemon.kill9();
    eprintln!("disaster recovery test took {:?}", started.elapsed());
}
