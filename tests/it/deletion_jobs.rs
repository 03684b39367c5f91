//! A delete is a job the daemon finishes: the API answers 202 and shows the
//! job until its report is there; the CLI writes the job and follows it.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::json;

use crate::harness::{assert_absent, berth_cli, TestApp};

const UP: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_shows_a_deletion_job_and_asking_again_returns_the_same_job() {
    let app = TestApp::spawn().await;
    app.create_plan("p", 0.25, "32MiB").await;
    let client = app.create_client("Jobs", "p").await;
    let id = client["instances"][0]["id"].as_i64().unwrap();
    app.wait_phase(id, &["running", "starting"], UP).await;

    let path = format!("/api/v1/instances/{id}");
    let (status, first) = app.delete(&path, json!({ "confirm": "jobs/main" })).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{first}");
    assert_eq!(first["client"], "jobs", "{first}");
    assert_eq!(first["client_deleted"], false, "{first}");
    assert_eq!(first["instance_ids"], json!([id]), "{first}");
    // A repeated request while the job runs joins it instead of starting another.
    let (status, again) = app.delete(&path, json!({ "confirm": "jobs/main" })).await;
    if status == StatusCode::ACCEPTED {
        assert_eq!(again["id"], first["id"], "{again}");
    } else {
        // The job finished in between: the instance is gone.
        assert_eq!(status, StatusCode::NOT_FOUND, "{again}");
    }
    let report = crate::harness::follow_deletion(
        &app.http,
        &app.api,
        &app.token,
        &format!("/api/v1/deletions/{}", first["id"]),
    )
    .await;
    assert_eq!(report["instances"][0]["id"], id, "{report}");
    assert!(std::path::Path::new(report["report_file"].as_str().unwrap()).is_file());
    assert_eq!(app.get(&path).await.0, StatusCode::NOT_FOUND);
    // The client stays: only its instance went.
    assert_eq!(app.get("/api/v1/clients/jobs").await.0, StatusCode::OK);

    let (status, body) = app.get("/api/v1/deletions/999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_follows_a_delete_to_its_report() {
    let app = TestApp::spawn().await;
    app.create_plan("p", 0.25, "32MiB").await;
    let client = app.create_client("Clidel", "p").await;
    let id = client["instances"][0]["id"].as_i64().unwrap();
    let container = app.wait_phase(id, &["running", "starting"], UP).await["container_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The CLI blocks until the daemon (this process) finished the job.
    let config = app.config.clone();
    let (code, out, err) = tokio::task::spawn_blocking(move || {
        berth_cli(
            &config,
            &["client", "delete", "clidel", "--confirm", "clidel"],
        )
    })
    .await
    .unwrap();
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with("Deleted client clidel: 1 instance(s)"),
        "{out}"
    );
    let file = out.trim_end().rsplit(' ').next().unwrap();
    assert!(std::path::Path::new(file).is_file(), "{out}");
    assert_eq!(
        app.get("/api/v1/clients/clidel").await.0,
        StatusCode::NOT_FOUND
    );
    assert_absent("container", &container);
    assert!(!app.data_dir().join("instances/clidel").exists());
}
