//! The warm network pool (`[docker] network_pool`): networks made ahead of
//! need for the ports the next creates get. A create adopts the one of its
//! port (recorded in the store, then used); the pool refills; an adopted
//! network is its instance's alone and goes with it; the free ones go when
//! berth stops; another berth's pool is never touched; a kill -9 between
//! taking a pool network and recording it, or between recording it and
//! using it, leaks nothing and shares nothing.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{
    api_call, api_client, assert_absent, berth_cli, docker, eventually, pool_networks, unique,
    wait_pool_full, BerthProcess, ChildSetup, DockerGuard, TestApp,
};

const UP: Duration = Duration::from_secs(90);

/// The networks a container is attached to: (name, id).
fn attached(container: &str) -> Vec<(String, String)> {
    docker(&[
        "inspect",
        "-f",
        "{{range $n, $e := .NetworkSettings.Networks}}{{$n}} {{$e.NetworkID}}\n{{end}}",
        container,
    ])
    .lines()
    .filter_map(|l| l.split_once(' '))
    .map(|(n, id)| (n.to_owned(), id.to_owned()))
    .collect()
}

fn network_field(network: &str, format: &str) -> String {
    docker(&["network", "inspect", "-f", format, network])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pool_network_is_adopted_refilled_and_goes_with_its_instance() {
    let mut app = TestApp::spawn_with(|c| c.docker.network_pool = 2).await;
    let (first, prefix) = (
        app.config.port_range.first,
        app.config.docker.name_prefix.clone(),
    );
    // Another berth's pool network on the same engine: never touched.
    let other = DockerGuard::new(&unique("other"));
    let foreign = format!("{}-pool", unique("foreign"));
    docker(&[
        "network",
        "create",
        "--label",
        &format!("berth.managed={}", other.owner()),
        "--label",
        &format!("berth.pool={first}"),
        &foreign,
    ]);

    let warm = wait_pool_full(&app.guard, 2, UP).await;
    let ports: Vec<u16> = warm.iter().map(|n| n.port).collect();
    assert_eq!(ports, [first, first + 1], "made for the next free ports");
    app.create_plan("p", 0.5, "64MiB").await;
    let client = app.create_client("Pooled", "p").await;
    let inst = &client["instances"][0];
    let (id, port) = (
        inst["id"].as_i64().unwrap(),
        inst["host_port"].as_u64().unwrap(),
    );
    assert_eq!(port, u64::from(first));
    let container = app.wait_phase(id, &["running", "starting"], UP).await["container_id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.wait_caddy(inst["domains"][0].as_str().unwrap(), 200, UP)
        .await;

    // Its network is the pool's one for its port: that port's subnet, no
    // instance label (the store has the link), no other container.
    let nets = attached(&container);
    let pooled = format!("{prefix}-pool-{port}");
    assert_eq!(nets.len(), 1, "{nets:?}");
    assert_eq!(nets[0].0, pooled);
    assert_eq!(
        network_field(&pooled, "{{range .IPAM.Config}}{{.Subnet}}{{end}}"),
        app.config.instance_subnet(port as u16)
    );
    assert_eq!(
        network_field(&pooled, "{{index .Labels \"berth.instance\"}}"),
        ""
    );
    assert_eq!(network_field(&pooled, "{{len .Containers}}"), "1");
    let recorded: Option<String> = app
        .store()
        .call(move |conn| Ok(berth::store::instances::get(conn, id)?.network))
        .await
        .unwrap();
    assert_eq!(recorded.as_deref(), Some(pooled.as_str()));

    // Refilled for the next free ports, the adopted one not counted.
    let refilled = wait_pool_full(&app.guard, 2, UP).await;
    let ports: Vec<u16> = refilled.iter().map(|n| n.port).collect();
    assert_eq!(ports, [first + 1, first + 2]);

    // A delete takes the adopted network (by id: the pool may make a new
    // one of the same name for the freed port).
    let network_id = nets[0].1.clone();
    app.delete_and_follow("/api/v1/clients/pooled", json!({ "confirm": "pooled" }))
        .await;
    assert_absent("network", &network_id);

    // Stopped, berth leaves no free pool network; the foreign one stays.
    app.stop().await;
    assert_eq!(pool_networks(&app.guard), vec![]);
    assert_eq!(
        network_field(&foreign, "{{index .Labels \"berth.pool\"}}"),
        first.to_string()
    );
    docker(&["network", "rm", &foreign]);
}

/// kill -9 at `step` of the first adoption, then a restart: the instance
/// runs on the pool network of its port, made once, and nothing else of
/// the owner exists but free pool networks, none shared.
async fn killed_at(step: &str) {
    let mut setup = ChildSetup::new("pool").await;
    setup.config.docker.network_pool = 2;
    let token = setup.create_token("pool");
    let (config, guard) = (&setup.config, &setup.guard);
    let (code, _, err) = berth_cli(
        config,
        &["plan", "create", "p", "--cpus", "0.1", "--memory", "32MiB"],
    );
    assert_eq!(code, 0, "{err}");
    let http = api_client(Duration::from_secs(30));
    let api = format!("http://{}", config.listen);
    let pause_file = setup.dir.path().join("paused");
    let mut daemon = BerthProcess::start_with_env(
        config,
        &[
            ("BERTH_TEST_PAUSE_AT", step.to_owned()),
            ("BERTH_TEST_PAUSE_FILE", pause_file.display().to_string()),
        ],
    );
    daemon.wait_healthy(&http, config).await;
    wait_pool_full(guard, 2, UP).await;
    let (status, body) = api_call(
        &http,
        &api,
        &token,
        Method::POST,
        "/api/v1/clients",
        Some(json!({ "name": "Cut", "email": "a@b.example", "plan": "p", "blueprint": "static-site" })),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    eventually(&format!("berth paused at {step}"), UP, || async {
        (std::fs::read_to_string(&pause_file).ok()? == step).then_some(())
    })
    .await;
    daemon.kill9();

    let mut daemon = BerthProcess::start(config);
    daemon.wait_healthy(&http, config).await;
    let inst = &body["instances"][0];
    let (id, port) = (
        inst["id"].as_i64().unwrap(),
        inst["host_port"].as_u64().unwrap(),
    );
    let container = eventually("the instance running", UP, || async {
        let (_, i): (_, Value) = api_call(
            &http,
            &api,
            &token,
            Method::GET,
            &format!("/api/v1/instances/{id}"),
            None,
        )
        .await;
        (i["phase"] == "running").then(|| i["container_id"].as_str().map(str::to_owned))?
    })
    .await;
    let nets = attached(&container);
    let pooled = format!("{}-pool-{port}", config.docker.name_prefix);
    assert_eq!(nets.iter().map(|n| &n.0).collect::<Vec<_>>(), [&pooled]);
    let free = wait_pool_full(guard, 2, UP).await;
    let all: BTreeSet<String> = docker(&[
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
    let mut expected: BTreeSet<String> = free.into_iter().map(|n| n.name).collect();
    expected.insert(pooled.clone());
    assert_eq!(all, expected, "leaked or missing networks");
    assert_eq!(network_field(&pooled, "{{len .Containers}}"), "1");
    drop(daemon);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_taking_a_pool_network_before_recording_it_nothing_leaks() {
    killed_at("pool-taken").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_after_recording_a_pool_network_the_instance_keeps_it() {
    killed_at("pool-adopted").await;
}
