//! The portal over real HTTP (berth's web edge on a loopback port, no
//! Docker): the provider adds a user, the invitation arrives by mail (the
//! harness's SMTP server), the user follows it, sets a password and is
//! signed in; suspending the client signs them out on their next request,
//! resuming lets them sign in again.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use berth::audit::Actor;
use berth::config::{Config, SmtpConfig, SmtpTls};
use berth::domain::size::SizeInput;
use berth::domain::{ClientRole, ClientStatus};
use berth::ops::{NewClientInput, NewClientUserInput, Ops, PlanInput};
use reqwest::{header, StatusCode};

use crate::harness::SmtpServer;

const PASSWORD: &str = "portal-pass-1";

/// A browser without a cookie jar: the test carries cookies by hand.
struct Browser {
    http: reqwest::Client,
    base: String,
}

#[derive(Debug)]
struct Page {
    status: StatusCode,
    location: String,
    cookies: Vec<String>,
    body: String,
}

impl Page {
    fn cookie(&self, name: &str) -> Option<String> {
        self.cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(|c| c.split(';').next().unwrap().to_owned())
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

impl Browser {
    async fn send(&self, post: Option<&str>, path: &str, cookies: &[&str]) -> Page {
        let url = format!("{}{path}", self.base);
        let mut req = match post {
            Some(form) => self
                .http
                .post(url)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(form.to_owned()),
            None => self.http.get(url),
        };
        if !cookies.is_empty() {
            req = req.header(header::COOKIE, cookies.join("; "));
        }
        let res = req.send().await.expect("berth answers");
        let header = |name| {
            res.headers()
                .get_all(name)
                .iter()
                .filter_map(|v| v.to_str().ok().map(str::to_owned))
                .collect::<Vec<_>>()
        };
        let (location, cookies) = (
            header(header::LOCATION).concat(),
            header(header::SET_COOKIE),
        );
        Page {
            status: res.status(),
            location,
            cookies,
            body: res.text().await.unwrap_or_default(),
        }
    }

    /// Signs in with the login form; the portal cookie.
    async fn sign_in(&self, email: &str) -> Result<String, Page> {
        let form = self.send(None, "/portal/login", &[]).await;
        let csrf_cookie = form.cookie("berth_csrf").unwrap();
        let body = format!("_csrf={}&email={email}&password={PASSWORD}", form.csrf());
        let res = self
            .send(Some(&body), "/portal/login", &[&csrf_cookie])
            .await;
        match res.cookie("berth_portal") {
            Some(c) if res.location == "/portal" => Ok(c),
            _ => Err(res),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invited_by_mail_signed_in_suspended_out_resumed_in() {
    let smtp = SmtpServer::start();
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let listen = listener.local_addr().unwrap();
    let mut config = Config {
        listen,
        data_dir: dir.path().join("data"),
        blueprint_dir: Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("templates")),
        ..Config::default()
    };
    config.smtp = Some(SmtpConfig {
        host: "127.0.0.1".into(),
        port: Some(smtp.port),
        username: None,
        password: None,
        password_file: None,
        from: "noreply@example.com".into(),
        tls: SmtpTls::None,
    });
    let ops = Ops::open(&config).unwrap();
    let plan = PlanInput {
        name: "p".into(),
        cpus: 0.5,
        memory: SizeInput::Text("64MiB".into()),
        memory_reservation: None,
        storage: None,
        max_instances: None,
        approval: Default::default(),
        portal_restore: false,
        blueprints: None,
        image_tag: None,
    };
    ops.create_plan(&Actor::cli(), plan).await.unwrap();
    let client = NewClientInput {
        name: "Acme".into(),
        email: "ops@acme.example".into(),
        plan: "p".into(),
        notes: String::new(),
        blueprint: Some("static-site".into()),
        domain: None,
        env: None,
    };
    ops.create_client(&Actor::cli(), client).await.unwrap();
    let state = berth::web::AppState::new(ops.clone(), Arc::default())
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(berth::web::serve(listener, state, async {
        let _ = stopped.await;
    }));
    let browser = Browser {
        http: berth::tls::client_builder()
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        base: format!("http://{listen}"),
    };

    let input = NewClientUserInput {
        email: "ada@acme.example".into(),
        name: "Ada".into(),
        role: Some(ClientRole::Owner),
    };
    let inv = ops
        .add_client_user(&Actor::cli(), "acme", input)
        .await
        .unwrap();
    assert!(inv.mailed, "{inv:?}");
    let (mail, _smtp) =
        tokio::task::spawn_blocking(move || (smtp.next_message(Duration::from_secs(20)), smtp))
            .await
            .unwrap();
    let text = mail.text();
    let link = text
        .split_whitespace()
        .find(|w| w.contains("/portal/invite/"))
        .unwrap_or_else(|| panic!("a link in {text}"));
    let path = link
        .strip_prefix(&browser.base)
        .expect("a link to this berth");

    let form = browser.send(None, path, &[]).await;
    assert_eq!(form.status, StatusCode::OK, "{}", form.body);
    assert!(form.body.contains("ada@acme.example"));
    let csrf_cookie = form.cookie("berth_csrf").unwrap();
    let body = format!(
        "_csrf={}&password={PASSWORD}&confirm={PASSWORD}",
        form.csrf()
    );
    let set = browser.send(Some(&body), path, &[&csrf_cookie]).await;
    assert_eq!(
        (set.status, set.location.as_str()),
        (StatusCode::SEE_OTHER, "/portal")
    );
    let portal = set.cookie("berth_portal").expect("signed in");
    let home = browser.send(None, "/portal", &[&portal]).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(
        home.body.contains("Acme") && home.body.contains("Ada"),
        "{}",
        home.body
    );

    ops.set_client_status(&Actor::cli(), "acme", ClientStatus::Suspended)
        .await
        .unwrap();
    let out = browser.send(None, "/portal", &[&portal]).await;
    assert_eq!(out.location, "/portal/login?ended=1");
    let refused = browser.sign_in("ada@acme.example").await.unwrap_err();
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.body.contains("suspended"), "{}", refused.body);

    ops.set_client_status(&Actor::cli(), "acme", ClientStatus::Active)
        .await
        .unwrap();
    let again = browser
        .sign_in("ada@acme.example")
        .await
        .expect("signed in again");
    assert_ne!(again, portal, "a fresh session id");
    let home = browser.send(None, "/portal", &[&again]).await;
    assert_eq!(home.status, StatusCode::OK);

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
