//! The Docker adapter against the real engine. Needs /var/run/docker.sock and
//! /bin/busybox (static); there is no opt-out: without an engine they fail.

use std::io::{Read, Write};
use std::net::{IpAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use berth::docker::{
    busybox_rootfs, ContainerSpec, ContainerState, Docker, DockerError, Health, HealthSpec,
    ObservedContainer,
};
use futures_util::StreamExt;

use crate::harness::assert_unreachable;

const SOCKET: &str = "/var/run/docker.sock";

fn unique(what: &str) -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!(
        "berth-test-{what}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// Force-removes everything a test made, even when it panics half-way.
#[derive(Default)]
struct Cleanup {
    containers: Mutex<Vec<String>>,
    networks: Mutex<Vec<String>>,
    images: Mutex<Vec<String>>,
}

impl Cleanup {
    fn container(&self, name: &str) {
        self.containers.lock().unwrap().push(name.into());
    }
    fn network(&self, name: &str) {
        self.networks.lock().unwrap().push(name.into());
    }
    fn image(&self, name: &str) {
        self.images.lock().unwrap().push(name.into());
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let run = |args: &[&str], names: &Mutex<Vec<String>>| {
            let names = std::mem::take(&mut *names.lock().unwrap_or_else(|p| p.into_inner()));
            if !names.is_empty() {
                let _ = Command::new("docker")
                    .args(args)
                    .args(&names)
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status();
            }
        };
        // Order matters: networks and images are busy while containers exist.
        run(&["rm", "-f", "-v"], &self.containers);
        run(&["network", "rm"], &self.networks);
        run(&["rmi", "-f"], &self.images);
    }
}

async fn connect(owner: &str) -> Docker {
    Docker::connect(Path::new(SOCKET), owner)
        .await
        .expect("docker engine reachable")
}

async fn import_busybox(docker: &Docker, cleanup: &Cleanup) -> String {
    let image = format!(
        "berth-test-busybox:{}",
        unique("img").replace("berth-test-", "")
    );
    cleanup.image(&image);
    let tar = busybox_rootfs(Path::new("/bin/busybox")).expect("read /bin/busybox");
    docker
        .import_rootfs(
            tar,
            &image,
            &[r#"CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]"#],
        )
        .await
        .expect("import rootfs");
    image
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn spec(owner: &str, image: &str, network: &str, data_dir: &Path, id: i64) -> ContainerSpec {
    ContainerSpec {
        name: unique("c"),
        image: image.into(),
        command: Some(
            ["httpd", "-f", "-p", "8080", "-h", "/www"]
                .map(String::from)
                .to_vec(),
        ),
        env: vec![("GREETING".into(), "hello".into())],
        internal_port: 8080,
        bind_address: "127.0.0.1".parse().unwrap(),
        host_port: free_port(),
        data_dir: data_dir.into(),
        data_mount: "/www".into(),
        nano_cpus: 500_000_000,
        memory: 64 << 20,
        memory_reservation: Some(32 << 20),
        pids_limit: 64,
        health: Some(HealthSpec {
            test: [
                "CMD",
                "wget",
                "-q",
                "-O",
                "/dev/null",
                "http://127.0.0.1:8080/",
            ]
            .map(String::from)
            .to_vec(),
            interval_s: 1,
            timeout_s: 2,
            retries: 3,
            start_period_s: 0,
        }),
        network: network.into(),
        owner: owner.into(),
        instance_id: id,
        client: "acme".into(),
        user: None,
        cap_add: vec![],
        create_from: None,
    }
}

async fn wait_for(
    docker: &Docker,
    id: &str,
    what: &str,
    ok: impl Fn(&ObservedContainer) -> bool,
) -> ObservedContainer {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let list = docker.list_managed().await.unwrap();
        let found = list.into_iter().find(|c| c.id == id);
        match found {
            Some(c) if ok(&c) => return c,
            other if Instant::now() > deadline => panic!("timed out waiting for {what}: {other:?}"),
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

fn http_get(port: u16, path: &str) -> String {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect to published port");
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: localhost\r\n\r\n").unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    response
}

fn ip_on(limits: &berth::docker::InspectedLimits, network: &str) -> IpAddr {
    limits
        .networks
        .iter()
        .find(|(n, _)| n == network)
        .and_then(|(_, ip)| *ip)
        .unwrap_or_else(|| panic!("no IP on {network}: {limits:?}"))
}

#[tokio::test]
async fn container_lifecycle_limits_health_and_isolation() {
    let cleanup = Cleanup::default();
    let owner = unique("owner");
    let docker = connect(&owner).await;
    assert_eq!(docker.owner(), owner);
    assert!(!docker.version().await.unwrap().is_empty());

    let image = import_busybox(&docker, &cleanup).await;
    assert!(docker.image_present(&image).await.unwrap());
    assert!(!docker.image_present(&unique("absent")).await.unwrap());

    let (net_a, net_b) = (unique("net"), unique("net"));
    cleanup.network(&net_a);
    cleanup.network(&net_b);
    docker.ensure_network(&net_a, 1, None).await.unwrap();
    docker.ensure_network(&net_a, 1, None).await.unwrap(); // idempotent
    docker
        .ensure_network(&net_b, 2, Some("10.223.255.240/28"))
        .await
        .unwrap();
    let mut expected = vec![net_a.clone(), net_b.clone()];
    expected.sort();
    assert_eq!(docker.list_managed_networks().await.unwrap(), expected);

    let dir_a = tempfile::tempdir().unwrap();
    let dir_b = tempfile::tempdir().unwrap();
    std::fs::write(dir_a.path().join("index.html"), "served from A\n").unwrap();
    std::fs::write(dir_b.path().join("index.html"), "served from B\n").unwrap();
    let spec_a = spec(&owner, &image, &net_a, dir_a.path(), 1);
    let mut spec_b = spec(&owner, &image, &net_b, dir_b.path(), 2);
    spec_b.command = None; // falls back to the CMD given at import
    cleanup.container(&spec_a.name);
    cleanup.container(&spec_b.name);

    let missing = ContainerSpec {
        data_dir: dir_a.path().join("nope"),
        ..spec_a.clone()
    };
    assert!(matches!(
        docker.create(&missing).await,
        Err(DockerError::MissingDataDir(_))
    ));

    let id_a = docker.create(&spec_a).await.unwrap();
    assert!(matches!(
        docker.create(&spec_a).await,
        Err(DockerError::Conflict(_))
    ));
    let id_b = docker.create(&spec_b).await.unwrap();
    let created = wait_for(&docker, &id_a, "created", |c| {
        c.state == ContainerState::Created
    })
    .await;
    assert_eq!(created.name, spec_a.name);
    assert_eq!(created.instance_id, Some(1));
    assert_eq!(created.spec_hash.as_deref(), Some(spec_a.hash().as_str()));

    let mut events = Box::pin(docker.events());
    docker.start(&id_a).await.unwrap();
    docker.start(&id_a).await.unwrap(); // already started is fine
    let event = tokio::time::timeout(Duration::from_secs(10), events.next())
        .await
        .expect("an event after start");
    assert!(matches!(event, Some(Ok(()))), "{event:?}");
    docker.start(&id_b).await.unwrap();

    for id in [&id_a, &id_b] {
        wait_for(&docker, id, "running and healthy", |c| {
            c.state == ContainerState::Running && c.health == Some(Health::Healthy)
        })
        .await;
    }

    let response = http_get(spec_a.host_port, "/index.html");
    assert!(response.starts_with("HTTP/1.1 200 OK"), "{response}");
    assert!(response.contains("served from A"), "{response}");
    assert!(http_get(spec_b.host_port, "/").contains("served from B"));

    let limits = docker.inspect_limits(&id_a).await.unwrap();
    assert_eq!(limits.nano_cpus, 500_000_000);
    assert_eq!(limits.memory, 64 << 20);
    assert_eq!(limits.memory_reservation, Some(32 << 20));
    assert_eq!(limits.pids_limit, Some(64));
    assert_eq!(limits.restart_policy, "unless-stopped");
    assert_eq!(limits.security_opt, vec!["no-new-privileges:true"]);
    assert_eq!(limits.port_bindings.len(), 1);
    assert_eq!(limits.port_bindings[0].container_port, "8080/tcp");
    assert_eq!(limits.port_bindings[0].host_ip, "127.0.0.1");
    assert_eq!(limits.port_bindings[0].host_port, spec_a.host_port);
    assert!(limits.running && !limits.oom_killed);
    let ip_a = ip_on(&limits, &net_a);
    assert_eq!(limits.networks.len(), 1);
    let ip_b = ip_on(&docker.inspect_limits(&id_b).await.unwrap(), &net_b);

    let (code, out) = docker
        .exec(
            &id_a,
            &["sh", "-c", "echo $GREETING; echo oops >&2; exit 3"],
        )
        .await
        .unwrap();
    assert_eq!(code, 3);
    // stdout and stderr arrive as separate frames; their order is not fixed.
    assert!(out.contains("hello\n") && out.contains("oops\n"), "{out:?}");

    // `timeout` rather than `wget -T`: Debian's busybox-static 1.35 wget
    // segfaults when -T is given.
    let fetch = |ip: IpAddr| format!("http://{ip}:8080/index.html");
    let (code, out) = docker
        .exec(
            &id_a,
            &["timeout", "3", "wget", "-q", "-O", "-", &fetch(ip_a)],
        )
        .await
        .unwrap();
    assert_eq!(code, 0, "A reaches itself: {out}");
    assert!(out.contains("served from A"));
    let (code, out) = docker
        .exec(
            &id_b,
            &["timeout", "3", "wget", "-q", "-O", "-", &fetch(ip_b)],
        )
        .await
        .unwrap();
    assert_eq!(code, 0, "B reaches itself: {out}");
    assert_unreachable(&id_a, &fetch(ip_b), "A must not reach B");
    assert_unreachable(&id_b, &fetch(ip_a), "B must not reach A");

    docker.stop(&id_a, 5).await.unwrap();
    docker.stop(&id_a, 5).await.unwrap(); // already stopped is fine
    let stopped = wait_for(&docker, &id_a, "exited", |c| {
        c.state == ContainerState::Exited
    })
    .await;
    assert!(stopped.exit_code.is_some(), "{stopped:?}");
    assert!(!docker.inspect_limits(&id_a).await.unwrap().running);
    docker.start(&id_a).await.unwrap();
    wait_for(&docker, &id_a, "running again", |c| {
        c.state == ContainerState::Running
    })
    .await;

    for id in [&id_a, &id_b] {
        docker.remove(id).await.unwrap();
        docker.remove(id).await.unwrap(); // gone is fine
        docker.stop(id, 1).await.unwrap();
        assert!(matches!(
            docker.inspect_limits(id).await,
            Err(DockerError::NotFound(_))
        ));
        crate::harness::assert_absent("container", id);
    }
    assert!(docker.list_managed().await.unwrap().is_empty());
    for net in [&net_a, &net_b] {
        docker.remove_network(net).await.unwrap();
        docker.remove_network(net).await.unwrap();
    }
    assert!(docker.list_managed_networks().await.unwrap().is_empty());
    for net in [&net_a, &net_b] {
        crate::harness::assert_absent("network", net);
    }
}

#[tokio::test]
async fn foreign_network_with_our_name_is_a_conflict() {
    let cleanup = Cleanup::default();
    let ours = connect(&unique("owner")).await;
    let theirs = connect(&unique("owner")).await;
    let net = unique("net");
    cleanup.network(&net);
    theirs.ensure_network(&net, 7, None).await.unwrap();
    assert!(matches!(
        ours.ensure_network(&net, 7, None).await,
        Err(DockerError::Conflict(_))
    ));
    assert!(ours.list_managed_networks().await.unwrap().is_empty());
}

#[tokio::test]
async fn pull_from_unreachable_registry_fails_quickly() {
    let docker = connect(&unique("owner")).await;
    let mut lines = Vec::new();
    let result = tokio::time::timeout(
        Duration::from_secs(90),
        docker.pull("127.0.0.1:1/nope:latest", |l| lines.push(l)),
    )
    .await
    .expect("pull must end, not hang");
    match result {
        Err(DockerError::Pull { image, message }) => {
            eprintln!("pull failed as expected: {message}");
            assert_eq!(image, "127.0.0.1:1/nope:latest");
            assert!(!message.is_empty() && !message.contains('\n'), "{message}");
        }
        other => panic!("expected a pull error, got {other:?} ({lines:?})"),
    }
}

#[tokio::test]
async fn missing_socket_is_unreachable() {
    let err = Docker::connect(Path::new("/nonexistent/docker.sock"), "x")
        .await
        .unwrap_err();
    assert!(matches!(err, DockerError::Unreachable { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/docker.sock"));
}
