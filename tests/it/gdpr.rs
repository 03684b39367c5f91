//! GDPR export: the document holds every category berth keeps about a
//! client and no secret; the bundle streams it with the backup archives.
//! The client set up here (secrets, backups, usage, a portal user) is also
//! what `erasure` erases.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use berth::domain::rollup::{Bucket, Sample, Tier};
use berth::store::metrics;

use crate::harness::{berth_cli, eventually, TestApp};

pub(crate) const UP: Duration = Duration::from_secs(60);
const API_TOKEN: &str = "tok-5fd1c0e7a9b24d31";

/// A berth whose blueprints include `secret-site`: the static site with a
/// generated secret, as the Open WebUI blueprint has (too big to run here).
/// The sampler is slowed down so the test alone decides the usage rows.
pub(crate) async fn spawn() -> TestApp {
    TestApp::spawn_with(|c| {
        let dir = c.blueprint_dir.clone().unwrap();
        let site = std::fs::read_to_string(dir.join("static-site.toml")).unwrap();
        let with_secret = format!("{site}\n[secrets]\nAPP_SECRET = 40\n");
        std::fs::write(dir.join("secret-site.toml"), with_secret).unwrap();
        c.metrics.interval = Duration::from_secs(3600);
        c.metrics.disk_interval = Duration::from_secs(3600);
    })
    .await
}

pub(crate) async fn create(app: &TestApp, name: &str, email: &str) -> (i64, i64, String) {
    let (status, body) = app
        .post(
            "/api/v1/clients",
            json!({ "name": name, "email": email, "plan": "p", "blueprint": "secret-site",
                    "env": { "API_TOKEN": API_TOKEN, "SITE_TITLE": "Welcome" } }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let slug = body["slug"].as_str().unwrap().to_owned();
    let (client, instance) = (
        body["id"].as_i64().unwrap(),
        body["instances"][0]["id"].as_i64().unwrap(),
    );
    app.wait_phase(instance, &["running"], UP).await;
    (client, instance, slug)
}

pub(crate) async fn backup(app: &TestApp, instance: i64) -> Value {
    let (status, body) = app
        .post(&format!("/api/v1/instances/{instance}/backups"), json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["id"].as_i64().unwrap();
    let b = eventually("the backup finishes", UP, || async move {
        let (_, b) = app.get(&format!("/api/v1/backups/{id}")).await;
        matches!(b["status"].as_str(), Some("ok" | "failed")).then_some(b)
    })
    .await;
    assert_eq!(b["status"], "ok", "{b}");
    b
}

/// Two raw samples and two hourly rollups of the instance, written the way
/// the sampler and the roll-up write them.
pub(crate) async fn usage(app: &TestApp, client: i64, instance: i64, slug: &str) {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let sample = |ts| Sample {
        instance_id: instance,
        ts,
        secs: 15.0,
        up: true,
        cpu: 0.25,
        mem: 1 << 20,
        mem_limit: 64 << 20,
        disk: 4096,
        rx: 100,
        tx: 200,
        blk_read: 0,
        blk_write: 0,
        pids: 1,
        oom_kills: 0,
        mem_hits: 0,
    };
    let hour = |ts| Bucket {
        ts,
        ..Bucket::from_sample(&sample(ts), 3600)
    };
    let old = (now - 30 * 86400) / 3600 * 3600;
    // Raw samples at or after "now": the daemon's own rollup marks raw
    // time as rolled up to its last pass, so a sample written behind that
    // mark would be read from a tier it never reached.
    let (slug, samples) = (slug.to_owned(), [sample(now), sample(now + 15)]);
    let hours = [hour(old), hour(old + 3600)];
    app.store()
        .call(move |conn| {
            metrics::upsert_subject(conn, instance, client, &slug, "main")?;
            for s in &samples {
                metrics::insert_sample(conn, s)?;
            }
            metrics::write_buckets(conn, Tier::Hourly, &hours)
        })
        .await
        .unwrap();
}

/// An owner with an invitation link, a failed sign-in against their
/// address and an audit entry of their own; returns the link's token.
pub(crate) async fn portal_user(app: &TestApp, slug: &str, email: &str) -> String {
    let (status, invite) = app
        .post(
            &format!("/api/v1/clients/{slug}/users"),
            json!({ "email": email, "role": "owner" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{invite}");
    let token = invite["link"]
        .as_str()
        .unwrap()
        .rsplit('/')
        .next()
        .unwrap()
        .to_owned();
    let actor = berth::audit::Actor::client_user(email, slug, Some("192.0.2.44".into()));
    let (slug, account) = (slug.to_owned(), format!("portal:{email}"));
    app.store()
        .call(move |conn| {
            berth::store::users::record_failure(conn, "192.0.2.45", &account)?;
            berth::audit::record(
                conn,
                &actor,
                "instance.restart",
                &format!("{slug}/main"),
                Some(&slug),
                json!({}),
            )
        })
        .await
        .unwrap();
    token
}

pub(crate) async fn secrets(app: &TestApp, instance: i64) -> Vec<String> {
    let row = app
        .store()
        .call(move |conn| berth::store::instances::get(conn, instance))
        .await
        .unwrap();
    row.secrets.into_inner().into_values().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_export_holds_every_category_and_no_secret() {
    let app = spawn().await;
    app.create_plan("p", 0.25, "32MiB").await;
    let (client, instance, slug) = create(&app, "Exporta Ltd", "dpo@exporta.example").await;
    let taken = backup(&app, instance).await;
    usage(&app, client, instance, &slug).await;
    let link = portal_user(&app, &slug, "boss@exporta.example").await;
    let secrets = secrets(&app, instance).await;
    assert!(!secrets.is_empty() && secrets.iter().all(|s| s.len() == 40));

    let (status, doc) = app.get(&format!("/api/v1/clients/{slug}/export")).await;
    assert_eq!(status, StatusCode::OK, "{doc}");
    let text = doc.to_string();
    for secret in secrets
        .iter()
        .map(String::as_str)
        .chain([API_TOKEN, link.as_str()])
    {
        assert!(!text.contains(secret), "a secret leaked into the export");
    }
    assert_eq!(doc["schema"], "berth.client-export/1");
    assert_eq!(doc["client"]["email"], "dpo@exporta.example");
    assert_eq!(doc["plan"]["name"], "p");
    assert_eq!(doc["users"][0]["email"], "boss@exporta.example", "{doc}");
    assert!(!text.contains("password_hash") && !text.contains("$argon2"));
    let inst = &doc["instances"][0];
    assert_eq!(inst["env"]["API_TOKEN"], "[secret]", "{inst}");
    assert_eq!(inst["env"]["SITE_TITLE"], "Welcome", "{inst}");
    assert_eq!(inst["generated_secrets"], json!(["APP_SECRET"]), "{inst}");
    assert!(
        doc["usage"]["hourly"].as_array().unwrap().len() >= 3,
        "{doc}"
    );
    let billing = doc["usage"]["billing"].as_array().unwrap();
    assert!(!billing.is_empty() && billing.iter().all(|l| l["client_id"] == client));
    assert_eq!(doc["backups"][0]["id"], taken["id"], "{doc}");
    assert!(
        doc["requests"].is_array(),
        "every category, requests too: {doc}"
    );
    assert!(doc["audit"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == "client.create"));

    // The bundle: the document and the backup archive, streamed as a tar.
    let res = app
        .http
        .get(format!(
            "{}/api/v1/clients/{slug}/export?archives=1",
            app.api
        ))
        .bearer_auth(&app.token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = res.bytes().await.unwrap();
    let mut tar = tar::Archive::new(&bytes[..]);
    let names: Vec<String> = tar
        .entries()
        .unwrap()
        .map(|e| e.unwrap().path().unwrap().display().to_string())
        .collect();
    assert_eq!(names[0], "export.json");
    assert!(
        names[1].starts_with("archives/main/") && names[1].ends_with(".tar.zst"),
        "{names:?}"
    );
    let (status, body) = app
        .get(&format!("/api/v1/clients/{slug}/export?archives=x"))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    // The CLI prints the same document; every export is audited.
    let config = app.config.clone();
    let cli_slug = slug.clone();
    let (code, out, err) =
        tokio::task::spawn_blocking(move || berth_cli(&config, &["client", "export", &cli_slug]))
            .await
            .unwrap();
    assert_eq!(code, 0, "{err}");
    let cli: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(cli["client"]["slug"], slug.as_str());
    let (_, audit) = app.get(&format!("/api/v1/clients/{slug}/export")).await;
    let exports = audit["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "client.export")
        .count();
    assert_eq!(exports, 3, "{audit}");
    let (status, _) = app.get("/api/v1/clients/nobody-here/export").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
