//! LLM keys through the whole daemon (real Docker and Caddy, the fake
//! OpenRouter): the plan's LLM settings, a client's key appearing, its
//! spend on `/metrics` and the overview, rotation, the budget override,
//! and the confirmed delete listing the deleted key in its report. No
//! answer carries a key's plaintext.

use std::time::Duration;

use berth::config::ManagementKey;
use berth::domain::LlmProvider;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{berth_cli, eventually, unique, LlmFake, TestApp};

async fn key_of(app: &TestApp, slug: &str, status: &str) -> Value {
    eventually(
        &format!("{slug}'s llm key is {status}"),
        Duration::from_secs(30),
        || async {
            let (code, body) = app.get(&format!("/api/v1/clients/{slug}/llm")).await;
            assert_eq!(code, StatusCode::OK, "{body}");
            (body["status"] == status && body["sync"] == "ok").then_some(body)
        },
    )
    .await
}

fn assert_hidden(fake: &LlmFake, body: &Value) {
    let text = body.to_string();
    for key in fake.keys() {
        assert!(!text.contains(&key.key), "plaintext in {text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_follow_the_client_through_the_api() {
    let fake = LlmFake::start().await;
    let (url, mgmt) = (fake.openrouter_url(), fake.management_key.clone());
    let app = TestApp::spawn_with(move |c| {
        c.llm.provider = Some(LlmProvider::OpenRouter);
        c.llm.base_url = url;
        c.llm.management_key = Some(ManagementKey::new(mgmt));
        c.llm.poll_interval = Duration::from_secs(1);
        c.llm.timeout = Duration::from_secs(2);
    })
    .await;
    let plan = unique("ai");
    app.create_plan(&plan, 0.25, "64MiB").await;
    let body = app.enable_llm(&plan, 20.0).await;
    assert_eq!(body["limit_usd"], 20.0);
    let (code, body) = app
        .call(
            reqwest::Method::PUT,
            &format!("/api/v1/plans/{plan}/llm"),
            Some(json!({ "enabled": true, "limit_usd": -1 })),
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let client = app.create_client(&unique("chat"), &plan).await;
    let slug = client["slug"].as_str().unwrap().to_owned();
    let key = key_of(&app, &slug, "active").await;
    let label = key["label"].as_str().unwrap().to_owned();
    assert_eq!(fake.key_named(&label).unwrap().limit, Some(20.0));
    assert_hidden(&fake, &key);

    // Spend reaches the API, /metrics and the overview.
    fake.set_usage(&label, 4.0, 3.5);
    eventually("spend polled", Duration::from_secs(20), || async {
        let (_, body) = app.get(&format!("/api/v1/clients/{slug}/llm")).await;
        (body["usage_monthly_usd"] == 3.5).then_some(())
    })
    .await;
    let metrics = app.get_text("/metrics").await;
    assert!(
        metrics.contains(&format!("berth_llm_spend_usd{{client=\"{slug}\"}} 3.5"))
            && metrics.contains(&format!("berth_llm_limit_usd{{client=\"{slug}\"}} 20")),
        "{metrics}"
    );
    let (code, overview) = app.get("/api/v1/llm/overview").await;
    assert_eq!(code, StatusCode::OK);
    assert_eq!(overview["credits_left"], 100.0, "{overview}");

    // The client's own budget, then rotation.
    let (code, body) = app
        .patch(
            &format!("/api/v1/clients/{slug}/llm"),
            json!({ "limit_usd": 5 }),
        )
        .await;
    assert_eq!(
        (code, &body["budget_source"]),
        (StatusCode::OK, &json!("client")),
        "{body}"
    );
    eventually("limit patched", Duration::from_secs(20), || async {
        (fake.key_named(&label).unwrap().limit == Some(5.0)).then_some(())
    })
    .await;
    let (code, body) = app
        .patch(
            &format!("/api/v1/clients/{slug}/llm"),
            json!({ "limit": 5 }),
        )
        .await;
    assert_eq!(code, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let (code, body) = app
        .post(&format!("/api/v1/clients/{slug}/llm/rotate"), json!({}))
        .await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    let rotated = eventually("rotated", Duration::from_secs(30), || async {
        let (_, body) = app.get(&format!("/api/v1/clients/{slug}/llm")).await;
        (body["label"] != label.as_str()
            && body["sync"] == "ok"
            && !body["rotating"].as_bool().unwrap())
        .then_some(body)
    })
    .await;
    assert_eq!(fake.keys().len(), 1);
    assert!(fake.key_named(&label).is_none(), "the old key is deleted");
    assert_hidden(&fake, &rotated);

    // The confirmed delete waits for the key and lists it.
    let new_label = rotated["label"].as_str().unwrap().to_owned();
    let report = app
        .delete_and_follow(
            &format!("/api/v1/clients/{slug}"),
            json!({ "confirm": slug }),
        )
        .await;
    assert!(fake.keys().is_empty());
    // Erased: the labels name the client by its pseudonym, not its slug.
    let erased = format!("/erased:{}/", report["deletion_id"]);
    let pseudonym = |l: &str| json!(l.replace(&format!("/{slug}/"), &erased));
    let deleted = report["llm_keys_deleted"].as_array().unwrap();
    assert!(
        deleted.contains(&pseudonym(&label)) && deleted.contains(&pseudonym(&new_label)),
        "{report}"
    );
    assert!(!report.to_string().contains(&slug), "{report}");
    let (code, _) = app.get(&format!("/api/v1/clients/{slug}/llm")).await;
    assert_eq!(code, StatusCode::NOT_FOUND);
}

/// `berth llm`: a plan's LLM settings, status and budget on the store, and
/// one-line refusals (rotation needs a provider) with their exit codes.
#[test]
fn the_cli_sets_budgets_and_refuses_rotation_without_a_provider() {
    let dir = tempfile::tempdir().unwrap();
    let config = berth::config::Config {
        data_dir: dir.path().join("data"),
        blueprint_dir: Some(std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("templates")),
        ..Default::default()
    };
    let ok = |args: &[&str]| {
        let (code, out, err) = berth_cli(&config, args);
        assert_eq!(code, 0, "{args:?}: {err}");
        out
    };
    ok(&[
        "plan", "create", "small", "--cpus", "0.5", "--memory", "64MiB",
    ]);
    ok(&[
        "client",
        "create",
        "Acme",
        "--email",
        "a@b.example",
        "--plan",
        "small",
        "--blueprint",
        "static-site",
    ]);
    let out = ok(&[
        "llm",
        "plan",
        "small",
        "--on",
        "--limit-usd",
        "20",
        "--reset",
        "monthly",
    ]);
    assert_eq!(out.trim(), "Plan small: an LLM key, limit $20.00 monthly.");
    let out = ok(&["llm", "status"]);
    assert!(
        out.lines()
            .any(|l| l.starts_with("acme") && l.contains("off") && l.contains("$20.00 monthly")),
        "{out}"
    );
    let out = ok(&["llm", "budget", "acme", "--limit-usd", "5"]);
    assert_eq!(
        out.trim(),
        "acme's LLM budget: $5.00 in total (from the client)"
    );
    let shown: Value = serde_json::from_str(&ok(&["--json", "llm", "status", "acme"])).unwrap();
    assert_eq!(
        (
            shown["budget"]["limit_usd"].as_f64(),
            shown["sync"].as_str()
        ),
        (Some(5.0), Some("off"))
    );

    let (code, _, err) = berth_cli(&config, &["llm", "rotate", "acme"]);
    assert_eq!(code, 1);
    assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    assert!(err.contains("no LLM provider"), "{err}");
    let (code, _, err) = berth_cli(&config, &["llm", "plan", "small"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = berth_cli(&config, &["llm", "budget", "acme", "--limit-usd", "-3"]);
    assert_ne!(code, 0, "{err}");
    let (code, _, err) = berth_cli(&config, &["llm", "status", "ghost"]);
    assert_eq!(code, 1, "{err}");
}
