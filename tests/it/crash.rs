//! kill -9 in the middle of creates: the restarted daemon converges. Every
//! create answered 201 before the kill is still there; no container,
//! network or data directory belongs to nothing (free pool networks aside,
//! up to the pool's size), no network is shared; Docker binds each port
//! once; every route is present.

use std::collections::{BTreeSet, HashSet};
use std::time::Duration;

use serde_json::{json, Value};

use crate::harness::{
    api_client, berth_cli, docker, eventually, free_pool_networks, try_http_get, BerthProcess,
    ChildSetup,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_creates_the_daemon_converges_after_restart() {
    let setup = ChildSetup::new("crash").await;
    let token = setup.create_token("crash");
    let ChildSetup {
        dir: _dir,
        guard,
        caddy,
        config,
        ..
    } = setup;
    let (code, _, err) = berth_cli(
        &config,
        &["plan", "create", "p", "--cpus", "0.1", "--memory", "32MiB"],
    );
    assert_eq!(code, 0, "{err}");

    let http = api_client(Duration::from_secs(30));
    let mut daemon = BerthProcess::start(&config);
    daemon.wait_healthy(&http, &config).await;
    let api = daemon.api.clone();

    // Fire creates, and kill the daemon once a few have been accepted and
    // the reconciler is busy with them.
    let creates: Vec<_> = (0..12)
        .map(|i| {
            let (http, api, token) = (http.clone(), api.clone(), token.clone());
            tokio::spawn(async move {
                let r = http.post(format!("{api}/api/v1/clients"))
                    .bearer_auth(token)
                    .json(&json!({ "name": format!("Crash {i}"), "email": "a@b.example", "plan": "p", "blueprint": "static-site" }))
                    .send()
                    .await
                    .ok()?;
                let status = r.status().as_u16();
                Some((status, r.json::<Value>().await.ok()?))
            })
        })
        .collect();
    let data = config.data_dir.clone();
    eventually(
        "some creates reached Docker",
        Duration::from_secs(30),
        || {
            let data = data.clone();
            async move {
                (std::fs::read_dir(data.join("instances"))
                    .map(|d| d.count())
                    .unwrap_or(0)
                    >= 2)
                    .then_some(())
            }
        },
    )
    .await;
    daemon.kill9();
    // The creates the daemon confirmed (201) before it died; the others
    // were cut off and may or may not have reached the store.
    let mut confirmed = Vec::new();
    for c in creates {
        if let Some((201, body)) = c.await.unwrap() {
            confirmed.push(body);
        }
    }
    assert!(
        !confirmed.is_empty(),
        "no create was confirmed before the kill"
    );

    let daemon = BerthProcess::start(&config);
    let clients: Vec<Value> = eventually(
        "daemon back with its clients",
        Duration::from_secs(30),
        || async {
            let r = http
                .get(format!("{api}/api/v1/instances"))
                .bearer_auth(&token)
                .send()
                .await
                .ok()?;
            r.json::<Vec<Value>>().await.ok()
        },
    )
    .await;
    assert!(!clients.is_empty());

    let instances: Vec<Value> = eventually(
        "every instance running",
        Duration::from_secs(90),
        || async {
            let list: Vec<Value> = http
                .get(format!("{api}/api/v1/instances"))
                .bearer_auth(&token)
                .send()
                .await
                .ok()?
                .json()
                .await
                .ok()?;
            list.iter()
                .all(|i| matches!(i["phase"].as_str(), Some("running" | "starting")))
                .then_some(list)
        },
    )
    .await;

    // Every confirmed create survived, with the instance it was given.
    for body in &confirmed {
        let id = &body["instances"][0]["id"];
        assert!(
            instances.iter().any(|i| &i["id"] == id
                && i["client_slug"] == body["slug"]
                && i["host_port"] == body["instances"][0]["host_port"]),
            "confirmed create {body} is gone after the restart: {instances:?}"
        );
    }

    let ports: HashSet<u64> = instances
        .iter()
        .map(|i| i["host_port"].as_u64().unwrap())
        .collect();
    assert_eq!(ports.len(), instances.len(), "no duplicate port");
    let ids: HashSet<String> = instances.iter().map(|i| i["id"].to_string()).collect();

    // Docker's view: one container per instance and nothing else, each
    // publishing exactly its instance's port, no host port bound twice.
    let containers: Vec<String> = docker(&["ps", "-aq", "--filter", &guard.label_filter()])
        .lines()
        .map(str::to_owned)
        .collect();
    let mut labels = Vec::new();
    let mut bound = Vec::new();
    let mut networks = BTreeSet::new();
    for c in &containers {
        let label = docker(&[
            "inspect",
            "-f",
            "{{index .Config.Labels \"berth.instance\"}}",
            c,
        ]);
        let ports = docker(&[
            "inspect",
            "-f",
            "{{range $p, $b := .HostConfig.PortBindings}}{{range $b}}{{.HostPort}} {{end}}{{end}}",
            c,
        ]);
        let inst = instances
            .iter()
            .find(|i| i["id"].as_i64() == label.parse::<i64>().ok())
            .unwrap_or_else(|| panic!("container {c} (instance {label:?}) belongs to no instance"));
        assert_eq!(
            ports.split_whitespace().collect::<Vec<_>>(),
            [inst["host_port"].to_string()],
            "container {c} publishes its instance's port only"
        );
        bound.extend(ports.split_whitespace().map(str::to_owned));
        networks.insert(docker(&[
            "inspect",
            "-f",
            "{{range $n, $_ := .NetworkSettings.Networks}}{{$n}} {{end}}",
            c,
        ]));
        labels.push(label);
    }
    assert_eq!(
        labels.len(),
        instances.len(),
        "one container per instance, no orphans: {labels:?}"
    );
    assert!(
        labels.iter().all(|l| ids.contains(l)),
        "{labels:?} vs {ids:?}"
    );
    let unique_bound: HashSet<&String> = bound.iter().collect();
    assert_eq!(
        unique_bound.len(),
        bound.len(),
        "a host port bound twice: {bound:?}"
    );
    // Networks: one of its own per container (none shared), and besides
    // them only free pool networks, no more than the pool holds.
    let networks: Vec<String> = networks
        .iter()
        .flat_map(|n| n.split_whitespace().map(str::to_owned))
        .collect();
    assert_eq!(
        networks.len(),
        containers.len(),
        "one network per container: {networks:?}"
    );
    let networks: BTreeSet<String> = networks.into_iter().collect();
    assert_eq!(
        networks.len(),
        containers.len(),
        "a network shared: {networks:?}"
    );
    let labelled: BTreeSet<String> = docker(&[
        "network",
        "ls",
        "--filter",
        &guard.label_filter(),
        "--format",
        "{{.Name}}",
    ])
    .lines()
    .map(str::to_owned)
    .collect();
    let free = free_pool_networks(&guard);
    assert!(
        free.len() <= config.docker.network_pool,
        "more free pool networks than the pool holds: {free:?}"
    );
    let free: BTreeSet<String> = free.into_iter().map(|n| n.name).collect();
    assert_eq!(
        labelled.difference(&free).cloned().collect::<BTreeSet<_>>(),
        networks,
        "orphaned or missing networks"
    );
    // Data directories: exactly one per instance.
    let expected: BTreeSet<String> = instances
        .iter()
        .map(|i| {
            format!(
                "{}/{}",
                i["client_slug"].as_str().unwrap(),
                i["name"].as_str().unwrap()
            )
        })
        .collect();
    let mut on_disk = BTreeSet::new();
    for client in std::fs::read_dir(config.data_dir.join("instances")).unwrap() {
        let client = client.unwrap();
        for inst in std::fs::read_dir(client.path()).unwrap() {
            on_disk.insert(format!(
                "{}/{}",
                client.file_name().to_string_lossy(),
                inst.unwrap().file_name().to_string_lossy()
            ));
        }
    }
    assert_eq!(on_disk, expected, "orphaned or missing data directories");
    for inst in &instances {
        let domain = inst["domains"][0].as_str().unwrap().to_owned();
        let port = caddy.http_port;
        eventually(&format!("{domain} routed"), Duration::from_secs(30), || {
            let domain = domain.clone();
            async move {
                matches!(
                    try_http_get(&format!("127.0.0.1:{port}"), &domain, "/"),
                    Ok((200, _))
                )
                .then_some(())
            }
        })
        .await;
    }
    drop(daemon);
}
