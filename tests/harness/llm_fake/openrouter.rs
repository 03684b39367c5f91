//! The fake's OpenRouter management API: `/api/v1/keys` (create, paged
//! list, get, patch, delete by hash) and `/api/v1/credits`.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::{crashed, error, gate, new_key, FakeKey, Shared};

fn or_data(k: &FakeKey) -> Value {
    json!({
        "hash": k.hash, "name": k.name,
        "label": format!("{}...{}", &k.key[..12], &k.key[k.key.len() - 3..]),
        "disabled": k.disabled, "limit": k.limit,
        "limit_remaining": k.limit.map(|l| (l - k.usage_monthly).max(0.0)),
        "limit_reset": k.limit_reset, "include_byok_in_limit": true,
        "usage": k.usage, "usage_daily": 0.0, "usage_weekly": 0.0,
        "usage_monthly": k.usage_monthly, "byok_usage": 0.0,
        "created_at": "2026-12-01T00:00:00Z", "updated_at": null,
    })
}

pub(super) async fn create(
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
    let Some(name) = b["name"].as_str() else {
        return error(400, "name is required");
    };
    let made = new_key(
        &mut s.state.lock().unwrap(),
        name,
        None,
        b["limit"].as_f64(),
        b["limit_reset"].as_str().map(str::to_owned),
    );
    if crash {
        return crashed();
    }
    (
        StatusCode::CREATED,
        Json(json!({ "data": or_data(&made), "key": made.key })),
    )
        .into_response()
}

pub(super) async fn list(
    State(s): State<Shared>,
    m: Method,
    u: Uri,
    h: HeaderMap,
    Query(q): Query<Vec<(String, String)>>,
) -> Response {
    if let Err(r) = gate(&s, &m, &u, &h).await {
        return r;
    }
    let offset: usize = q
        .iter()
        .find(|(k, _)| k == "offset")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let st = s.state.lock().unwrap();
    let page: Vec<Value> = st.keys.iter().skip(offset).take(100).map(or_data).collect();
    Json(json!({ "data": page })).into_response()
}

pub(super) async fn get(
    State(s): State<Shared>,
    m: Method,
    u: Uri,
    h: HeaderMap,
    Path(hash): Path<String>,
) -> Response {
    if let Err(r) = gate(&s, &m, &u, &h).await {
        return r;
    }
    let st = s.state.lock().unwrap();
    match st.keys.iter().find(|k| k.hash == hash) {
        Some(k) => Json(json!({ "data": or_data(k) })).into_response(),
        None => error(404, "Key not found"),
    }
}

pub(super) async fn patch(
    State(s): State<Shared>,
    m: Method,
    u: Uri,
    h: HeaderMap,
    Path(hash): Path<String>,
    Json(b): Json<Value>,
) -> Response {
    if let Err(r) = gate(&s, &m, &u, &h).await {
        return r;
    }
    let mut st = s.state.lock().unwrap();
    let Some(k) = st.keys.iter_mut().find(|k| k.hash == hash) else {
        return error(404, "Key not found");
    };
    if let Some(d) = b.get("disabled").and_then(Value::as_bool) {
        k.disabled = d;
    }
    if let Some(limit) = b.get("limit") {
        k.limit = limit.as_f64();
    }
    if let Some(reset) = b.get("limit_reset") {
        k.limit_reset = reset.as_str().map(str::to_owned);
    }
    Json(json!({ "data": or_data(k) })).into_response()
}

pub(super) async fn delete(
    State(s): State<Shared>,
    m: Method,
    u: Uri,
    h: HeaderMap,
    Path(hash): Path<String>,
) -> Response {
    if let Err(r) = gate(&s, &m, &u, &h).await {
        return r;
    }
    let mut st = s.state.lock().unwrap();
    let before = st.keys.len();
    st.keys.retain(|k| k.hash != hash);
    if st.keys.len() == before {
        return error(404, "Key not found");
    }
    Json(json!({ "deleted": true })).into_response()
}

pub(super) async fn credits(State(s): State<Shared>, m: Method, u: Uri, h: HeaderMap) -> Response {
    if let Err(r) = gate(&s, &m, &u, &h).await {
        return r;
    }
    let (total, used) = s.state.lock().unwrap().credits;
    Json(json!({ "data": { "total_credits": total, "total_usage": used } })).into_response()
}
