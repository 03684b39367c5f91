//! The web edge without Docker: the router over an in-memory store, driven
//! with `tower::ServiceExt::oneshot`. Protection of every route, CSRF, the
//! login throttle, session expiry, escaping and headers; the portal and the
//! authorization matrix of every route.

mod authz;
mod authz_matrix;
mod backups;
mod client_users;
mod edge;
mod gdpr;
mod handover;
mod plan_pins;
mod portal;
mod portal_requests;
mod reads;
mod security;
mod throttle;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use tower::ServiceExt;

use super::routes::{self, Access};
use super::{router, AppState};
use crate::audit::Actor;
use crate::blueprint::Blueprints;
use crate::config::Config;
use crate::ops::{NewClientInput, Ops, PlanInput};
use crate::store::Store;

struct Web {
    app: Router,
    ops: Ops,
    /// The same store as `ops`, for tests that age a row no operation can.
    store: Store,
    _dir: Option<tempfile::TempDir>,
}

async fn web(adjust: impl FnOnce(&mut Config)) -> Web {
    let dir = tempfile::tempdir().unwrap();
    let mut w = web_with(dir.path(), None, adjust, |o| o).await;
    w._dir = Some(dir);
    w
}

/// A berth web edge over `data_dir`, with its store in a file there when
/// `db` is given (so a second one on the same directory is a restart),
/// else in memory; `ops` may adjust the operations (the throttle window).
async fn web_with(
    data_dir: &std::path::Path,
    db: Option<&str>,
    adjust: impl FnOnce(&mut Config),
    ops: impl FnOnce(Ops) -> Ops,
) -> Web {
    let mut config = Config {
        data_dir: data_dir.to_owned(),
        blueprint_dir: Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("templates")),
        ..Config::default()
    };
    adjust(&mut config);
    let blueprints = Arc::new(Blueprints::load_dir(&config.blueprint_dir()).unwrap());
    let store = match db {
        Some(name) => Store::open(&data_dir.join(name)).unwrap(),
        None => Store::open_in_memory().unwrap(),
    };
    let listen = config.listen;
    let ops = ops(Ops::new(
        store.clone(),
        Arc::new(config),
        blueprints,
        Arc::default(),
    ));
    let state = AppState::new(ops.clone(), Arc::default()).await.unwrap();
    Web {
        app: router(state, listen),
        ops,
        store,
        _dir: None,
    }
}

/// Plan "p" and a static-site client on it, created as the CLI would.
async fn seed_client(
    ops: &crate::ops::Ops,
    name: impl Into<String>,
    notes: impl Into<String>,
) -> crate::ops::ClientView {
    let plan = PlanInput {
        name: "p".into(),
        cpus: 0.5,
        memory: crate::domain::size::SizeInput::Text("64MiB".into()),
        memory_reservation: None,
        storage: None,
        max_instances: None,
        approval: Default::default(),
        portal_restore: false,
        blueprints: None,
        image_tag: None,
    };
    ops.create_plan(&Actor::cli(), plan).await.unwrap();
    let input = NewClientInput {
        name: name.into(),
        email: "a@example.com".into(),
        plan: "p".into(),
        notes: notes.into(),
        blueprint: Some("static-site".into()),
        domain: None,
        env: None,
    };
    ops.create_client(&Actor::cli(), input).await.unwrap()
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Answer {
    fn location(&self) -> &str {
        self.headers
            .get(header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// The session cookie this answer set, as `name=value`.
    fn cookie(&self) -> Option<String> {
        self.cookie_named("berth_session")
    }

    /// The double-submit CSRF cookie of the sign-in and setup forms.
    fn csrf_cookie(&self) -> Option<String> {
        self.cookie_named("berth_csrf")
    }

    fn cookie_named(&self, name: &str) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with(&format!("{name}=")))
            .map(|v| v.split(';').next().unwrap().to_owned())
    }

    fn csrf(&self) -> String {
        self.body
            .split("name=\"_csrf\" value=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .expect("a CSRF field")
            .to_owned()
    }
}

const FORM: &str = "application/x-www-form-urlencoded";
const LOCAL: [u8; 4] = [127, 0, 0, 1];

/// A request as the router sees it arrive from `peer` (port 40000).
fn request(
    method: Method,
    path: &str,
    headers: &[(&str, &str)],
    body: String,
    peer: [u8; 4],
) -> Request<Body> {
    let mut req = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut req = req.body(Body::from(body)).unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((peer, 40000))));
    req
}

impl Web {
    async fn send(
        &self,
        method: Method,
        path: &str,
        cookie: Option<&str>,
        form: Option<&str>,
    ) -> Answer {
        self.send_with(method, path, cookie, form, &[]).await
    }

    /// [`Web::send`] with extra headers (Host, Origin, forwarding).
    async fn send_with(
        &self,
        method: Method,
        path: &str,
        cookie: Option<&str>,
        form: Option<&str>,
        headers: &[(&str, &str)],
    ) -> Answer {
        let mut all = headers.to_vec();
        if let Some(c) = cookie {
            all.push(("cookie", c));
        }
        if form.is_some() {
            all.push(("content-type", FORM));
        }
        let req = request(method, path, &all, form.unwrap_or("").to_owned(), LOCAL);
        let res = self.app.clone().oneshot(req).await.unwrap();
        let (status, headers) = (res.status(), res.headers().clone());
        let bytes = axum::body::to_bytes(res.into_body(), 10 << 20)
            .await
            .unwrap();
        Answer {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn get(&self, path: &str, cookie: &str) -> Answer {
        self.send(Method::GET, path, Some(cookie), None).await
    }

    /// Signs in; returns (cookie, csrf token).
    async fn sign_in(&self, name: &str, password: &str) -> (String, String) {
        let login = self.send(Method::GET, "/login", None, None).await;
        let cookie = login.csrf_cookie().expect("a CSRF cookie for the form");
        let form = format!("_csrf={}&name={name}&password={password}", login.csrf());
        let res = self
            .send(Method::POST, "/login", Some(&cookie), Some(&form))
            .await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        let cookie = res.cookie().expect("a new session id after sign-in");
        let home = self.get("/", &cookie).await;
        assert_eq!(home.status, StatusCode::OK);
        (cookie, home.csrf())
    }

    /// Creates the user "admin" with the password "correct-horse-1".
    async fn add_admin(&self) {
        self.ops
            .create_user(&Actor::cli(), "admin", "correct-horse-1")
            .await
            .unwrap();
    }

    /// [`Web::add_admin`] and signs in.
    async fn admin(&self) -> (String, String) {
        self.add_admin().await;
        self.sign_in("admin", "correct-horse-1").await
    }
}

fn concrete(path: &str) -> String {
    path.replace("{slug}", "x")
        .replace("{id}", "1")
        .replace("{name}", "x")
        .replace("{file}", "berth.css")
        .replace("{token}", "x")
}

#[tokio::test]
async fn every_route_but_the_public_few_needs_a_session_or_a_token() {
    let w = web(|_| {}).await;
    w.ops
        .create_user(&Actor::cli(), "admin", "correct-horse-1")
        .await
        .unwrap();
    let table = routes::all();
    let mut public: Vec<String> = table
        .iter()
        .filter(|r| r.access == Access::Public)
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    public.sort();
    // A new public route must be added here on purpose.
    assert_eq!(
        public,
        [
            "GET /api/v1/health",
            "GET /assets/{file}",
            "GET /login",
            "GET /setup",
            "POST /login",
            "POST /setup"
        ]
    );
    let mut checked = 0;
    for r in table
        .iter()
        .filter(|r| !matches!(r.access, Access::Public | Access::PortalPublic))
    {
        let form = (r.method != Method::GET).then_some("_csrf=x&confirm=x&name=x");
        let res = w
            .send(r.method.clone(), &concrete(r.path), None, form)
            .await;
        match r.access {
            Access::Token => assert_eq!(
                res.status,
                StatusCode::UNAUTHORIZED,
                "{} {}",
                r.method,
                r.path
            ),
            Access::Session => {
                assert_eq!(res.status, StatusCode::SEE_OTHER, "{} {}", r.method, r.path);
                assert_eq!(res.location(), "/login", "{} {}", r.method, r.path);
            }
            Access::LoopbackOrToken => {
                // From this host it answers; through a proxy it wants a token.
                let proxied = w
                    .send_with(
                        r.method.clone(),
                        &concrete(r.path),
                        None,
                        form,
                        &[("x-forwarded-for", "203.0.113.9")],
                    )
                    .await;
                assert_eq!(
                    proxied.status,
                    StatusCode::UNAUTHORIZED,
                    "{} {}",
                    r.method,
                    r.path
                );
            }
            Access::Portal => {
                assert_eq!(res.status, StatusCode::SEE_OTHER, "{} {}", r.method, r.path);
                assert_eq!(res.location(), "/portal/login", "{} {}", r.method, r.path);
            }
            Access::Public | Access::PortalPublic => unreachable!(),
        }
        checked += 1;
    }
    assert!(checked > 40, "only {checked} protected routes?");
}
