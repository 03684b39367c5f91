//! Rollouts survive a SIGKILL: the restarted daemon resumes each step from
//! the state it recorded (see `rollouts.rs` for the app and its versions).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use super::rollouts::{blueprint, pushed, ROLLOUT, UP};
use crate::harness::{
    api_client, berth_cli, docker, eventually, BerthProcess, ChildSetup, Registry,
};

/// SIGKILL mid-rollout, at two exact points (`berth::testhook`): after a
/// step pinned the new image (the restart sees it healthy and goes on), and
/// after a failed step pinned the old image again (the restart restores the
/// data and halts). Every step ends final, every instance runs the image it
/// is pinned to, with the data that goes with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_mid_rollout_the_restart_finishes_consistently() {
    let registry = tokio::task::spawn_blocking(Registry::start).await.unwrap();
    let (v, _registry) = pushed(registry).await;
    let setup = ChildSetup::new("rollcrash").await;
    let token = setup.create_token("crash");
    let ChildSetup {
        dir,
        guard,
        caddy: _caddy,
        config,
        ..
    } = setup;
    for tag in ["v1", "v2", "v2b", "v3"] {
        guard.track_image(&v.image(tag));
    }
    let bp_dir = config.blueprint_dir.clone().unwrap();
    std::fs::write(bp_dir.join("rollapp.toml"), blueprint(&v.image("v1"))).unwrap();
    let (code, _, err) = berth_cli(
        &config,
        &["plan", "create", "p", "--cpus", "0.2", "--memory", "32MiB"],
    );
    assert_eq!(code, 0, "{err}");
    let http = api_client(Duration::from_secs(30));
    let pause_file = dir.path().join("paused");
    let start = |pause: Option<&str>| {
        let env: Vec<(&str, String)> = match pause {
            Some(step) => vec![
                ("BERTH_TEST_PAUSE_AT", step.to_owned()),
                ("BERTH_TEST_PAUSE_FILE", pause_file.display().to_string()),
            ],
            None => vec![],
        };
        BerthProcess::start_with_env(&config, &env)
    };
    let kill_when_paused = |mut daemon: BerthProcess, step: &'static str| {
        let file = pause_file.clone();
        async move {
            eventually(&format!("berth paused at {step}"), ROLLOUT, || {
                let file = file.clone();
                async move { (std::fs::read_to_string(&file).ok()? == step).then_some(()) }
            })
            .await;
            daemon.kill9();
            std::fs::remove_file(&file).unwrap();
        }
    };
    let api = format!("http://{}", config.listen);
    let call = |method: reqwest::Method, path: String, body: Value| {
        let (http, api, token) = (http.clone(), api.clone(), token.clone());
        async move {
            let r = http
                .request(method, format!("{api}{path}"))
                .bearer_auth(token)
                .json(&body)
                .send()
                .await
                .unwrap();
            let status = r.status();
            (status, r.json::<Value>().await.unwrap_or(Value::Null))
        }
    };
    let get = |path: String| call(reqwest::Method::GET, path, Value::Null);
    let rollout = |tag: &'static str| {
        call(
            reqwest::Method::POST,
            "/api/v1/rollouts".into(),
            json!({ "blueprint": "rollapp", "tag": tag, "waves": "1,all" }),
        )
    };
    let finished = |rid: i64| async move {
        eventually("the rollout ends after the restart", ROLLOUT, || async {
            let (_, r) = get(format!("/api/v1/rollouts/{rid}")).await;
            matches!(r["status"].as_str(), Some("done" | "failed" | "halted")).then_some(r)
        })
        .await
    };
    let file_of = |slug: &str| {
        std::fs::read_to_string(
            config
                .data_dir
                .join(format!("instances/{slug}/main/data.txt")),
        )
        .unwrap()
    };

    let mut daemon = start(Some("rollout-updating"));
    daemon.wait_healthy(&http, &config).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let (status, c) = call(reqwest::Method::POST, "/api/v1/clients".into(),
            json!({ "name": format!("Crash {n}"), "email": "a@b.example", "plan": "p", "blueprint": "rollapp" })).await;
        assert_eq!(status, StatusCode::CREATED, "{c}");
        ids.push((
            c["instances"][0]["id"].as_i64().unwrap(),
            c["slug"].as_str().unwrap().to_owned(),
        ));
    }
    for (id, _) in &ids {
        eventually("instance running", UP, || async {
            let (_, i) = get(format!("/api/v1/instances/{id}")).await;
            (i["phase"] == "running" && i["desired_image_id"] == v.id("v1")).then_some(())
        })
        .await;
    }
    let (status, r) = rollout("v2").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let a = r["id"].as_i64().unwrap();
    kill_when_paused(daemon, "rollout-updating").await;

    // The canary was pinned to v2 when berth died: the restart sees it
    // healthy and goes on with the others.
    let mut daemon = start(Some("rollout-rolling-back"));
    daemon.wait_healthy(&http, &config).await;
    let r = finished(a).await;
    assert_eq!(r["status"], "done", "{r:#}");
    for (s, (id, slug)) in r["steps"].as_array().unwrap().iter().zip(&ids) {
        assert_eq!(s["state"], "succeeded", "{s}");
        let (_, i) = get(format!("/api/v1/instances/{id}")).await;
        assert_eq!(
            (&i["image_id"], &i["desired_image_id"]),
            (&json!(v.id("v2")), &json!(v.id("v2"))),
            "{i}"
        );
        assert_eq!(file_of(slug), format!("data of {slug}\nmigrated\n"));
    }

    // v3 fails on the canary; berth dies with v2 pinned again, the data not
    // yet restored: the restart restores it and halts the rollout.
    let (status, r) = rollout("v3").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{r}");
    let b = r["id"].as_i64().unwrap();
    kill_when_paused(daemon, "rollout-rolling-back").await;
    let (_, canary_slug) = &ids[0];
    assert!(
        file_of(canary_slug).contains("v3-touched"),
        "killed before the restore"
    );
    let mut daemon = start(None);
    daemon.wait_healthy(&http, &config).await;
    let r = finished(b).await;
    assert_eq!(r["status"], "halted", "{r:#}");
    let states: Vec<&str> = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["rolled_back", "pending", "pending"], "{r:#}");
    for (id, slug) in &ids {
        let (_, i) = get(format!("/api/v1/instances/{id}")).await;
        assert_eq!(
            (&i["image_id"], &i["desired_image_id"]),
            (&json!(v.id("v2")), &json!(v.id("v2"))),
            "{i}"
        );
        assert_eq!(file_of(slug), format!("data of {slug}\nmigrated\n"));
    }
    let containers = docker(&["ps", "-aq", "--filter", &guard.label_filter()]);
    assert_eq!(
        containers.lines().count(),
        3,
        "one container per instance, no leftovers"
    );

    // The CLI: status, apply --wait (to the end), rollback, a refusal.
    let (code, out, err) = berth_cli(&config, &["update", "status", &b.to_string()]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("rolled_back") && out.contains("halted"),
        "{out}"
    );
    let (code, out, err) = berth_cli(
        &config,
        &[
            "update",
            "apply",
            "--blueprint",
            "rollapp",
            "--tag",
            "v2b",
            "--wave",
            "all",
            "--wait",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.lines().next().unwrap().parse::<i64>().is_ok(), "{out}");
    let (id0, slug0) = &ids[0];
    let (code, out, err) = berth_cli(&config, &["instance", "rollback", &id0.to_string()]);
    assert_eq!(code, 0, "{err}");
    let r = finished(out.trim().parse().unwrap()).await;
    assert_eq!(r["status"], "done", "{r:#}");
    assert_eq!(file_of(slug0), format!("data of {slug0}\nmigrated\n"));
    let (code, _, err) = berth_cli(&config, &["instance", "rollback", &id0.to_string()]);
    assert_eq!((code, err.lines().count()), (1, 1), "{err}");
    assert!(err.contains("nothing to roll back to"), "{err}");
    let (code, _, err) = berth_cli(
        &config,
        &["update", "apply", "--blueprint", "rollapp", "--wave", "0"],
    );
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("waves"), "{err}");
    drop(daemon);
}
