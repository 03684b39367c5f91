//! Ids are never reused, so a deleted client's usage stays its own: a new
//! client (even one with the deleted client's slug) starts with none of it.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use berth::domain::rollup::Sample;
use berth::store::{metrics, usage};

use crate::harness::{eventually, skip_docker, TestApp};

const UP: Duration = Duration::from_secs(60);

fn ids(client: &Value) -> (i64, i64) {
    (
        client["id"].as_i64().unwrap(),
        client["instances"][0]["id"].as_i64().unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_clients_usage_never_moves_to_a_new_client() {
    if skip_docker() {
        return;
    }
    let app = TestApp::spawn_with(|c| c.metrics.interval = Duration::from_secs(1)).await;
    app.create_plan("p", 0.5, "64MiB").await;
    let old = app.create_client("Billa", "p").await;
    let (old_client, old_instance) = ids(&old);

    // One hour of a full core, recorded the way the sampler records it.
    let now = time::OffsetDateTime::now_utc();
    let month = format!("{:04}-{:02}", now.year(), u8::from(now.month()));
    let sample = Sample {
        instance_id: old_instance,
        ts: now.unix_timestamp(),
        secs: 3600.0,
        up: true,
        cpu: 1.0,
        mem: 1 << 20,
        mem_limit: 64 << 20,
        disk: 0,
        rx: 0,
        tx: 0,
        blk_read: 0,
        blk_write: 0,
        pids: 1,
        oom_kills: 0,
        mem_hits: 0,
    };
    app.store()
        .call(move |conn| {
            metrics::upsert_subject(conn, old_instance, old_client, "billa", "main")?;
            metrics::insert_sample(conn, &sample)
        })
        .await
        .unwrap();

    app.delete_and_follow("/api/v1/clients/billa", json!({ "confirm": "billa" }))
        .await;
    // Same name, so the same slug; the highest ids were just freed.
    let new = app.create_client("Billa", "p").await;
    assert_eq!(new["slug"], "billa");
    let (new_client, new_instance) = ids(&new);
    assert!(new_client > old_client, "client id {new_client} reused");
    assert!(
        new_instance > old_instance,
        "instance id {new_instance} reused"
    );
    // The sampler has seen the new instance (and recorded its subject).
    eventually("the new instance is sampled", UP, || async {
        let subjects = app.store().call(|c| usage::subjects(c)).await.unwrap();
        subjects
            .iter()
            .any(|s| s.instance_id == new_instance)
            .then_some(())
    })
    .await;

    let (status, lines) = app
        .get(&format!("/api/v1/usage/export?month={month}&format=json"))
        .await;
    assert_eq!(status, StatusCode::OK, "{lines}");
    let billa: Vec<&Value> = lines
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["client"] == "billa")
        .collect();
    // The erased client's month is kept (from its deletion report) under
    // the erasure's pseudonym, never under the slug the new client took.
    assert!(
        billa.iter().all(|l| l["client_deleted"] == false),
        "{lines}"
    );
    let deleted: Vec<&Value> = lines
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["client_deleted"] == true && l["client_id"] == old_client)
        .collect();
    assert_eq!(deleted.len(), 1, "{lines}");
    assert!(
        deleted[0]["client"]
            .as_str()
            .unwrap()
            .starts_with("erased:"),
        "{lines}"
    );
    assert_eq!(deleted[0]["client_id"], old_client);
    assert_eq!(deleted[0]["instance_hours"], 1.0, "{lines}");
    assert_eq!(deleted[0]["cpu_core_hours"], 1.0, "{lines}");
    for live in billa.iter().filter(|l| l["client_deleted"] == false) {
        assert_eq!(live["client_id"], new_client, "{lines}");
        // Only its own few seconds of samples.
        assert!(live["cpu_core_hours"].as_f64().unwrap() < 0.5, "{lines}");
        assert!(live["instance_hours"].as_f64().unwrap() < 0.5, "{lines}");
    }
    let csv = app
        .get_text(&format!("/api/v1/usage/export?month={month}&format=csv"))
        .await;
    let line = csv
        .lines()
        // llm_usd (issue 12) is the last column, after client_id and client_deleted.
        .find(|l| l.starts_with(&format!("{month},erased:")) && l.ends_with(",true,0.000000"))
        .unwrap_or_else(|| panic!("no erased client's line in {csv}"));
    assert!(
        line.ends_with(&format!(",{old_client},true,0.000000")),
        "{line}"
    );
}
