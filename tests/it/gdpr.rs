//! GDPR: the export holds every category berth keeps about a client and no
//! secret; the erasure leaves no row, file, backup or metric of the client,
//! and its report's counts are what was there.

use std::path::Path;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use berth::domain::rollup::{Bucket, Sample, Tier};
use berth::store::metrics;

use crate::harness::{berth_cli, eventually, TestApp};

const UP: Duration = Duration::from_secs(60);
const API_TOKEN: &str = "tok-5fd1c0e7a9b24d31";

/// A berth whose blueprints include `secret-site`: the static site with a
/// generated secret, as the Open WebUI blueprint has (too big to run here).
/// The sampler is slowed down so the test alone decides the usage rows.
async fn spawn() -> TestApp {
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

async fn create(app: &TestApp, name: &str, email: &str) -> (i64, i64, String) {
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

async fn backup(app: &TestApp, instance: i64) -> Value {
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
async fn usage(app: &TestApp, client: i64, instance: i64, slug: &str) {
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
    let (slug, samples) = (slug.to_owned(), [sample(now - 30), sample(now - 15)]);
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
async fn portal_user(app: &TestApp, slug: &str, email: &str) -> String {
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

async fn secrets(app: &TestApp, instance: i64) -> Vec<String> {
    let row = app
        .store()
        .call(move |conn| berth::store::instances::get(conn, instance))
        .await
        .unwrap();
    row.secrets.into_values().collect()
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

/// Every text value in every table of the database holding one of `needles`,
/// and every client/instance id column holding one of the erased ids,
/// except the deletion records (the kept proof, which is checked apart).
async fn traces(
    app: &TestApp,
    needles: Vec<String>,
    client: i64,
    instances: Vec<i64>,
) -> Vec<String> {
    app.store()
        .call(move |conn| {
            let tables: Vec<String> = conn
                .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")?
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let mut found = Vec::new();
            for table in tables {
                let mut stmt = conn.prepare(&format!("SELECT * FROM \"{table}\""))?;
                let columns: Vec<String> =
                    stmt.column_names().iter().map(|c| c.to_string()).collect();
                let mut rows = stmt.query([])?;
                while let Some(row) = rows.next()? {
                    for (i, col) in columns.iter().enumerate() {
                        let hit = match row.get_ref(i)? {
                            rusqlite::types::ValueRef::Text(t) => {
                                let t = String::from_utf8_lossy(t).to_lowercase();
                                needles.iter().any(|n| t.contains(n.as_str()))
                            }
                            rusqlite::types::ValueRef::Integer(v) if table != "deletions" => {
                                (col.ends_with("client_id") && v == client)
                                    || (table == "clients" && col == "id" && v == client)
                                    || ((col == "instance_id"
                                        || (table == "instances" && col == "id"))
                                        && instances.contains(&v))
                            }
                            _ => false,
                        };
                        if hit {
                            found.push(format!("{table}.{col}"));
                        }
                    }
                }
            }
            Ok(found)
        })
        .await
        .unwrap()
}

fn files_under(dir: &Path, out: &mut Vec<(String, u64)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let meta = std::fs::symlink_metadata(e.path()).unwrap();
        if meta.is_dir() {
            files_under(&e.path(), out);
        } else {
            out.push((e.path().display().to_string(), meta.len()));
        }
    }
}

async fn count(app: &TestApp, sql: &'static str, id: i64) -> u64 {
    app.store()
        .call(move |conn| Ok(conn.query_row(sql, [id], |r| r.get::<_, i64>(0))? as u64))
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn erasure_leaves_no_trace_and_its_report_counts_what_was_there() {
    let app = spawn().await;
    app.create_plan("p", 0.25, "32MiB").await;
    let (client, instance, slug) = create(&app, "Gdprgone Ltd", "dpo@gdprgone.example").await;
    let (_, keep_instance, keep_slug) = create(&app, "Keeper Ltd", "dpo@keeper.example").await;
    backup(&app, instance).await;
    backup(&app, instance).await;
    backup(&app, keep_instance).await;
    usage(&app, client, instance, &slug).await;
    portal_user(&app, &slug, "boss@gdprgone.example").await;
    let secrets = secrets(&app, instance).await;

    // What is there before: files and rows the report must account for.
    let data = app.config.instance_data_dir(&slug, "main");
    let (data_bytes, data_files) = berth::fsutil::dir_usage(&data);
    let mut backups = Vec::new();
    files_under(&app.config.backup_dir().join(&slug), &mut backups);
    let (manifests, archives): (Vec<_>, Vec<_>) =
        backups.iter().partition(|(p, _)| p.ends_with(".json"));
    let backup_rows = count(
        &app,
        "SELECT COUNT(*) FROM backups WHERE instance_id = ?1",
        instance,
    )
    .await;
    let hourly = count(
        &app,
        "SELECT COUNT(*) FROM rollup_1h WHERE instance_id = ?1",
        instance,
    )
    .await;
    let audit_before = count(
        &app,
        "SELECT COUNT(*) FROM audit_log a JOIN clients c ON a.client_slug = c.slug WHERE c.id = ?1",
        client,
    )
    .await;

    let job = app
        .delete_and_follow(
            &format!("/api/v1/clients/{slug}"),
            json!({ "confirm": slug }),
        )
        .await;
    let report = job.clone();
    let category = |name: &str| {
        report["categories"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == name)
            .unwrap_or_else(|| panic!("no {name} in {report}"))
            .clone()
    };
    assert_eq!(
        category("instance data files")["count"],
        data_files,
        "{report}"
    );
    assert_eq!(
        category("instance data files")["bytes"],
        data_bytes,
        "{report}"
    );
    assert_eq!(
        category("backup archives")["count"],
        archives.len(),
        "{report}"
    );
    assert_eq!(
        category("backup archives")["bytes"],
        archives.iter().map(|(_, b)| b).sum::<u64>()
    );
    assert_eq!(
        category("backup manifests")["count"],
        manifests.len(),
        "{report}"
    );
    assert_eq!(category("backup records")["count"], backup_rows);
    assert_eq!(category("hourly usage rollups")["count"], hourly);
    assert!(category("raw usage samples")["count"].as_u64().unwrap() >= 2);
    assert_eq!(category("client profile")["count"], 1);
    assert_eq!(category("client users")["count"], 1);
    assert_eq!(category("invitation and reset links")["count"], 1);
    assert_eq!(category("failed portal sign-ins")["count"], 1);
    assert_eq!(category("instances")["count"], 1);
    // The delete itself added one entry about the client.
    assert_eq!(
        category("audit entries")["count"],
        audit_before + 1,
        "{report}"
    );
    assert_eq!(category("audit entries")["disposition"], "pseudonymised");
    assert!(
        !report["billing_kept"].as_array().unwrap().is_empty(),
        "{report}"
    );
    assert_eq!(report["client_id"], client);

    // The kept report names nobody but can be matched to the client.
    let text = report.to_string().to_lowercase();
    let needles: Vec<String> = [
        slug.as_str(),
        "gdprgone",
        "dpo@gdprgone.example",
        "192.0.2.44",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain(secrets.iter().map(|s| s.to_lowercase()))
    .collect();
    for n in &needles {
        assert!(!text.contains(n.as_str()), "the report names {n}: {report}");
    }
    let proof: berth::domain::SubjectProof =
        serde_json::from_value(report["subject_proof"].clone()).unwrap();
    assert!(proof.matches(&slug, "dpo@gdprgone.example"));
    let file = report["report_file"].as_str().unwrap();
    let kept = std::fs::read_to_string(file).unwrap().to_lowercase();
    assert!(needles.iter().all(|n| !kept.contains(n.as_str())), "{kept}");

    // No row, file, backup or metric of the client is left.
    let found = traces(&app, needles.clone(), client, vec![instance]).await;
    assert!(found.is_empty(), "left behind in {found:?}");
    let mut files = Vec::new();
    files_under(&app.data_dir(), &mut files);
    files_under(&app.config.backup_dir(), &mut files);
    let left: Vec<_> = files
        .iter()
        .filter(|(p, _)| p.contains("gdprgone"))
        .collect();
    assert!(left.is_empty(), "{left:?}");

    // The other client is untouched; the record of the erasure stays.
    let (status, keeper) = app
        .get(&format!("/api/v1/clients/{keep_slug}/export"))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(keeper["backups"].as_array().unwrap().len(), 1);
    let (status, list) = app.get("/api/v1/deletions").await;
    assert_eq!(status, StatusCode::OK);
    let id = list[0]["id"].as_i64().unwrap();
    assert_eq!(list[0]["client"], format!("erased:{id}"));
    assert_eq!(list[0]["client_name"], "");
    let (status, download) = app.get(&format!("/api/v1/deletions/{id}/report")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(download["deletion_id"], id);
    let filter = berth::store::AuditFilter {
        action: Some("client.erased".into()),
        ..Default::default()
    };
    let erased = app
        .store()
        .call(move |conn| berth::store::audit::query(conn, &filter))
        .await
        .unwrap();
    assert_eq!(erased[0].target, format!("deletion:{id}"), "{erased:?}");
}
