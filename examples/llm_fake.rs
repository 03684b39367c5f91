//! The tests' fake LLM provider (tests/harness/llm_fake) as a standalone
//! server, for scripts outside `cargo test` (scripts/e2e-llm-open-webui.sh):
//! OpenRouter's management API and LiteLLM's key endpoints for berth, an
//! OpenAI-compatible `/api/v1/models` and `/chat/completions` for the
//! instances, and `/_fake/bearers` telling which key each call carried.
//!
//!     cargo run --example llm_fake -- 0.0.0.0:0
//!
//! Prints one JSON line, {"addr": "...", "management_key": "..."}, then
//! serves until stopped. Listen on 0.0.0.0 (or the docker bridge's gateway)
//! so containers can reach it.

#[allow(dead_code, unused_imports)]
#[path = "../tests/harness/llm_fake/mod.rs"]
mod llm_fake;

/// What the harness names things with: a prefix and something random.
fn unique(prefix: &str) -> String {
    format!("{prefix}-{:08x}", rand::random::<u32>())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "0.0.0.0:0".into());
    let fake = llm_fake::LlmFake::start_on(&addr).await;
    println!(
        "{}",
        serde_json::json!({ "addr": fake.addr, "management_key": fake.management_key })
    );
    let _ = tokio::signal::ctrl_c().await;
}
