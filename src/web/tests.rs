//! The web edge without Docker: the router over an in-memory store, driven
//! with `tower::ServiceExt::oneshot`. Protection of every route, CSRF, the
//! login throttle, session expiry, escaping and headers.

mod backups;

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
    _dir: tempfile::TempDir,
}

async fn web(adjust: impl FnOnce(&mut Config)) -> Web {
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: dir.path().to_owned(),
        blueprint_dir: Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("templates")),
        ..Config::default()
    };
    adjust(&mut config);
    let blueprints = Arc::new(Blueprints::load_dir(&config.blueprint_dir()).unwrap());
    let ops = Ops::new(
        Store::open_in_memory().unwrap(),
        Arc::new(config),
        blueprints,
        Arc::default(),
    );
    let state = AppState::new(ops.clone(), Arc::default()).await.unwrap();
    Web {
        app: router(state),
        ops,
        _dir: dir,
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

    fn cookie(&self) -> Option<String> {
        self.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("berth_session="))
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

impl Web {
    async fn send(
        &self,
        method: Method,
        path: &str,
        cookie: Option<&str>,
        form: Option<&str>,
    ) -> Answer {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(c) = cookie {
            req = req.header(header::COOKIE, c);
        }
        if form.is_some() {
            req = req.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let mut req = req.body(Body::from(form.unwrap_or("").to_owned())).unwrap();
        req.extensions_mut()
            .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
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
        let cookie = login
            .cookie()
            .expect("an anonymous session for the CSRF token");
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

    async fn admin(&self) -> (String, String) {
        self.ops
            .create_user(&Actor::cli(), "admin", "correct-horse-1")
            .await
            .unwrap();
        self.sign_in("admin", "correct-horse-1").await
    }
}

fn concrete(path: &str) -> String {
    path.replace("{slug}", "x")
        .replace("{id}", "1")
        .replace("{name}", "x")
        .replace("{file}", "berth.css")
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
    for r in table.iter().filter(|r| r.access != Access::Public) {
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
            Access::Public => unreachable!(),
        }
        checked += 1;
    }
    assert!(checked > 40, "only {checked} protected routes?");
}

#[tokio::test]
async fn state_changes_need_the_sessions_csrf_token() {
    let w = web(|_| {}).await;
    let (cookie, csrf) = w.admin().await;
    let form = "name=tiny&cpus=0.5&memory=64MiB";
    for bad in [form.to_owned(), format!("_csrf=wrong{}&{form}", &csrf[5..])] {
        let res = w
            .send(Method::POST, "/plans", Some(&cookie), Some(&bad))
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        assert!(
            w.ops.list_plans().await.unwrap().is_empty(),
            "nothing may change"
        );
    }
    let res = w
        .send(
            Method::POST,
            "/plans",
            Some(&cookie),
            Some(&format!("_csrf={csrf}&{form}")),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(w.ops.list_plans().await.unwrap().len(), 1);
    // The token of another session does not work either.
    w.ops
        .create_user(&Actor::cli(), "other", "correct-horse-2")
        .await
        .unwrap();
    let (_, other_csrf) = w.sign_in("other", "correct-horse-2").await;
    let res = w
        .send(
            Method::POST,
            "/plans/tiny/delete",
            Some(&cookie),
            Some(&format!("_csrf={other_csrf}")),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(w.ops.list_plans().await.unwrap().len(), 1);
}

#[tokio::test]
async fn logins_are_throttled_after_five_failures() {
    let w = web(|_| {}).await;
    w.ops
        .create_user(&Actor::cli(), "admin", "correct-horse-1")
        .await
        .unwrap();
    let login = w.send(Method::GET, "/login", None, None).await;
    let cookie = login.cookie().unwrap();
    let attempt = |password: &'static str| {
        let form = format!("_csrf={}&name=admin&password={password}", login.csrf());
        let (w, cookie) = (&w, cookie.clone());
        async move {
            w.send(Method::POST, "/login", Some(&cookie), Some(&form))
                .await
        }
    };
    for _ in 0..5 {
        let res = attempt("wrong-password").await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert!(res.body.contains("wrong name or password"));
    }
    let res = attempt("correct-horse-1").await;
    assert_eq!(
        res.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(
        res.body.contains("too many failed sign-ins"),
        "{}",
        res.body
    );
    let failed = w
        .ops
        .query_audit(crate::store::AuditFilter {
            action: Some("user.login-failed".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(failed.len(), 5);
    assert_eq!(failed[0].ip.as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn idle_sessions_expire() {
    let w = web(|c| c.web.session_idle = Duration::from_secs(1)).await;
    let (cookie, _) = w.admin().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let res = w.get("/clients", &cookie).await;
        if res.status == StatusCode::SEE_OTHER && res.location() == "/login" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "session still valid after 15 s idle"
        );
        // Waiting for expiry is the point; polling would keep the session alive.
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
}

#[tokio::test]
async fn a_password_reset_ends_the_accounts_sessions() {
    let w = web(|_| {}).await;
    let (cookie, _) = w.admin().await;
    w.ops
        .reset_password(&Actor::cli(), "admin", "correct-horse-9")
        .await
        .unwrap();
    let res = w.get("/", &cookie).await;
    assert_eq!(res.location(), "/login");
}

#[tokio::test]
async fn markup_in_client_names_is_shown_as_text_and_headers_are_set() {
    let w = web(|_| {}).await;
    let (cookie, _) = w.admin().await;
    let view = seed_client(
        &w.ops,
        "<script>alert(1)</script> & \"Co\"",
        "<img src=x onerror=alert(2)>",
    )
    .await;
    for path in [
        "/clients".to_owned(),
        format!("/clients/{}", view.client.slug),
        "/audit".to_owned(),
        "/".to_owned(),
    ] {
        let res = w.get(&path, &cookie).await;
        assert_eq!(res.status, StatusCode::OK, "{path}");
        assert!(
            !res.body.contains("<script>alert"),
            "{path} renders raw markup"
        );
        assert!(
            !res.body.contains("<img src=x"),
            "{path} renders raw markup"
        );
        let csp = res
            .headers
            .get(header::CONTENT_SECURITY_POLICY)
            .unwrap()
            .to_str()
            .unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert_eq!(
            res.headers.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(),
            "nosniff"
        );
    }
    let detail = w
        .get(&format!("/clients/{}", view.client.slug), &cookie)
        .await;
    assert!(
        detail
            .body
            .contains("<h1>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot;"),
        "{}",
        detail.body
    );
}

#[tokio::test]
async fn setup_creates_the_first_admin_once() {
    let w = web(|_| {}).await;
    assert_eq!(
        w.send(Method::GET, "/login", None, None).await.location(),
        "/setup"
    );
    let setup = w.send(Method::GET, "/setup", None, None).await;
    let cookie = setup.cookie().unwrap();
    let form = format!("_csrf={}&name=first&password=long-enough-1", setup.csrf());
    let res = w
        .send(Method::POST, "/setup", Some(&cookie), Some(&form))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(w.ops.user_count().await.unwrap(), 1);
    let set_cookie = res
        .headers
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"),
        "{set_cookie}"
    );
    // Once an account exists the page is gone, and a second POST changes nothing.
    assert_eq!(
        w.send(Method::GET, "/setup", None, None).await.location(),
        "/login"
    );
    let again = w.send(Method::GET, "/login", None, None).await;
    let (cookie, csrf) = (again.cookie().unwrap(), again.csrf());
    let res = w
        .send(
            Method::POST,
            "/setup",
            Some(&cookie),
            Some(&format!("_csrf={csrf}&name=second&password=long-enough-2")),
        )
        .await;
    assert_ne!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(w.ops.user_count().await.unwrap(), 1);
}

#[tokio::test]
async fn setup_from_elsewhere_needs_the_code() {
    let w = web(|_| {}).await;
    let setup = w.send(Method::GET, "/setup", None, None).await;
    let cookie = setup.cookie().unwrap();
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/setup")
        .header(header::COOKIE, &cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("x-forwarded-for", "203.0.113.9")
        .body(Body::from(format!(
            "_csrf={}&name=first&password=long-enough-1&code=nope",
            setup.csrf()
        )))
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    let res = w.app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(w.ops.user_count().await.unwrap(), 0);
}
