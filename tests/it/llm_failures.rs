//! The LLM key worker's failure paths against the fake provider: 401, 402,
//! 500, 429 with Retry-After, a slow answer, a crash after create
//! (OpenRouter's orphan deleted, LiteLLM's adopted), keys no row knows, a
//! failed poll, and budgets refused before any provider call.

use std::time::Duration;

use berth::audit::Actor;
use berth::domain::{LlmKeyStatus, LlmProvider};
use berth::ops::LlmBudgetInput;

use super::llm::setup;
use crate::harness::{eventually, Fault};

/// A failed create is shown on the key and retried; the key appears once.
async fn create_fails_then_recovers(fault: Fault, shown: &str) {
    let s = setup(LlmProvider::OpenRouter).await;
    s.fake.inject("POST /api/v1/keys", fault, 1);
    let outcome = s.worker.pass().await.unwrap();
    assert_eq!((outcome.actions, outcome.failed), (1, 1));
    let view = s.ops.llm_status(&s.slug).await.unwrap();
    assert_eq!(view.sync, "retrying");
    assert_eq!(view.status, Some(LlmKeyStatus::Creating));
    let error = view.error.unwrap();
    assert!(error.contains(shown), "{error}");
    assert!(view.retry_at.is_some());
    s.settle().await;
    assert_eq!(s.fake.keys().len(), 1, "{:?}", s.fake.keys());
    let keys = s.keys().await;
    assert_eq!((keys.len(), keys[0].status), (1, LlmKeyStatus::Active));
    assert_eq!(
        keys[0].provider_key_id.as_deref(),
        Some(s.fake.keys()[0].hash.as_str())
    );
    assert!(keys[0].last_error.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_is_shown_and_retried() {
    create_fails_then_recovers(Fault::Status(401), "401").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn out_of_credits_is_shown_and_retried() {
    create_fails_then_recovers(Fault::Status(402), "out of credits").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_error_is_shown_and_retried() {
    create_fails_then_recovers(Fault::Status(500), "500").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limit_waits_for_retry_after() {
    let s = setup(LlmProvider::OpenRouter).await;
    s.fake.inject(
        "POST /api/v1/keys",
        Fault::RateLimited { retry_after_s: 2 },
        1,
    );
    let started = std::time::Instant::now();
    assert_eq!(s.worker.pass().await.unwrap().failed, 1);
    let retry_at = s.keys().await[0].next_retry_at.clone().unwrap();
    // Not before Retry-After: passes in the meantime leave the key alone.
    assert_eq!(s.worker.pass().await.unwrap().actions, 0);
    s.settle().await;
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "retried before {retry_at}"
    );
    assert_eq!(s.fake.keys().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_create_leaves_one_key() {
    let s = setup(LlmProvider::OpenRouter).await;
    // Slower than the client's timeout: berth gives up, the provider does
    // the work anyway, maybe after berth has made the key again.
    s.fake.inject(
        "POST /api/v1/keys",
        Fault::Slow(Duration::from_millis(1500)),
        1,
    );
    let outcome = s.worker.pass().await.unwrap();
    assert_eq!(outcome.failed, 1);
    assert!(s
        .ops
        .llm_status(&s.slug)
        .await
        .unwrap()
        .error
        .unwrap()
        .contains("did not answer"));
    s.settle().await;
    // Whatever the order, the poll leaves only the stored key.
    eventually("one key left", Duration::from_secs(10), || async {
        s.worker.poll().await.unwrap();
        let keys = s.fake.keys();
        (keys.len() == 1).then_some(keys)
    })
    .await;
    let stored = s.keys().await[0].provider_key_id.clone();
    assert_eq!(stored.as_deref(), Some(s.fake.keys()[0].hash.as_str()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openrouter_crash_after_create_deletes_the_orphan() {
    let s = setup(LlmProvider::OpenRouter).await;
    s.fake
        .inject("POST /api/v1/keys", Fault::CrashAfterCreate, 1);
    assert_eq!(s.worker.pass().await.unwrap().failed, 1);
    let orphan = s.fake.keys();
    assert_eq!(orphan.len(), 1, "made, answer lost");
    assert_eq!(s.keys().await[0].status, LlmKeyStatus::Creating);
    s.settle().await;
    let now = s.fake.keys();
    assert_eq!(now.len(), 1);
    assert_ne!(
        now[0].hash, orphan[0].hash,
        "the orphan's plaintext is lost: replaced"
    );
    let row = &s.keys().await[0];
    assert_eq!(s.plaintext(row), now[0].key);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn litellm_crash_after_create_adopts_the_key() {
    let s = setup(LlmProvider::LiteLlm).await;
    s.fake
        .inject("POST /key/generate", Fault::CrashAfterCreate, 1);
    assert_eq!(s.worker.pass().await.unwrap().failed, 1);
    let made = s.fake.keys();
    assert_eq!(made.len(), 1);
    s.settle().await;
    let now = s.fake.keys();
    assert_eq!(now, made, "adopted, not made again");
    assert_eq!(s.plaintext(&s.keys().await[0]), now[0].key);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_poll_deletes_keys_no_row_knows_and_counts_requests() {
    let s = setup(LlmProvider::OpenRouter).await;
    s.settle().await;
    let stranger = s.fake.plant("someone-elses-key");
    let orphan = s
        .fake
        .plant(&format!("berth/{}/gone/99", s.config.docker.owner));
    s.fake.clear_requests();
    let polled = s.worker.poll().await.unwrap();
    assert_eq!((polled.keys, polled.orphans_deleted), (1, 1));
    let left: Vec<String> = s.fake.keys().into_iter().map(|k| k.hash).collect();
    assert!(left.contains(&stranger.hash) && !left.contains(&orphan.hash));
    // One list page, one delete, one credits read.
    let requests = s.fake.requests();
    assert_eq!(
        requests
            .iter()
            .filter(|r| r.starts_with("GET /api/v1/keys"))
            .count(),
        1,
        "{requests:?}"
    );
    // A failed poll is recorded for the overview, the keys keep their figures.
    s.fake.inject("GET /api/v1/keys", Fault::Status(500), 1);
    let failed = s.worker.poll().await.unwrap();
    assert!(failed.error.unwrap().contains("500"));
    let overview = s.ops.llm_overview().await.unwrap();
    assert!(overview.account.last_error.contains("500"), "{overview:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_budget_is_refused_before_the_provider() {
    let s = setup(LlmProvider::OpenRouter).await;
    let actor = Actor::cli();
    for bad in [
        LlmBudgetInput {
            limit_usd: Some(-5.0),
            ..Default::default()
        },
        LlmBudgetInput {
            limit_usd: None,
            limit_reset: Some("monthly".into()),
            use_plan: false,
        },
        LlmBudgetInput {
            limit_usd: Some(5.0),
            limit_reset: Some("yearly".into()),
            use_plan: false,
        },
        LlmBudgetInput {
            limit_usd: Some(5.0),
            limit_reset: None,
            use_plan: true,
        },
    ] {
        assert!(s.ops.set_llm_budget(&actor, &s.slug, bad).await.is_err());
    }
    let missing = s.ops.rotate_llm_key(&actor, &s.slug).await.unwrap_err();
    assert!(missing.to_string().contains("being made"), "{missing}");
    assert!(s.ops.llm_status("nobody").await.is_err());
}

/// The poll reads every page of OpenRouter's list (100 keys each) in one
/// pass: with 250 other keys first, this berth's key is on page three.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_poll_reads_every_page_once() {
    let s = setup(LlmProvider::OpenRouter).await;
    for n in 0..250 {
        s.fake.plant(&format!("another-app-{n}"));
    }
    s.settle().await;
    let label = s.keys().await[0].label.clone();
    s.fake.set_usage(&label, 7.0, 6.0);
    s.fake.clear_requests();
    let started = std::time::Instant::now();
    let polled = s.worker.poll().await.unwrap();
    let took = started.elapsed();
    assert_eq!((polled.keys, polled.orphans_deleted), (1, 0));
    let requests = s.fake.requests();
    let pages = requests
        .iter()
        .filter(|r| r.starts_with("GET /api/v1/keys"))
        .count();
    assert_eq!((pages, requests.len()), (3, 4), "{requests:?}");
    eprintln!("poll of 251 keys: {} requests, {took:?}", requests.len());
    let view = s.ops.llm_status(&s.slug).await.unwrap();
    assert_eq!(view.usage_monthly_usd, Some(6.0));
}
