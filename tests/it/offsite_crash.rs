//! An offsite copy cut off by a killed berth: restic dies with it (its
//! parent-death signal), no snapshot appears in the repository, and the
//! next start marks the copy failed with the reason and queues it again.

use std::process::Command;
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::RestServer;
use crate::harness::{api_call, api_client, eventually, wait_until, BerthProcess, ChildSetup};

/// The pid of a `restic` whose parent is `parent`, if one runs.
fn restic_child(parent: u32) -> Option<u32> {
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((comm, rest)) = stat.split_once(") ") else {
            continue;
        };
        let ppid = rest
            .split_whitespace()
            .nth(1)
            .and_then(|p| p.parse::<u32>().ok());
        if comm.ends_with("(restic") && ppid == Some(parent) {
            return Some(pid);
        }
    }
    None
}

/// Gone or a zombie: killed.
fn dead(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| s.split_once(") ").is_some_and(|(_, r)| r.starts_with('Z')))
        .unwrap_or(true)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_berth_leaves_no_snapshot_and_its_copy_failed_then_retried() {
    let rest = tokio::task::spawn_blocking(RestServer::start)
        .await
        .unwrap();
    let setup = ChildSetup::new("offsite-crash").await;
    let repo = format!("rest:http://127.0.0.1:{}/", rest.port);
    let password = rest.dir.path().join("password");
    let init = Command::new("restic")
        .args(["-r", &repo, "--password-file"])
        .arg(&password)
        .args(["--cache-dir"])
        .arg(rest.dir.path().join("cache"))
        .arg("init")
        .output()
        .unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );
    // 1 KiB/s: the copy is still uploading when berth is killed.
    let file = setup.dir.path().join("berth.toml");
    std::fs::write(
        &file,
        format!(
            "[backup]\nschedule = \"\"\n\n[[offsite]]\nname = \"slow\"\nrepository = \"{repo}\"\n\
             password_file = \"{}\"\nlimit_upload = 1\ncopy_schedule = \"0 0 1 1 *\"\n",
            password.display()
        ),
    )
    .unwrap();
    let token = setup.create_token("crash");
    let extra = [("BERTH_CONFIG", file.display().to_string())];
    let http = api_client(Duration::from_secs(30));
    let mut berth = BerthProcess::start_with_env(&setup.config, &extra);
    berth.wait_healthy(&http, &setup.config).await;
    let base = berth.api.clone();
    let post = reqwest::Method::POST;
    let (status, body) = api_call(
        &http,
        &base,
        &token,
        post,
        "/api/v1/offsite/slow/copies",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let id = body["id"].as_i64().unwrap();
    let berth_pid = berth.child.id();
    let restic = eventually(
        "restic uploads for berth",
        Duration::from_secs(60),
        || async { restic_child(berth_pid) },
    )
    .await;

    berth.kill9();
    wait_until("restic dies with berth", Duration::from_secs(10), || {
        dead(restic)
    });
    let snaps = Command::new("restic")
        .args(["-r", &repo, "--password-file"])
        .arg(&password)
        .args(["--no-cache", "snapshots", "--json"])
        .output()
        .unwrap();
    assert!(
        snaps.status.success(),
        "{}",
        String::from_utf8_lossy(&snaps.stderr)
    );
    let snaps: Value = serde_json::from_slice(&snaps.stdout).unwrap();
    assert_eq!(snaps, json!([]), "a cut-off copy left a snapshot");

    let mut berth = BerthProcess::start_with_env(&setup.config, &extra);
    berth.wait_healthy(&http, &setup.config).await;
    let get = reqwest::Method::GET;
    let (_, old) = api_call(
        &http,
        &berth.api,
        &token,
        get.clone(),
        &format!("/api/v1/offsite-copies/{id}"),
        None,
    )
    .await;
    assert_eq!(old["status"], "failed", "{old}");
    assert!(
        old["message"].as_str().unwrap().contains("interrupted"),
        "{old}"
    );
    assert!(old["snapshot_id"].is_null(), "{old}");
    let (_, rows) = api_call(
        &http,
        &berth.api,
        &token,
        get,
        "/api/v1/offsite/slow/copies",
        None,
    )
    .await;
    let retried = rows.as_array().unwrap().iter().any(|r| {
        r["id"].as_i64() != Some(id)
            && r["kind"] == "state"
            && matches!(r["status"].as_str(), Some("queued" | "running"))
    });
    assert!(retried, "the interrupted copy was not queued again: {rows}");
    berth.kill9();
}
