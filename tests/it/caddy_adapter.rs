//! berth's Caddy adapter against a real Caddy (Debian's `caddy` package),
//! started by each test on free loopback ports with its state in a tempdir.
//! There is no opt-out: a missing `caddy` binary fails the tests.

use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use berth::caddy::{
    config_hash, generate, run_managed, run_managed_with, CaddyAdmin, CaddyError, CaddySettings,
    ManagedOptions, Route, RouteTarget,
};
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::{oneshot, Notify};

const DEADLINE: Duration = Duration::from_secs(15);

fn caddy_bin() -> PathBuf {
    std::env::var_os("BERTH_CADDY_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("caddy"))
}

/// Bind port 0, read the port, release it. Racy in theory, fine on loopback.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn wait_until<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + DEADLINE;
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A Caddy started with nothing but an admin endpoint; killed on drop.
struct TestCaddy {
    child: Child,
    dir: tempfile::TempDir,
    admin_port: u16,
    admin: CaddyAdmin,
}

impl TestCaddy {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let admin_port = free_port();
        let config = dir.path().join("bare.json");
        let bare = json!({ "admin": { "listen": format!("127.0.0.1:{admin_port}") } });
        std::fs::write(&config, serde_json::to_vec(&bare).unwrap()).unwrap();
        let child = spawn_caddy(dir.path(), &config);
        let admin = CaddyAdmin::new(&format!("http://127.0.0.1:{admin_port}")).unwrap();
        let caddy = Self {
            child,
            dir,
            admin_port,
            admin,
        };
        caddy.wait_up().await;
        caddy
    }

    async fn wait_up(&self) {
        let admin = self.admin.clone();
        wait_until("caddy admin API", || {
            let admin = admin.clone();
            async move { admin.is_up().await }
        })
        .await;
    }

    /// Kill and start again from the bare config, as after a crash.
    async fn restart(&mut self) {
        self.child.kill().unwrap();
        self.child.wait().unwrap();
        self.child = spawn_caddy(self.dir.path(), &self.dir.path().join("bare.json"));
        self.wait_up().await;
    }

    fn settings(&self, http_port: u16) -> CaddySettings {
        CaddySettings {
            admin_listen: format!("127.0.0.1:{}", self.admin_port),
            tls: false,
            http_port,
            https_port: free_port(),
            listen_host: "127.0.0.1".into(),
            acme_email: None,
        }
    }
}

impl Drop for TestCaddy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn_caddy(dir: &Path, config: &Path) -> Child {
    Command::new(caddy_bin())
        .arg("run")
        .arg("--config")
        .arg(config)
        .env("HOME", dir)
        .env("XDG_DATA_HOME", dir.join("data"))
        .env("XDG_CONFIG_HOME", dir.join("config"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start {:?} ({e}); install Debian's `caddy`",
                caddy_bin()
            )
        })
}

/// Answers every request with "hello from upstream" and echoes the Host and
/// X-Forwarded-For it received, so tests can see what Caddy passed on.
async fn start_upstream() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                let request = String::from_utf8_lossy(&buf).to_string();
                let header = |name: &str| {
                    request
                        .lines()
                        .filter_map(|l| l.split_once(':'))
                        .find(|(k, _)| k.eq_ignore_ascii_case(name))
                        .map(|(_, v)| v.trim().to_string())
                        .unwrap_or_default()
                };
                let body = "hello from upstream";
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\
                     X-Seen-Host: {}\r\nX-Seen-Forwarded-For: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len(),
                    header("host"),
                    header("x-forwarded-for"),
                );
                let _ = stream.write_all(response.as_bytes()).await;
            });
        }
    });
    addr
}

fn client() -> reqwest::Client {
    berth::tls::client_builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
}

async fn get(port: u16, host: &str) -> reqwest::Result<reqwest::Response> {
    client()
        .get(format!("http://127.0.0.1:{port}/"))
        .header(reqwest::header::HOST, host)
        .send()
        .await
}

fn routes(upstream: SocketAddr) -> Vec<Route> {
    vec![
        Route {
            hosts: vec!["a.test".into()],
            target: RouteTarget::Upstream(upstream.to_string()),
            id: "berth-inst-1".into(),
        },
        Route {
            hosts: vec!["b.test".into()],
            target: RouteTarget::Suspended,
            id: "berth-inst-2".into(),
        },
        Route {
            hosts: vec!["status.test".into()],
            target: RouteTarget::Respond {
                status: 202,
                body: "static ok".into(),
            },
            id: "berth-static-status".into(),
        },
    ]
}

#[tokio::test]
async fn generated_config_routes_by_host_and_survives_restart() {
    let upstream = start_upstream().await;
    let mut caddy = TestCaddy::start().await;
    let http_port = free_port();
    let generated = generate(&caddy.settings(http_port), &routes(upstream));

    let bare_hash = config_hash(&caddy.admin.config().await.unwrap());
    assert_ne!(bare_hash, config_hash(&generated));

    caddy.admin.load(&generated).await.unwrap();
    caddy.admin.load(&generated).await.unwrap();

    let a = get(http_port, "a.test").await.unwrap();
    assert_eq!(a.status(), 200);
    assert_eq!(a.headers()["x-seen-host"], "a.test", "Host is kept");
    assert_eq!(a.headers()["x-seen-forwarded-for"], "127.0.0.1");
    assert_eq!(a.text().await.unwrap(), "hello from upstream");

    let b = get(http_port, "b.test").await.unwrap();
    assert_eq!(b.status(), 503);
    assert!(b.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(b.text().await.unwrap().contains("suspended"));

    let s = get(http_port, "status.test").await.unwrap();
    assert_eq!(s.status(), 202);
    assert_eq!(s.text().await.unwrap(), "static ok");

    assert_eq!(get(http_port, "nobody.test").await.unwrap().status(), 404);

    // No false drift: what Caddy hands back hashes like what we generated.
    let live = caddy.admin.config().await.unwrap();
    assert_eq!(live, generated, "Caddy changed the config on read-back");
    assert_eq!(config_hash(&live), config_hash(&generated));

    // Restarted without --resume, Caddy forgets berth's routes.
    caddy.restart().await;
    let live = caddy.admin.config().await.unwrap();
    assert_eq!(config_hash(&live), bare_hash);
    assert_ne!(config_hash(&live), config_hash(&generated));
    assert!(
        get(http_port, "a.test").await.is_err(),
        "no server listens after restart"
    );

    caddy.admin.load(&generated).await.unwrap();
    assert_eq!(
        config_hash(&caddy.admin.config().await.unwrap()),
        config_hash(&generated)
    );
    assert_eq!(
        get(http_port, "a.test")
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        "hello from upstream"
    );
}

#[tokio::test]
async fn rejected_config_reports_caddys_message_and_keeps_running_config() {
    let caddy = TestCaddy::start().await;
    let before = caddy.admin.config().await.unwrap();
    let bad = json!({
        "admin": { "listen": format!("127.0.0.1:{}", caddy.admin_port) },
        "apps": { "no_such_app": {} },
    });
    match caddy.admin.load(&bad).await {
        Err(CaddyError::Rejected { status, message }) => {
            assert!((400..600).contains(&status), "{status}");
            assert!(message.contains("no_such_app"), "{message}");
            assert!(!message.contains('\n'), "one line: {message}");
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_eq!(caddy.admin.config().await.unwrap(), before);
}

#[tokio::test]
async fn admin_accepts_reqwest_host_headers() {
    let caddy = TestCaddy::start().await;
    // The admin API answers 403 to unexpected Host headers; both loopback
    // spellings berth might be configured with must pass.
    for base in [
        format!("http://127.0.0.1:{}", caddy.admin_port),
        format!("http://localhost:{}", caddy.admin_port),
    ] {
        let admin = CaddyAdmin::new(&base).unwrap();
        assert!(admin.is_up().await, "{base}");
        admin.config().await.unwrap();
    }
}

#[tokio::test]
async fn unreachable_admin_is_a_clear_error() {
    let admin = CaddyAdmin::new(&format!("http://127.0.0.1:{}", free_port())).unwrap();
    assert!(!admin.is_up().await);
    let err = admin.config().await.unwrap_err();
    assert!(matches!(err, CaddyError::Unreachable { .. }), "{err:?}");
    assert!(err.to_string().contains("unreachable"), "{err}");
}

fn managed_setup() -> (CaddyAdmin, Value, u16) {
    let admin_port = free_port();
    let http_port = free_port();
    let settings = CaddySettings {
        admin_listen: format!("127.0.0.1:{admin_port}"),
        tls: false,
        http_port,
        https_port: free_port(),
        listen_host: "127.0.0.1".into(),
        acme_email: None,
    };
    let bootstrap = generate(&settings, &[]);
    let admin = CaddyAdmin::new(&format!("http://127.0.0.1:{admin_port}")).unwrap();
    (admin, bootstrap, http_port)
}

#[tokio::test]
async fn run_managed_starts_and_stops_caddy() {
    let state = tempfile::tempdir().unwrap();
    let (admin, bootstrap, http_port) = managed_setup();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(run_managed(
        caddy_bin(),
        admin.clone(),
        bootstrap.clone(),
        state.path().to_path_buf(),
        async move {
            let _ = stopped.await;
        },
    ));

    let a = admin.clone();
    wait_until("managed caddy up", || {
        let a = a.clone();
        async move { a.is_up().await }
    })
    .await;
    assert_eq!(
        config_hash(&admin.config().await.unwrap()),
        config_hash(&bootstrap)
    );
    assert!(state.path().join("caddy/bootstrap.json").is_file());
    assert_eq!(get(http_port, "x.test").await.unwrap().status(), 404);

    stop.send(()).unwrap();
    tokio::time::timeout(DEADLINE, task)
        .await
        .expect("run_managed returns after shutdown")
        .unwrap()
        .unwrap();
    assert!(!admin.is_up().await, "caddy is gone after shutdown");
}

#[tokio::test]
async fn managed_caddy_is_restarted_after_it_exits() {
    let state = tempfile::tempdir().unwrap();
    let (admin, bootstrap, _) = managed_setup();
    let ready = Arc::new(Notify::new());
    let mut opts = ManagedOptions::new(caddy_bin(), admin.clone(), bootstrap, state.path().into());
    opts.min_backoff = Duration::from_millis(50);
    opts.on_ready = Some(ready.clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(run_managed_with(opts, async move {
        let _ = stopped.await;
    }));

    tokio::time::timeout(DEADLINE, ready.notified())
        .await
        .expect("first start");
    // Caddy's own admin endpoint to stop it: the supervisor must bring it back.
    let _ = client()
        .post(format!("{}/stop", admin.base_url()))
        .send()
        .await;
    tokio::time::timeout(DEADLINE, ready.notified())
        .await
        .expect("restart after exit");
    assert!(admin.is_up().await);

    stop.send(()).unwrap();
    tokio::time::timeout(DEADLINE, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(!admin.is_up().await);
}

#[tokio::test]
async fn run_managed_leaves_a_running_caddy_alone() {
    let caddy = TestCaddy::start().await;
    let state = tempfile::tempdir().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(run_managed(
        caddy_bin(),
        caddy.admin.clone(),
        json!({}),
        state.path().to_path_buf(),
        async move {
            let _ = stopped.await;
        },
    ));
    stop.send(()).unwrap();
    tokio::time::timeout(DEADLINE, task)
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(caddy.admin.is_up().await);
    assert!(!state.path().join("caddy/bootstrap.json").exists());
}

#[tokio::test]
async fn tls_config_is_accepted_and_redirects_http() {
    let caddy = TestCaddy::start().await;
    let upstream = start_upstream().await;
    let http_port = free_port();
    let settings = CaddySettings {
        tls: true,
        acme_email: Some("ops@example.com".into()),
        ..caddy.settings(http_port)
    };
    let mut config = generate(&settings, &routes(upstream));
    assert_eq!(
        config["apps"]["tls"]["automation"]["policies"][0]["issuers"][0]["module"],
        "acme"
    );
    // Same shape, but no test may talk to Let's Encrypt or touch the host's
    // trust store: swap in Caddy's internal CA, without installing its root.
    config["apps"]["tls"]["automation"]["policies"][0]["issuers"] =
        json!([{ "module": "internal" }]);
    config["apps"]["pki"] =
        json!({ "certificate_authorities": { "local": { "install_trust": false } } });
    caddy.admin.load(&config).await.unwrap();
    assert_eq!(
        config_hash(&caddy.admin.config().await.unwrap()),
        config_hash(&config)
    );

    let resp = berth::tls::client_builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{http_port}/x"))
        .header(reqwest::header::HOST, "a.test")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 308);
    let location = resp.headers()["location"].to_str().unwrap();
    assert!(location.starts_with("https://a.test"), "{location}");
}

const HELPER_ENV: &str = "BERTH_TEST_MANAGED_HELPER";

/// Not a test on its own: `managed_caddy_dies_with_berth` runs this in a
/// child copy of the test binary and SIGKILLs that process.
#[tokio::test]
#[ignore = "helper process for managed_caddy_dies_with_berth"]
async fn managed_helper_process() {
    let Ok(spec) = std::env::var(HELPER_ENV) else {
        return;
    };
    let (state, port) = spec.split_once('|').unwrap();
    let admin = CaddyAdmin::new(&format!("http://127.0.0.1:{port}")).unwrap();
    let bootstrap = json!({ "admin": { "listen": format!("127.0.0.1:{port}") } });
    run_managed(
        caddy_bin(),
        admin,
        bootstrap,
        state.into(),
        std::future::pending(),
    )
    .await
    .unwrap();
}

#[tokio::test]
async fn managed_caddy_dies_with_berth() {
    let state = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut helper = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "caddy_adapter::managed_helper_process",
            "--ignored",
            "--nocapture",
        ])
        .env(HELPER_ENV, format!("{}|{port}", state.path().display()))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let admin = CaddyAdmin::new(&format!("http://127.0.0.1:{port}")).unwrap();
    let a = admin.clone();
    wait_until("caddy started by the helper", || {
        let a = a.clone();
        async move { a.is_up().await }
    })
    .await;

    let caddy_pid = child_pids(helper.id())
        .into_iter()
        .find(|pid| proc_stat(*pid).is_some_and(|s| s.contains("(caddy)")))
        .expect("the helper's caddy child");
    // Kills the caddy if deathsig fails, so a failing test leaks nothing.
    let _guard = KillOnDrop(caddy_pid);

    helper.kill().unwrap(); // SIGKILL: no destructor, no shutdown future runs
    helper.wait().unwrap();
    // Watch the process, not the admin API: a request would make Caddy log to
    // its now broken stderr pipe and die of SIGPIPE, hiding a missing deathsig.
    wait_until(
        "orphaned caddy to die",
        || async move { !is_running(caddy_pid) },
    )
    .await;
}

fn proc_stat(pid: u32) -> Option<String> {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()
}

/// Running = exists and is not a zombie (this container's init may not reap).
fn is_running(pid: u32) -> bool {
    proc_stat(pid).is_some_and(|s| {
        let state = s.rsplit_once(") ").map(|(_, rest)| rest.chars().next());
        state != Some(Some('Z'))
    })
}

fn child_pids(parent: u32) -> Vec<u32> {
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            proc_stat(*pid)
                .and_then(|s| {
                    let rest = s.rsplit_once(") ")?.1.to_string();
                    rest.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                .is_some_and(|ppid| ppid == parent)
        })
        .collect()
}

struct KillOnDrop(u32);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        if is_running(self.0) {
            let _ = Command::new("kill")
                .arg("-9")
                .arg(self.0.to_string())
                .status();
        }
    }
}

#[tokio::test]
async fn a_thousand_routes_load_and_read_back_unchanged() {
    let caddy = TestCaddy::start().await;
    let upstream = start_upstream().await;
    let http_port = free_port();
    let routes: Vec<Route> = (0..1000)
        .map(|i| Route {
            hosts: vec![format!("c{i}.test"), format!("www.c{i}.test")],
            target: if i % 10 == 0 {
                RouteTarget::Suspended
            } else {
                RouteTarget::Upstream(upstream.to_string())
            },
            id: format!("berth-inst-{i}"),
        })
        .collect();
    let config = generate(&caddy.settings(http_port), &routes);
    // How fast this is belongs to `cargo bench --bench caddy_load`.
    caddy.admin.load(&config).await.unwrap();
    assert_eq!(
        config_hash(&caddy.admin.config().await.unwrap()),
        config_hash(&config)
    );
    assert_eq!(get(http_port, "www.c999.test").await.unwrap().status(), 200);
    assert_eq!(get(http_port, "c990.test").await.unwrap().status(), 503);
}
