//! LLM spend where a provider looks (real daemon, Docker, Caddy and the
//! fake OpenRouter): the client page, usage page, dashboard and portal show
//! spend against budget and never the key; warnings at 80 % and 100 % reach
//! the API, the audit log and the failure webhook once per period; the
//! billing export and `berth usage show` carry the month's LLM USD.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use berth::audit::Actor;
use berth::config::ManagementKey;
use berth::domain::{ClientRole, LinkKind, LlmProvider};
use berth::ops::NewClientUserInput;
use reqwest::{header, StatusCode};
use serde_json::{json, Value};

use crate::harness::{berth_cli, eventually, unique, LlmFake, TestApp};
use crate::ui::UiSession;

const POLLED: Duration = Duration::from_secs(30);

/// A berth on the fake OpenRouter, polling every second; `hook` is the
/// failure webhook.
async fn spawn(fake: &LlmFake, hook: Option<String>) -> TestApp {
    let (url, mgmt) = (fake.openrouter_url(), fake.management_key.clone());
    TestApp::spawn_with(move |c| {
        c.llm.provider = Some(LlmProvider::OpenRouter);
        c.llm.base_url = url;
        c.llm.management_key = Some(ManagementKey::new(mgmt));
        c.llm.poll_interval = Duration::from_secs(1);
        c.llm.timeout = Duration::from_secs(2);
        c.backup.failure_webhook = hook;
    })
    .await
}

/// A plan with a 10 USD monthly LLM budget and a client on it (no
/// instance); the client's slug and its key's label once the key is active.
async fn client_with_key(app: &TestApp) -> (String, String) {
    let plan = unique("ai");
    app.create_plan(&plan, 0.25, "64MiB").await;
    app.enable_llm(&plan, 10.0).await;
    let (code, body) = app
        .post(
            "/api/v1/clients",
            json!({ "name": unique("chat"), "email": "ops@example.com", "plan": plan }),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    let slug = body["slug"].as_str().unwrap().to_owned();
    let key = eventually("the key is active", POLLED, || async {
        let (_, body) = app.get(&format!("/api/v1/clients/{slug}/llm")).await;
        (body["status"] == "active" && body["sync"] == "ok").then_some(body)
    })
    .await;
    (slug, key["label"].as_str().unwrap().to_owned())
}

/// Sets the key's spend at the fake and waits until berth polled it.
async fn spend(app: &TestApp, fake: &LlmFake, slug: &str, label: &str, usd: f64) -> Value {
    fake.set_usage(label, usd, usd);
    eventually(&format!("{usd} USD polled"), POLLED, || async {
        let (_, body) = app.get(&format!("/api/v1/clients/{slug}/llm")).await;
        (body["usage_monthly_usd"] == usd).then_some(body)
    })
    .await
}

fn assert_no_key(fake: &LlmFake, what: &str, text: &str) {
    for k in fake.keys() {
        assert!(!text.contains(&k.key), "{what} shows a plaintext key");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_show_spend_against_budget_and_never_the_key() {
    let fake = LlmFake::start().await;
    fake.set_credits(100.0, 37.5);
    let app = spawn(&fake, None).await;
    let (slug, label) = client_with_key(&app).await;
    spend(&app, &fake, &slug, &label, 8.5).await;
    app.ops()
        .create_user(&Actor::cli(), "admin", "correct-horse-1")
        .await
        .unwrap();
    let ui = UiSession::sign_in(&app, "admin", "correct-horse-1").await;

    let (code, page) = ui.get(&format!("/clients/{slug}")).await;
    assert_eq!(code, StatusCode::OK);
    for text in [
        "LLM key",
        &label,
        "10.00 USD monthly",
        "8.50 USD",
        "over 80 % of its limit",
        "Rotate key",
        "Budget override",
    ] {
        assert!(page.contains(text), "client page lacks {text:?}");
    }
    assert_no_key(&fake, "the client page", &page);

    let (code, page) = ui.get(&format!("/usage/clients/{slug}")).await;
    assert_eq!(code, StatusCode::OK);
    assert!(
        page.contains("LLM spend") && page.contains("8.50 USD"),
        "usage page"
    );
    assert!(page.contains("<svg"), "usage page has no chart");
    assert_no_key(&fake, "the usage page", &page);

    let (code, page) = eventually("credits polled", POLLED, || async {
        let got = ui.get("/").await;
        got.1.contains("62.50 USD").then_some(got)
    })
    .await;
    assert_eq!(code, StatusCode::OK);
    for text in [
        "Provider credits left",
        "data-llm-near",
        "data-llm-top",
        slug.as_str(),
    ] {
        assert!(page.contains(text), "dashboard lacks {text:?}");
    }
    assert_no_key(&fake, "the dashboard", &page);

    // The budget form and the rotate button go through ops.
    let code = ui
        .post(
            &format!("/clients/{slug}/llm/budget"),
            "limit_usd=20&limit_reset=monthly",
        )
        .await;
    assert_eq!(code, StatusCode::SEE_OTHER);
    eventually("limit patched", POLLED, || async {
        (fake.key_named(&label).unwrap().limit == Some(20.0)).then_some(())
    })
    .await;
    let code = ui
        .post(
            &format!("/clients/{slug}/llm/budget"),
            "limit_usd=lots&limit_reset=monthly",
        )
        .await;
    assert_eq!(
        code,
        StatusCode::SEE_OTHER,
        "bad input is a flash, not a 500"
    );
    let code = ui.post(&format!("/clients/{slug}/llm/rotate"), "").await;
    assert_eq!(code, StatusCode::SEE_OTHER);
    eventually("rotated", POLLED, || async {
        let (_, body) = app.get(&format!("/api/v1/clients/{slug}/llm")).await;
        (body["label"] != label.as_str() && body["status"] == "active").then_some(())
    })
    .await;

    // The portal: the client's own spend against its budget, read-only.
    let portal = portal_page(&app, &slug, "/portal/usage").await;
    assert!(
        portal.contains("LLM spend") && portal.contains("20.00 USD monthly"),
        "portal usage"
    );
    assert!(!portal.contains("Rotate key") && !portal.contains("Budget override"));
    assert!(!portal.contains(&label), "the portal shows no key label");
    assert_no_key(&fake, "the portal", &portal);
}

/// Signs a new owner of `slug` into the portal and reads `path`.
async fn portal_page(app: &TestApp, slug: &str, path: &str) -> String {
    let ops = app.ops();
    let email = format!("{}@example.com", unique("owner"));
    let input = NewClientUserInput {
        email: email.clone(),
        name: String::new(),
        role: Some(ClientRole::Owner),
    };
    let invitation = ops
        .add_client_user(&Actor::cli(), slug, input)
        .await
        .unwrap();
    let token = invitation.link.rsplit('/').next().unwrap();
    ops.use_portal_link(LinkKind::Invite, token, "portal-pass-1", "127.0.0.1")
        .await
        .unwrap();
    let http = berth::tls::client_builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let form = http
        .get(format!("{}/portal/login", app.api))
        .send()
        .await
        .unwrap();
    let csrf_cookie = form
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("berth_csrf="))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .unwrap();
    let csrf = crate::ui::csrf_of(&form.text().await.unwrap());
    let res = http
        .post(format!("{}/portal/login", app.api))
        .header(header::COOKIE, &csrf_cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(format!("_csrf={csrf}&email={email}&password=portal-pass-1"))
        .send()
        .await
        .unwrap();
    let portal_cookie = res
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("berth_portal="))
        .map(|c| c.split(';').next().unwrap().to_owned())
        .expect("signed in to the portal");
    let res = http
        .get(format!("{}{path}", app.api))
        .header(header::COOKIE, portal_cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.text().await.unwrap()
}

/// A local webhook receiver: answers 200 and keeps each JSON body.
async fn receiver() -> (String, Arc<Mutex<Vec<Value>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let kept = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let kept = kept.clone();
            async move {
                kept.lock().unwrap().push(body);
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

fn spend_hooks(got: &Mutex<Vec<Value>>) -> Vec<Value> {
    got.lock()
        .unwrap()
        .iter()
        .filter(|b| b["event"] == "llm_spend_warning")
        .cloned()
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warnings_at_80_and_100_percent_are_sent_once_per_period() {
    let fake = LlmFake::start().await;
    let (hook, got) = receiver().await;
    let app = spawn(&fake, Some(hook)).await;
    let (slug, label) = client_with_key(&app).await;

    let body = spend(&app, &fake, &slug, &label, 5.0).await;
    assert_eq!(body["warning"], Value::Null);
    let body = spend(&app, &fake, &slug, &label, 8.5).await;
    assert_eq!(body["warning"], "near_limit", "{body}");
    let hooks = eventually("the 80 % webhook", POLLED, || async {
        let h = spend_hooks(&got);
        (!h.is_empty()).then_some(h)
    })
    .await;
    assert_eq!(hooks[0]["client"], slug.as_str());
    assert_eq!(hooks[0]["threshold"], 80);
    assert!(hooks[0]["period"].as_str().unwrap().starts_with("month:"));
    // More polls past 80 %: nothing new.
    spend(&app, &fake, &slug, &label, 9.0).await;
    spend(&app, &fake, &slug, &label, 9.1).await;
    assert_eq!(spend_hooks(&got).len(), 1, "{:?}", spend_hooks(&got));

    let body = spend(&app, &fake, &slug, &label, 10.5).await;
    assert_eq!(body["warning"], "limit_reached", "{body}");
    eventually("the 100 % webhook", POLLED, || async {
        (spend_hooks(&got).len() == 2).then_some(())
    })
    .await;
    spend(&app, &fake, &slug, &label, 11.0).await;
    spend(&app, &fake, &slug, &label, 12.0).await;
    let hooks = spend_hooks(&got);
    assert_eq!(hooks.len(), 2, "{hooks:?}");
    assert_eq!(hooks[1]["threshold"], 100);
    assert_no_key(&fake, "the webhook", &Value::Array(hooks).to_string());

    let audit = app
        .ops()
        .query_audit(berth::store::AuditFilter {
            action: Some("llm.spend_warning".into()),
            client_slug: Some(slug.clone()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 2, "{audit:?}");
    assert!(audit.iter().all(|e| e.actor == "system"), "{audit:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_billing_export_and_usage_show_carry_the_months_llm_spend() {
    let fake = LlmFake::start().await;
    let app = spawn(&fake, None).await;
    let (slug, label) = client_with_key(&app).await;
    spend(&app, &fake, &slug, &label, 1.25).await;
    spend(&app, &fake, &slug, &label, 3.5).await;

    let now = time::OffsetDateTime::now_utc();
    let month = format!("{:04}-{:02}", now.year(), u8::from(now.month()));
    let (code, out, err) = berth_cli(&app.config, &["usage", "export", "--month", &month]);
    assert_eq!(code, 0, "{err}");
    let header = out.lines().next().unwrap();
    assert!(header.ends_with(",llm_usd"), "{header}");
    let line = out
        .lines()
        .find(|l| l.split(',').nth(1) == Some(slug.as_str()))
        .unwrap_or_else(|| panic!("no line for {slug}: {out}"));
    assert_eq!(line.rsplit(',').next(), Some("3.500000"), "{line}");

    let (code, out, err) = berth_cli(&app.config, &["usage", "show", &slug]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("llm spend: 3.50 USD of 10.00 USD monthly"),
        "{out}"
    );
    assert_no_key(&fake, "usage show", &out);
}
