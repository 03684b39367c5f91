//! A local stand-in for the LLM key providers, on a loopback port: the
//! OpenRouter management API under `/api/v1` and the LiteLLM proxy's key
//! endpoints under `/key`, with the shapes their documentation gives, one
//! management key, and failures a test injects: a status (401, 402, 500),
//! 429 with Retry-After, a slow answer, or a crash after create (the key is
//! made, the answer never arrives). Tests set each key's spend.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};

mod inference;
mod litellm;
mod openrouter;

pub use inference::MODELS;

/// One key the fake holds. `key` is the plaintext.
#[derive(Debug, Clone, PartialEq)]
pub struct FakeKey {
    pub hash: String,
    pub name: String,
    pub key: String,
    pub disabled: bool,
    pub limit: Option<f64>,
    pub limit_reset: Option<String>,
    pub usage: f64,
    pub usage_monthly: f64,
}

/// What goes wrong with the next matching request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fault {
    Status(u16),
    RateLimited {
        retry_after_s: u64,
    },
    /// The answer comes after this long (the work is done all the same).
    Slow(Duration),
    /// A create makes its key, then the connection breaks before the body.
    CrashAfterCreate,
}

struct Injected {
    fault: Fault,
    /// "POST /api/v1/keys", "GET /key/info", ...: method and path start.
    on: String,
    times: usize,
}

#[derive(Default)]
struct FakeState {
    keys: Vec<FakeKey>,
    next: u64,
    faults: Vec<Injected>,
    requests: Vec<String>,
    credits: (f64, f64),
    /// Bearers of inference calls (models, chat), in order.
    bearers: Vec<String>,
}

#[derive(Clone)]
pub struct LlmFake {
    pub addr: String,
    pub management_key: String,
    state: Arc<Mutex<FakeState>>,
    task: Arc<tokio::task::JoinHandle<()>>,
}

impl Drop for LlmFake {
    fn drop(&mut self) {
        if Arc::strong_count(&self.task) == 1 {
            self.task.abort();
        }
    }
}

#[derive(Clone)]
struct Shared {
    state: Arc<Mutex<FakeState>>,
    management_key: String,
}

impl LlmFake {
    pub async fn start() -> LlmFake {
        Self::start_on("127.0.0.1:0").await
    }

    /// On `addr` ("0.0.0.0:0" for containers on a docker bridge to reach it).
    pub async fn start_on(addr: &str) -> LlmFake {
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let management_key = format!("sk-or-mgmt-{}", super::unique("k"));
        let state = Arc::new(Mutex::new(FakeState {
            credits: (100.0, 0.0),
            ..FakeState::default()
        }));
        let shared = Shared {
            state: state.clone(),
            management_key: management_key.clone(),
        };
        let app = Router::new()
            .route(
                "/api/v1/keys",
                get(openrouter::list).post(openrouter::create),
            )
            .route(
                "/api/v1/keys/{hash}",
                get(openrouter::get)
                    .patch(openrouter::patch)
                    .delete(openrouter::delete),
            )
            .route("/api/v1/credits", get(openrouter::credits))
            .route("/api/v1/models", get(inference::models))
            .route("/api/v1/chat/completions", post(inference::chat))
            .route("/models", get(inference::models))
            .route("/chat/completions", post(inference::chat))
            .route("/_fake/bearers", get(inference::bearers))
            .route("/_fake/keys", get(inference::keys))
            .route("/key/generate", post(litellm::generate))
            .route("/key/info", get(litellm::info))
            .route("/key/update", post(litellm::update))
            .route("/key/delete", post(litellm::delete))
            .with_state(shared);
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        LlmFake {
            addr,
            management_key,
            state,
            task: Arc::new(task),
        }
    }

    /// `[llm] base_url` for OpenRouter (the API root berth appends `/v1/keys` to).
    pub fn openrouter_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// `[llm] base_url` for LiteLLM.
    pub fn litellm_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The next `times` requests starting with `on` ("POST /api/v1/keys") get `fault`.
    pub fn inject(&self, on: &str, fault: Fault, times: usize) {
        self.lock().faults.push(Injected {
            fault,
            on: on.to_owned(),
            times,
        });
    }

    /// Drops every injected fault not yet used up.
    pub fn clear_faults(&self) {
        self.lock().faults.clear();
    }

    pub fn keys(&self) -> Vec<FakeKey> {
        self.lock().keys.clone()
    }

    pub fn key_named(&self, name: &str) -> Option<FakeKey> {
        self.keys().into_iter().find(|k| k.name == name)
    }

    /// Sets a key's spend (total and this month).
    pub fn set_usage(&self, name: &str, usage: f64, usage_monthly: f64) {
        let mut s = self.lock();
        let key = s
            .keys
            .iter_mut()
            .find(|k| k.name == name)
            .expect("key exists");
        key.usage = usage;
        key.usage_monthly = usage_monthly;
    }

    /// Puts a key there as if someone (or a lost create) had made it.
    pub fn plant(&self, name: &str) -> FakeKey {
        let mut s = self.lock();
        new_key(&mut s, name, None, None, None)
    }

    pub fn set_credits(&self, total: f64, used: f64) {
        self.lock().credits = (total, used);
    }

    /// "METHOD /path" of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.lock().requests.clone()
    }

    /// Bearers of the inference calls so far (which key an instance used).
    pub fn bearers(&self) -> Vec<String> {
        self.lock().bearers.clone()
    }

    /// Where an instance reaches the fake's inference side, given the
    /// host address containers see it at.
    pub fn inference_url(&self, host: &str) -> String {
        let port = self.addr.rsplit(':').next().unwrap_or_default();
        format!("http://{host}:{port}/api/v1")
    }

    pub fn clear_requests(&self) {
        self.lock().requests.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, FakeState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

fn new_key(
    s: &mut FakeState,
    name: &str,
    key: Option<String>,
    limit: Option<f64>,
    reset: Option<String>,
) -> FakeKey {
    use sha2::Digest;
    s.next += 1;
    let key = key.unwrap_or_else(|| {
        format!(
            "sk-or-v1-{:064x}",
            rand::random::<u128>() ^ u128::from(s.next)
        )
    });
    let made = FakeKey {
        hash: hex::encode(sha2::Sha256::digest(key.as_bytes())),
        name: name.to_owned(),
        key,
        disabled: false,
        limit,
        limit_reset: reset,
        usage: 0.0,
        usage_monthly: 0.0,
    };
    s.keys.push(made.clone());
    made
}

fn error(status: u16, message: &str) -> Response {
    let code = StatusCode::from_u16(status).unwrap();
    (
        code,
        Json(json!({ "error": { "code": status, "message": message } })),
    )
        .into_response()
}

/// Auth, the request log and injected faults, before any handler's work.
/// `Err` is the answer to give instead; `Ok(true)` means crash after create.
async fn gate(
    s: &Shared,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<bool, Response> {
    let line = format!("{method} {}", uri.path());
    let fault = {
        let mut st = s.state.lock().unwrap();
        st.requests.push(line.clone());
        let hit = st
            .faults
            .iter_mut()
            .find(|f| f.times > 0 && line.starts_with(&f.on));
        hit.map(|f| {
            f.times -= 1;
            f.fault
        })
    };
    let bearer = format!("Bearer {}", s.management_key);
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(bearer.as_str()) {
        return Err(error(401, "No auth credentials found"));
    }
    match fault {
        None => Ok(false),
        Some(Fault::Status(402)) => Err(error(402, "Insufficient credits")),
        Some(Fault::Status(code)) => Err(error(code, "injected failure")),
        Some(Fault::RateLimited { retry_after_s }) => {
            let mut resp = error(429, "Rate limit exceeded");
            resp.headers_mut()
                .insert("retry-after", retry_after_s.to_string().parse().unwrap());
            Err(resp)
        }
        Some(Fault::Slow(d)) => {
            tokio::time::sleep(d).await;
            Ok(false)
        }
        Some(Fault::CrashAfterCreate) => Ok(true),
    }
}

/// A 201 whose body breaks off: the client sees a broken connection.
fn crashed() -> Response {
    let body = futures_util::stream::once(async {
        Err::<axum::body::Bytes, _>(std::io::Error::other("crashed after create"))
    });
    (StatusCode::CREATED, Body::from_stream(body)).into_response()
}
