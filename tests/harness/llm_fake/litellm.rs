//! The fake's LiteLLM proxy endpoints: `/key/generate` (taking the key
//! berth chose), `/key/info?key=`, `/key/update`, `/key/delete`.

use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::{crashed, error, gate, new_key, FakeKey, Shared};

fn reset_of(duration: Option<&str>) -> Option<String> {
    duration.map(|d| match d {
        "1d" => "daily".to_owned(),
        "7d" => "weekly".to_owned(),
        "30d" => "monthly".to_owned(),
        other => other.to_owned(),
    })
}

fn info_body(k: &FakeKey) -> Value {
    json!({ "key": k.key, "info": {
        "key_alias": k.name, "token": k.hash, "spend": k.usage,
        "max_budget": k.limit, "blocked": k.disabled,
        "budget_duration": k.limit_reset, "budget_reset_at": "2027-01-01T00:00:00Z",
    }})
}

pub(super) async fn generate(
    State(s): State<Shared>,
    m: Method,
    u: Uri,
    h: HeaderMap,
    Json(b): Json<Value>,
) -> Response {
    let crash = match gate(&s, &m, &u, &h).await {
        Ok(c) => c,
        Err(r) => return r,
    };
    let alias = b["key_alias"].as_str().unwrap_or_default();
    let mut st = s.state.lock().unwrap();
    let chosen = b["key"].as_str().map(str::to_owned);
    if chosen
        .as_ref()
        .is_some_and(|c| st.keys.iter().any(|k| &k.key == c))
    {
        return error(400, "key already exists");
    }
    let made = new_key(
        &mut st,
        alias,
        chosen,
        b["max_budget"].as_f64(),
        reset_of(b["budget_duration"].as_str()),
    );
    drop(st);
    if crash {
        return crashed();
    }
    Json(json!({ "key": made.key, "key_alias": made.name, "token": made.hash, "max_budget": made.limit })).into_response()
}

pub(super) async fn info(
    State(s): State<Shared>,
    m: Method,
    u: Uri,
    h: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = gate(&s, &m, &u, &h).await {
        return r;
    }
    let key = q
        .iter()
        .find(|(k, _)| k == "key")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let st = s.state.lock().unwrap();
    match st.keys.iter().find(|k| k.key == key) {
        Some(k) => Json(info_body(k)).into_response(),
        None => error(404, "Key not found"),
    }
}

pub(super) async fn update(
    State(s): State<Shared>,
    m: Method,
    u: Uri,
    h: HeaderMap,
    Json(b): Json<Value>,
) -> Response {
    if let Err(r) = gate(&s, &m, &u, &h).await {
        return r;
    }
    let mut st = s.state.lock().unwrap();
    let Some(k) = st
        .keys
        .iter_mut()
        .find(|k| Some(k.key.as_str()) == b["key"].as_str())
    else {
        return error(404, "Key not found");
    };
    if let Some(blocked) = b.get("blocked").and_then(Value::as_bool) {
        k.disabled = blocked;
    }
    if let Some(max) = b.get("max_budget") {
        k.limit = max.as_f64();
    }
    if let Some(d) = b.get("budget_duration") {
        k.limit_reset = reset_of(d.as_str());
    }
    Json(info_body(k)["info"].clone()).into_response()
}

pub(super) async fn delete(
    State(s): State<Shared>,
    m: Method,
    u: Uri,
    h: HeaderMap,
    Json(b): Json<Value>,
) -> Response {
    if let Err(r) = gate(&s, &m, &u, &h).await {
        return r;
    }
    let wanted: Vec<String> = b["keys"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    let mut st = s.state.lock().unwrap();
    let before = st.keys.len();
    st.keys.retain(|k| !wanted.contains(&k.key));
    if st.keys.len() == before {
        return error(404, "Key not found");
    }
    Json(json!({ "deleted_keys": wanted })).into_response()
}
