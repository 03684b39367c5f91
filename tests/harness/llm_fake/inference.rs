//! The fake's OpenAI-compatible side, what an instance calls with the key
//! berth injected: `GET /api/v1/models` and `POST /api/v1/chat/completions`
//! (OpenRouter's paths; LiteLLM serves `/models` and `/chat/completions` at
//! its root, also here). A key must exist and be enabled; the bearer of
//! every call is recorded so a test can tell which key an instance used.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::{error, Shared};

/// The models every key may use.
pub const MODELS: [&str; 2] = ["berth-fake/echo-1", "berth-fake/echo-2"];

/// Records the bearer; the refusal to answer with when its key is unknown or disabled.
fn refusal(s: &Shared, h: &HeaderMap) -> Option<Response> {
    let key = h
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_owned();
    let mut st = s.state.lock().unwrap();
    st.bearers.push(key.clone());
    match st.keys.iter().find(|k| k.key == key) {
        Some(k) if k.disabled => Some(error(403, "Key is disabled")),
        Some(_) => None,
        None => Some(error(401, "User not found")),
    }
}

pub(super) async fn models(State(s): State<Shared>, h: HeaderMap) -> Response {
    if let Some(r) = refusal(&s, &h) {
        return r;
    }
    let data: Vec<Value> = MODELS
        .iter()
        .map(|id| json!({ "id": id, "object": "model", "name": id, "owned_by": "berth-fake", "created": 1_764_000_000 }))
        .collect();
    Json(json!({ "object": "list", "data": data })).into_response()
}

pub(super) async fn chat(State(s): State<Shared>, h: HeaderMap, Json(b): Json<Value>) -> Response {
    if let Some(r) = refusal(&s, &h) {
        return r;
    }
    let model = b["model"].as_str().unwrap_or(MODELS[0]).to_owned();
    let last = b["messages"]
        .as_array()
        .and_then(|m| m.last())
        .and_then(|m| m["content"].as_str())
        .unwrap_or("")
        .to_owned();
    Json(json!({
        "id": "chatcmpl-fake", "object": "chat.completion", "created": 1_764_000_000,
        "model": model,
        "choices": [{ "index": 0, "finish_reason": "stop",
            "message": { "role": "assistant", "content": format!("echo: {last}") } }],
        "usage": { "prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2 }
    }))
    .into_response()
}

/// `GET /_fake/bearers`: every bearer an inference call carried, in order
/// (for scripts driving the fake from outside, e.g. the Open WebUI e2e).
pub(super) async fn bearers(State(s): State<Shared>) -> Response {
    Json(json!(s.state.lock().unwrap().bearers.clone())).into_response()
}

/// `GET /_fake/keys`: name, plaintext and disabled of every key.
pub(super) async fn keys(State(s): State<Shared>) -> Response {
    let st = s.state.lock().unwrap();
    let keys: Vec<Value> = st
        .keys
        .iter()
        .map(|k| json!({ "name": k.name, "key": k.key, "disabled": k.disabled }))
        .collect();
    Json(json!(keys)).into_response()
}
