//! LLM keys benchmark (issue 12): one meter poll of many keys against the
//! fake OpenRouter (wall time, and requests per poll: the paged list, 100
//! keys a page, plus the credits call), then reconcile latency — a new
//! client's instance from `POST /api/v1/clients` to its first 200 through
//! Caddy — with the provider answering at once and with every key call
//! slowed down, interleaved so the machine's load hits both alike.
//!
//!     cargo bench --bench llm                      # needs Docker and caddy
//!     cargo bench --bench llm -- --keys 50 --runs 2 --slow-ms 1500   # a quick look

#[path = "../tests/harness/mod.rs"]
mod harness;
#[path = "support/results.rs"]
mod results;

use std::sync::Arc;
use std::time::{Duration, Instant};

use berth::config::ManagementKey;
use berth::domain::{DisplayName, Email, LlmProvider, Notes, Slug};
use berth::llm::KeyWorker;
use berth::store::{clients, plans, NewClient};
use clap::Parser;
use harness::{eventually, unique, Fault, LlmFake, TestApp};
use reqwest::StatusCode;
use results::{Row, Target};
use serde_json::json;
use tokio::sync::Notify;

#[derive(Parser)]
struct Args {
    /// Keys the poll reads.
    #[arg(long, default_value_t = 500)]
    keys: usize,
    /// Polls timed (the median is reported).
    #[arg(long, default_value_t = 5)]
    polls: usize,
    /// Reconcile latency pairs (fast provider, slow provider).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// How long the slow provider takes to answer each key call.
    #[arg(long, default_value_t = 3000)]
    slow_ms: u64,
    // `cargo bench` passes --bench; accepted and ignored.
    #[arg(long, hide = true)]
    bench: bool,
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = Args::parse();
    let fake = LlmFake::start().await;
    let (url, mgmt) = (fake.openrouter_url(), fake.management_key.clone());
    let app = TestApp::spawn_with(move |c| {
        c.llm.provider = Some(LlmProvider::OpenRouter);
        c.llm.base_url = url;
        c.llm.management_key = Some(ManagementKey::new(mgmt));
        // The daemon's own meter stays out of the timed polls.
        c.llm.poll_interval = Duration::from_secs(3600);
        c.llm.timeout = Duration::from_secs(30);
    })
    .await;
    let plan = unique("ai");
    app.create_plan(&plan, 0.1, "32MiB").await;
    app.enable_llm(&plan, 10.0).await;

    let worker = poll_bench(&app, &fake, &plan, &args).await;
    reconcile_bench(&app, &fake, &worker, &plan, &args).await;
}

/// Clients without instances (written to the store directly: the API
/// gives every new client its first instance, and 500 containers are not
/// what this measures), each with a key, then timed polls.
async fn poll_bench(app: &TestApp, fake: &LlmFake, plan: &str, args: &Args) -> KeyWorker {
    let made = Instant::now();
    let (plan, n) = (plan.to_owned(), args.keys);
    app.store()
        .write(move |tx| {
            let plan_id = plans::find(tx, &plan)?.expect("the plan").id;
            let (email, notes) = (
                Email::parse("ops@example.com").unwrap(),
                Notes::parse("").unwrap(),
            );
            for i in 0..n {
                let slug = Slug::parse(&format!("k{i}")).unwrap();
                let name = DisplayName::parse(&format!("k{i}")).unwrap();
                let c = NewClient {
                    slug: &slug,
                    name: &name,
                    email: &email,
                    plan_id,
                    notes: &notes,
                };
                clients::insert(tx, &c)?;
            }
            Ok::<_, berth::store::StoreError>(())
        })
        .await
        .expect("clients stored");
    app.ops().wake();
    let want = args.keys;
    eventually(
        &format!("{want} keys made at the fake"),
        Duration::from_secs(600),
        || async { (fake.keys().len() >= want).then_some(()) },
    )
    .await;
    println!(
        "{} clients and keys made in {:.1} s",
        args.keys,
        made.elapsed().as_secs_f64()
    );
    for (i, k) in fake.keys().iter().enumerate() {
        fake.set_usage(&k.name, i as f64 * 0.01, i as f64 * 0.01);
    }
    let worker = KeyWorker::from_config(
        app.store().clone(),
        Arc::new(app.config.clone()),
        Arc::new(Notify::new()),
        Arc::new(Notify::new()),
    )
    .expect("worker builds")
    .expect("a provider is configured");
    let (mut walls, mut requests, mut lists) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..args.polls {
        fake.clear_requests();
        let t = Instant::now();
        let outcome = worker.poll().await.expect("poll");
        walls.push(t.elapsed().as_secs_f64() * 1000.0);
        assert_eq!(outcome.error, None);
        assert!(outcome.keys >= args.keys, "{outcome:?}");
        let seen = fake.requests();
        requests.push(seen.len() as f64);
        lists.push(
            seen.iter()
                .filter(|r| r.starts_with("GET /api/v1/keys"))
                .count() as f64,
        );
    }
    let (wall, reqs, list) = (median(walls.clone()), median(requests), median(lists));
    println!(
        "poll of {} keys: median {wall:.0} ms ({walls:.0?}), {reqs} requests ({list} list pages + credits)",
        args.keys
    );
    let pages = args.keys.div_ceil(100) as f64;
    Row::new(
        format!("llm poll of {} keys: list requests", args.keys),
        // One list page per 100 keys; a last full page needs one empty page to end.
        Target::AtMost(pages + f64::from(u8::from(args.keys.is_multiple_of(100)))),
        list,
        "",
    )
    .record();
    Row::new(
        format!("llm poll of {} keys: wall time", args.keys),
        Target::Below(2000.0),
        wall,
        "ms",
    )
    .record();
    worker
}

/// One client with a static-site instance: ms from the API call to its
/// first 200 through Caddy.
async fn create_to_200(app: &TestApp, plan: &str) -> f64 {
    let name = unique("r");
    let host = format!("{name}.bench.test");
    let t = Instant::now();
    let (code, body) = app
        .post(
            "/api/v1/clients",
            json!({ "name": name, "email": "ops@example.com", "plan": plan,
                    "blueprint": "static-site", "domain": host }),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{body}");
    app.wait_caddy(&host, 200, Duration::from_secs(60)).await;
    t.elapsed().as_secs_f64() * 1000.0
}

/// With the provider slowed, a meter poll (every list page slow) runs
/// beside each create, and the new client's key is made slowly too.
async fn reconcile_bench(
    app: &TestApp,
    fake: &LlmFake,
    worker: &KeyWorker,
    plan: &str,
    args: &Args,
) {
    let slow = Fault::Slow(Duration::from_millis(args.slow_ms));
    let (mut fast, mut slowed) = (Vec::new(), Vec::new());
    // A first create warms the image and the network pool for both sides.
    create_to_200(app, plan).await;
    for _ in 0..args.runs {
        fake.clear_faults();
        fast.push(create_to_200(app, plan).await);
        for on in [
            "POST /api/v1/keys",
            "GET /api/v1/keys",
            "PATCH /api/v1/keys",
            "GET /api/v1/credits",
        ] {
            fake.inject(on, slow, usize::MAX);
        }
        let meter = worker.clone();
        let polling = tokio::spawn(async move { meter.poll().await });
        slowed.push(create_to_200(app, plan).await);
        if polling.is_finished() {
            println!("note: the slow poll ended before the create did (raise --slow-ms)");
        }
        polling.abort();
    }
    fake.clear_faults();
    let (f, s) = (median(fast.clone()), median(slowed.clone()));
    println!("reconcile latency: fast provider median {f:.0} ms ({fast:.0?}), slow provider ({} ms a call) median {s:.0} ms ({slowed:.0?})", args.slow_ms);
    Row::new(
        "reconcile latency with a slow llm provider",
        Target::AtMost(1.1 * f),
        s,
        "ms",
    )
    .versus("fast provider", f)
    .record();
}
