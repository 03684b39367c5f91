//! The core promise end to end: a client becomes a limited container on its
//! own network, routed by a real Caddy, and stays that way through suspend,
//! plan changes, Caddy restarts and deletion.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{
    assert_absent, assert_unreachable, eventually, probe, wait_pool_full, TestApp,
};

const UP: Duration = Duration::from_secs(60);

fn inspect(app: &TestApp, container: &str, format: &str) -> String {
    app.docker(&["inspect", "-f", format, container])
}

/// Like [`inspect`], for a container that may be replaced while we look
/// (a recreate in progress): None when docker cannot inspect it.
fn try_inspect(container: &str, format: &str) -> Option<String> {
    let out = std::process::Command::new("docker")
        .args(["inspect", "-f", format, container])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

fn first_instance(client: &Value) -> (i64, String) {
    let inst = &client["instances"][0];
    (
        inst["id"].as_i64().unwrap(),
        inst["domains"][0].as_str().unwrap().to_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_becomes_a_limited_container_routed_through_caddy() {
    let app = TestApp::spawn().await;
    let (status, plan) = app
        .post("/api/v1/plans", json!({ "name": "small", "cpus": 0.5, "memory": "64MiB", "memory_reservation": "32MiB", "storage": "1GiB" }))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    let client = app.create_client("Acme <Corp> & Söhne", "small").await;
    assert_eq!(client["slug"], "acme-corp-sohne");
    let (id, domain) = first_instance(&client);
    assert_eq!(domain, "acme-corp-sohne.berth.test");

    let body = app.wait_caddy(&domain, 200, UP).await;
    assert!(body.contains("Acme &lt;Corp&gt; &amp; Söhne"), "{body}");
    let inst = app.wait_phase(id, &["running", "starting"], UP).await;
    let port = inst["host_port"].as_u64().unwrap() as u16;
    assert!((app.config.port_range.first..=app.config.port_range.last).contains(&port));

    let container = inst["container_id"]
        .as_str()
        .expect("container id recorded")
        .to_owned();
    assert_eq!(
        inspect(&app, &container, "{{.HostConfig.NanoCpus}}"),
        "500000000"
    );
    assert_eq!(
        inspect(&app, &container, "{{.HostConfig.Memory}}"),
        (64u64 << 20).to_string()
    );
    assert_eq!(
        inspect(&app, &container, "{{.HostConfig.MemoryReservation}}"),
        (32u64 << 20).to_string()
    );
    assert_eq!(
        inspect(&app, &container, "{{.HostConfig.RestartPolicy.Name}}"),
        "unless-stopped"
    );
    assert_eq!(
        inspect(&app, &container, "{{.HostConfig.SecurityOpt}}"),
        "[no-new-privileges:true]"
    );
    assert_eq!(
        inspect(&app, &container, "{{.HostConfig.PidsLimit}}"),
        "512"
    );
    assert_eq!(
        inspect(&app, &container, "{{.Name}}"),
        format!("/{}-acme-corp-sohne", app.config.docker.name_prefix)
    );
    assert_eq!(
        inspect(&app, &container, "{{range $p, $b := .HostConfig.PortBindings}}{{(index $b 0).HostIp}}:{{(index $b 0).HostPort}}{{end}}"),
        format!("127.0.0.1:{port}")
    );
    assert!(inspect(&app, &container, "{{.Config.Healthcheck.Test}}").contains("wget"));

    // Healthy in the end, and the API reports the limits it applies.
    let inst = app.wait_phase(id, &["running"], UP).await;
    assert_eq!(inst["cpus"], 0.5);
    assert_eq!(inst["memory"], 64u64 << 20);
    assert_eq!(inst["storage"], 1u64 << 30);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_cannot_reach_each_other() {
    let app = TestApp::spawn().await;
    app.create_plan("p", 0.5, "64MiB").await;
    let a = app.create_client("Alpha", "p").await;
    let b = app.create_client("Beta", "p").await;
    let (a_id, a_domain) = first_instance(&a);
    let (b_id, b_domain) = first_instance(&b);
    app.wait_caddy(&a_domain, 200, UP).await;
    app.wait_caddy(&b_domain, 200, UP).await;
    let a_c = app.wait_phase(a_id, &["running", "starting"], UP).await["container_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b_c = app.wait_phase(b_id, &["running", "starting"], UP).await["container_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let ip = |c: &str| {
        inspect(
            &app,
            c,
            "{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}",
        )
    };
    let (a_ip, b_ip) = (ip(&a_c), ip(&b_c));
    assert_ne!(a_ip, b_ip);
    assert_ne!(
        inspect(
            &app,
            &a_c,
            "{{range $n, $_ := .NetworkSettings.Networks}}{{$n}}{{end}}"
        ),
        inspect(
            &app,
            &b_c,
            "{{range $n, $_ := .NetworkSettings.Networks}}{{$n}}{{end}}"
        )
    );

    // Each probe first proves it works where it should: from each container
    // to its own address.
    let url = |ip: &str| format!("http://{ip}:8080/");
    let (code, err) = probe(&a_c, &url(&a_ip));
    assert_eq!(code, Some(0), "alpha reaches itself: {err}");
    let (code, err) = probe(&b_c, &url(&b_ip));
    assert_eq!(code, Some(0), "beta reaches itself: {err}");
    assert_unreachable(&a_c, &url(&b_ip), "alpha must not reach beta");
    assert_unreachable(&b_c, &url(&a_ip), "beta must not reach alpha");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_concurrent_clients_get_distinct_ports_all_routed() {
    let app = TestApp::spawn().await;
    app.create_plan("p", 0.1, "32MiB").await;
    let creates = (0..20).map(|i| {
        let app = &app;
        async move { app.create_client(&format!("Client {i}"), "p").await }
    });
    let clients = futures_util::future::join_all(creates).await;
    let mut ports: Vec<u64> = clients
        .iter()
        .map(|c| c["instances"][0]["host_port"].as_u64().unwrap())
        .collect();
    ports.sort();
    ports.dedup();
    assert_eq!(ports.len(), 20, "distinct ports: {ports:?}");
    for c in &clients {
        let (_, domain) = first_instance(c);
        let body = app.wait_caddy(&domain, 200, UP).await;
        assert!(
            body.contains(c["name"].as_str().unwrap()),
            "{domain}: {body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspend_stops_and_shows_a_page_and_resume_brings_it_back() {
    let app = TestApp::spawn().await;
    app.create_plan("p", 0.5, "64MiB").await;
    let client = app.create_client("Sleepy", "p").await;
    let (id, domain) = first_instance(&client);
    app.wait_caddy(&domain, 200, UP).await;
    let container = app.wait_phase(id, &["running", "starting"], UP).await["container_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let marker = app.data_dir().join("instances/sleepy/main/kept.txt");
    std::fs::write(&marker, "still here").unwrap();

    let (status, body) = app.post("/api/v1/clients/sleepy/suspend", json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "suspended");
    // The container may stop a moment before Caddy has the suspended route:
    // meanwhile its port does not answer and the "being updated" page shows.
    eventually("the suspended page", UP, || async {
        let (code, page) = app.through_caddy(&domain, "/")?;
        (code == 503 && page.to_lowercase().contains("suspended")).then_some(())
    })
    .await;
    app.wait_phase(id, &["stopped"], UP).await;
    assert_eq!(inspect(&app, &container, "{{.State.Running}}"), "false");
    assert_eq!(std::fs::read_to_string(&marker).unwrap(), "still here");

    let (status, _) = app.post("/api/v1/clients/sleepy/resume", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    app.wait_caddy(&domain, 200, UP).await;
    assert_eq!(
        app.through_caddy(&domain, "/kept.txt").unwrap().1,
        "still here"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_change_recreates_with_new_limits_and_keeps_data() {
    let app = TestApp::spawn().await;
    app.create_plan("small", 0.25, "64MiB").await;
    app.create_plan("large", 1.0, "128MiB").await;
    let client = app.create_client("Grower", "small").await;
    let (id, domain) = first_instance(&client);
    app.wait_caddy(&domain, 200, UP).await;
    let before = app.wait_phase(id, &["running", "starting"], UP).await["container_id"]
        .as_str()
        .unwrap()
        .to_owned();
    std::fs::write(
        app.data_dir().join("instances/grower/main/data.txt"),
        "precious",
    )
    .unwrap();

    let (status, body) = app
        .patch("/api/v1/clients/grower", json!({ "plan": "large" }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let after = eventually("container recreated", UP, || async {
        let c = app.instance(id).await["container_id"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        (!c.is_empty() && c != before).then_some(c)
    })
    .await;
    assert_eq!(
        inspect(&app, &after, "{{.HostConfig.NanoCpus}}"),
        "1000000000"
    );
    assert_eq!(
        inspect(&app, &after, "{{.HostConfig.Memory}}"),
        (128u64 << 20).to_string()
    );
    app.wait_caddy(&domain, 200, UP).await;
    assert_eq!(
        app.through_caddy(&domain, "/data.txt").unwrap().1,
        "precious"
    );
    assert_absent("container", &before);
    assert_eq!(
        app.docker(&["ps", "-aq", "--filter", &app.guard.label_filter()])
            .lines()
            .count(),
        1,
        "one container left"
    );

    // Editing the plan itself applies to its clients as well.
    let (status, _) = app
        .patch("/api/v1/plans/large", json!({ "memory": "96MiB" }))
        .await;
    assert_eq!(status, StatusCode::OK);
    eventually("plan edit applied", UP, || async {
        let c = app.instance(id).await["container_id"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        (try_inspect(&c, "{{.HostConfig.Memory}}")? == (96u64 << 20).to_string()).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn caddy_restarted_empty_gets_its_routes_back() {
    let mut app = TestApp::spawn().await;
    app.create_plan("p", 0.5, "64MiB").await;
    let client = app.create_client("Steady", "p").await;
    let (_, domain) = first_instance(&client);
    app.wait_caddy(&domain, 200, UP).await;
    tokio::task::block_in_place(|| app.caddy.restart_empty());
    // One reconcile interval (2 s here) plus slack for a loaded machine.
    app.wait_caddy(
        &domain,
        200,
        app.config.reconcile_interval * 2 + Duration::from_secs(5),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_needs_the_slug_and_leaves_nothing_behind() {
    let app = TestApp::spawn_with(|c| c.docker.network_pool = 2).await;
    app.create_plan("p", 0.5, "64MiB").await;
    // Warm: the instance adopts the pool network made for its port, and the
    // delete must take that network too, as it would one made for it.
    wait_pool_full(&app.guard, 2, UP).await;
    let client = app.create_client("Goner", "p").await;
    let keep = app.create_client("Keeper", "p").await;
    let (id, domain) = first_instance(&client);
    app.wait_caddy(&domain, 200, UP).await;
    app.wait_caddy(first_instance(&keep).1.as_str(), 200, UP)
        .await;
    let container = app.wait_phase(id, &["running", "starting"], UP).await["container_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let network = inspect(
        &app,
        &container,
        "{{range $n, $_ := .NetworkSettings.Networks}}{{$n}}{{end}}",
    );
    let port = client["instances"][0]["host_port"].as_u64().unwrap();
    assert_eq!(
        network,
        format!("{}-pool-{port}", app.config.docker.name_prefix)
    );
    // By id: once the port is free again, the pool makes a network of the same name.
    let network_id = inspect(
        &app,
        &container,
        "{{range .NetworkSettings.Networks}}{{.NetworkID}}{{end}}",
    );
    let backups = app.config.backup_dir().join("goner/main");
    std::fs::create_dir_all(&backups).unwrap();
    std::fs::write(backups.join("old.tar.zst"), "x").unwrap();

    let (status, body) = app
        .delete("/api/v1/clients/goner", json!({ "confirm": "wrong" }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(body["error"].as_str().unwrap().contains("goner"));
    assert_eq!(app.get("/api/v1/clients/goner").await.0, StatusCode::OK);

    let report = app
        .delete_and_follow("/api/v1/clients/goner", json!({ "confirm": "goner" }))
        .await;
    let removed = &report["instances"][0];
    assert_eq!(removed["name"], format!("instance-{id}"), "{report}");
    assert!(removed["data_bytes"].as_u64().unwrap() > 0);
    let archives = report["categories"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "backup archives")
        .unwrap();
    assert_eq!(archives["count"], 1, "{report}");
    assert!(std::path::Path::new(report["report_file"].as_str().unwrap()).exists());

    assert_eq!(
        app.get("/api/v1/clients/goner").await.0,
        StatusCode::NOT_FOUND
    );
    assert_absent("container", &container);
    assert_absent("network", &network_id);
    assert!(!app.data_dir().join("instances/goner").exists());
    assert!(!app.config.backup_dir().join("goner").exists());
    app.wait_caddy(&domain, 404, UP).await;
    // The other client is untouched.
    assert_eq!(
        app.through_caddy(first_instance(&keep).1.as_str(), "/")
            .unwrap()
            .0,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_start_stop_restart_and_respect_the_plan_cap() {
    let app = TestApp::spawn().await;
    let (status, _) = app
        .post(
            "/api/v1/plans",
            json!({ "name": "one", "cpus": 0.5, "memory": "64MiB", "max_instances": 2 }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let client = app.create_client("Capped", "one").await;
    let (id, domain) = first_instance(&client);

    let (status, second) = app
        .post(
            "/api/v1/clients/capped/instances",
            json!({ "name": "staging", "blueprint": "static-site" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{second}");
    assert_eq!(second["domains"][0], "capped-staging.berth.test");
    let (status, body) = app
        .post(
            "/api/v1/clients/capped/instances",
            json!({ "name": "third", "blueprint": "static-site" }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("allows 2"),
        "{body}"
    );

    // Lowering the cap below usage keeps what runs.
    assert_eq!(
        app.patch("/api/v1/plans/one", json!({ "max_instances": 1 }))
            .await
            .0,
        StatusCode::OK
    );
    app.wait_caddy(&domain, 200, UP).await;
    app.wait_caddy("capped-staging.berth.test", 200, UP).await;

    let (status, body) = app
        .post(&format!("/api/v1/instances/{id}/stop"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.wait_phase(id, &["stopped"], UP).await;
    app.wait_caddy(&domain, 503, UP).await;
    let (status, body) = app
        .post(&format!("/api/v1/instances/{id}/start"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.wait_caddy(&domain, 200, UP).await;

    // A restart keeps the container (same id) and starts it again: Docker's
    // StartedAt moves forward.
    let before = app.wait_phase(id, &["running", "starting"], UP).await;
    let container = before["container_id"].as_str().unwrap().to_owned();
    let started_at = |c: &str| {
        let text = inspect(&app, c, "{{.State.StartedAt}}");
        time::OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|e| panic!("StartedAt {text:?}: {e}"))
    };
    let started = started_at(&container);
    let (status, body) = app
        .post(&format!("/api/v1/instances/{id}/restart"), json!({}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let restarted = eventually("container restarted", UP, || async {
        let now = started_at(&container);
        (now > started).then_some(now)
    })
    .await;
    assert!(restarted > started);
    let after = app.wait_phase(id, &["running", "starting"], UP).await;
    assert_eq!(
        after["container_id"], before["container_id"],
        "same container"
    );
    assert_eq!(
        inspect(&app, &container, "{{.Id}}"),
        container,
        "the container that was restarted is the one berth reports"
    );
    app.wait_caddy(&domain, 200, UP).await;

    let report = app
        .delete_and_follow(
            &format!("/api/v1/instances/{}", second["id"]),
            json!({ "confirm": "capped/staging" }),
        )
        .await;
    assert_eq!(report["client_deleted"], false, "{report}");
    app.wait_caddy("capped-staging.berth.test", 404, UP).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn managed_caddy_and_static_routes_come_up_with_berth() {
    let (admin, http) = (crate::harness::free_port(), crate::harness::free_port());
    let mut app = TestApp::spawn_with(|c| {
        c.caddy.manage = true;
        c.caddy.admin = format!("http://127.0.0.1:{admin}");
        c.caddy.http_port = http;
        c.caddy.routes = vec![berth::config::StaticRoute {
            host: "status.berth.test".into(),
            upstream: None,
            respond: Some("all good".into()),
            status: 200,
        }];
    })
    .await;
    app.create_plan("p", 0.5, "64MiB").await;
    let client = app.create_client("Managed", "p").await;
    let (_, domain) = first_instance(&client);
    let addr = format!("127.0.0.1:{http}");
    for (host, want) in [
        (domain.as_str(), "Managed"),
        ("status.berth.test", "all good"),
    ] {
        eventually(&format!("{host} through berth's own caddy"), UP, || async {
            match crate::harness::try_http_get(&addr, host, "/") {
                Ok((200, body)) if body.contains(want) => Some(()),
                _ => None,
            }
        })
        .await;
    }
    app.stop().await;
    eventually("managed caddy stopped with berth", UP, || async {
        crate::harness::try_http_get(&format!("127.0.0.1:{admin}"), "localhost", "/config/")
            .is_err()
            .then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instance_env_and_domains_can_change_and_secrets_stay_out_of_the_audit() {
    let app = TestApp::spawn().await;
    app.create_plan("p", 0.5, "64MiB").await;
    let (status, client) = app
        .post(
            "/api/v1/clients",
            json!({ "name": "Keyed", "email": "a@b.example", "plan": "p", "blueprint": "static-site",
                    "domain": "www.keyed.example", "env": { "OPENAI_API_KEY": "sk-secret-1" } }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{client}");
    let (id, domain) = first_instance(&client);
    assert_eq!(domain, "www.keyed.example");
    app.wait_caddy(&domain, 200, UP).await;
    let container = app.wait_phase(id, &["running", "starting"], UP).await["container_id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(inspect(&app, &container, "{{.Config.Env}}").contains("OPENAI_API_KEY=sk-secret-1"));

    let (status, body) = app
        .patch(&format!("/api/v1/instances/{id}"), json!({ "env": { "OPENAI_API_KEY": "sk-secret-2" }, "domains": ["keyed.example", "www.keyed.example"] }))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    app.wait_caddy("keyed.example", 200, UP).await;
    let recreated = eventually("container recreated with the new env", UP, || async {
        let c = app.instance(id).await["container_id"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        (c != container && try_inspect(&c, "{{.Config.Env}}")?.contains("sk-secret-2")).then_some(c)
    })
    .await;
    assert!(!recreated.is_empty());

    let bad = app
        .patch(
            &format!("/api/v1/instances/{id}"),
            json!({ "env": { "bad-name": "x" } }),
        )
        .await;
    assert_eq!(bad.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.1);
    let bad = app
        .patch(&format!("/api/v1/instances/{id}"), json!({ "domains": [] }))
        .await;
    assert_eq!(bad.0, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.1);

    let audit = app
        .store()
        .call(|conn| berth::store::audit::query(conn, &Default::default()))
        .await
        .unwrap();
    let text = serde_json::to_string(&audit).unwrap();
    assert!(text.contains("instance.edit") && text.contains("OPENAI_API_KEY"));
    assert!(
        !text.contains("sk-secret"),
        "secret values never reach the audit log"
    );
}
