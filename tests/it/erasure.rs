//! Right to deletion: a confirmed delete of a client leaves no row, file,
//! backup or metric of it (every table and the data and backup directories
//! are scanned), its report's counts are what was there, and the kept
//! report names nobody.

use std::path::Path;

use reqwest::StatusCode;
use serde_json::json;

use crate::gdpr::{backup, create, portal_user, secrets, spawn, usage};
use crate::harness::TestApp;

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
