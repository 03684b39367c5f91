//! Deletes are jobs: the API answers 202 with the job, and the test
//! follows it to its report.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::Value;

use super::{api_call, eventually};

/// How long a deletion job may take: the reconciler stops the containers
/// (under load, tens of seconds), then the worker removes data.
const DELETION_DEADLINE: Duration = Duration::from_secs(120);

/// `DELETE` of a client or instance: asserts 202 with the job and its
/// status URL in `Location`, then follows it until done; returns the report.
pub async fn delete_and_follow(
    http: &reqwest::Client,
    api: &str,
    token: &str,
    path: &str,
    body: Value,
) -> Value {
    let resp = http
        .delete(format!("{api}{path}"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("API answers");
    let status = resp.status();
    let location = resp
        .headers()
        .get(reqwest::header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let job: Value = resp.json().await.expect("a JSON answer");
    assert_eq!(status, StatusCode::ACCEPTED, "{path}: {job}");
    let location = location.unwrap_or_else(|| panic!("no Location for {job}"));
    assert_eq!(
        location,
        format!("/api/v1/deletions/{}", job["id"]),
        "{job}"
    );
    follow_deletion(http, api, token, &location).await
}

/// Polls a deletion job until it is done (a failed one fails the test) and
/// returns its report.
pub async fn follow_deletion(
    http: &reqwest::Client,
    api: &str,
    token: &str,
    location: &str,
) -> Value {
    let job = eventually(&format!("{location} done"), DELETION_DEADLINE, || async {
        let (status, job) = api_call(http, api, token, reqwest::Method::GET, location, None).await;
        assert_eq!(status, StatusCode::OK, "{location}: {job}");
        assert_ne!(job["status"], "failed", "{job}");
        (job["status"] == "done").then_some(job)
    })
    .await;
    job["report"].clone()
}
