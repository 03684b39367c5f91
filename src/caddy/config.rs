//! Routes → the whole Caddy JSON config, as a pure function.
//!
//! berth never patches Caddy piecemeal: `/load` of a full config costs about
//! as much as a one-route PATCH (see STACK-NOTES), so the reconciler generates
//! everything from the store and loads it whenever [`config_hash`] changes.

use serde_json::{json, Map, Value};

pub use super::hash::config_hash;

/// The server name inside `apps.http.servers`; fixed so configs stay comparable.
const SERVER: &str = "berth";
/// `@id` of the trailing catch-all route.
pub const CATCH_ALL_ID: &str = "berth-catch-all";
/// Short, so a stopped container fails fast with 502 instead of hanging clients.
const DIAL_TIMEOUT: &str = "3s";

#[derive(Debug, Clone, PartialEq)]
pub struct CaddySettings {
    /// Written into the generated `admin` block: `/load` replaces everything,
    /// and without it the admin endpoint would move back to localhost:2019.
    pub admin_listen: String,
    /// false → plain HTTP on `http_port`; true → HTTPS on `https_port` with
    /// ACME, and Caddy's automatic HTTP→HTTPS redirects on `http_port`.
    pub tls: bool,
    pub http_port: u16,
    pub https_port: u16,
    /// "" for all interfaces, or e.g. "127.0.0.1" in tests.
    pub listen_host: String,
    pub acme_email: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RouteTarget {
    /// "127.0.0.1:8001" → reverse_proxy.
    Upstream(String),
    /// → 503 with a small self-contained HTML page.
    Suspended,
    /// A static route declared in berth's config file.
    Respond { status: u16, body: String },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Route {
    pub hosts: Vec<String>,
    pub target: RouteTarget,
    /// Stable Caddy `@id`, e.g. "berth-inst-12".
    pub id: String,
}

/// The page a suspended client's visitors see. Inline CSS only: Caddy serves
/// it on the client's own hostname, so it must not load anything else.
pub const SUSPENDED_PAGE: &str = "<!doctype html>\n\
<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>Service suspended</title>\
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:15vh auto;padding:0 1rem;color:#222}\
h1{font-size:1.4rem}</style></head>\
<body><h1>This service is suspended</h1>\
<p>The service at this address is temporarily suspended. \
Please contact its owner or your provider.</p></body></html>\n";

/// Seconds a visitor's browser (or a crawler) is asked to wait while an
/// app boots: the real Open WebUI needs 35–50 s after a recreate.
pub const BOOTING_RETRY_AFTER: &str = "30";

/// The page visitors see while their app boots; like [`SUSPENDED_PAGE`], it
/// loads nothing else. It reloads itself so a waiting visitor lands on the
/// app once it is up.
pub const BOOTING_PAGE: &str = "<!doctype html>\n\
<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<meta http-equiv=\"refresh\" content=\"10\">\
<title>Being updated</title>\
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:15vh auto;padding:0 1rem;color:#222}\
h1{font-size:1.4rem}</style></head>\
<body><h1>This service is being updated</h1>\
<p>It will be back in a minute. This page reloads by itself.</p></body></html>\n";

/// `@id` of the error route that serves [`BOOTING_PAGE`].
pub const BOOTING_ID: &str = "berth-booting";

/// `@id` prefix of the routes declared in berth's config (`[[caddy.routes]]`).
pub const STATIC_ID_PREFIX: &str = "berth-static-";

/// The whole Caddy config for `routes`. Equal inputs give byte-equal JSON:
/// routes are sorted by id and hosts within a route are sorted and deduped.
/// Static routes come first, so a tenant domain can never shadow the
/// provider's own hosts (such as the admin UI's). Routes without hosts are
/// skipped: a route with no host matcher would catch every request and
/// shadow all routes after it.
pub fn generate(settings: &CaddySettings, routes: &[Route]) -> Value {
    let mut sorted: Vec<&Route> = routes.iter().filter(|r| !r.hosts.is_empty()).collect();
    sorted.sort_by(|a, b| {
        let tenant = |r: &Route| !r.id.starts_with(STATIC_ID_PREFIX);
        (tenant(a), &a.id, &a.hosts).cmp(&(tenant(b), &b.id, &b.hosts))
    });

    let mut caddy_routes: Vec<Value> = Vec::with_capacity(sorted.len() + 1);
    let mut all_hosts: Vec<String> = Vec::new();
    for route in sorted {
        let mut hosts = route.hosts.clone();
        hosts.sort();
        hosts.dedup();
        all_hosts.extend(hosts.iter().cloned());
        caddy_routes.push(json!({
            "@id": route.id,
            "match": [{ "host": hosts }],
            "handle": [handler(&route.target)],
            "terminal": true,
        }));
    }
    // Without this Caddy answers unknown hosts with 200 and an empty body.
    caddy_routes.push(json!({
        "@id": CATCH_ALL_ID,
        "handle": [{
            "handler": "static_response",
            "status_code": 404,
            "body": "unknown host\n",
        }],
        "terminal": true,
    }));

    let port = if settings.tls {
        settings.https_port
    } else {
        settings.http_port
    };
    let mut server = Map::new();
    server.insert(
        "listen".into(),
        json!([format!("{}:{}", settings.listen_host, port)]),
    );
    server.insert("routes".into(), Value::Array(caddy_routes));
    // Nothing answers on a tenant's port while its app is (re)created,
    // restored, updated or still booting: the proxy's dial fails (502) and
    // visitors get the "back in a minute" page instead. Keyed on the failed
    // dial rather than on berth's idea of the phase, so an app is served
    // the moment it listens (no wait for its first health check) and a
    // crashed one is covered too.
    server.insert(
        "errors".into(),
        json!({ "routes": [{
            "@id": BOOTING_ID,
            "match": [{ "expression": "{http.error.status_code} == 502" }],
            "handle": [booting_page()],
            "terminal": true,
        }] }),
    );
    if !settings.tls {
        server.insert("automatic_https".into(), json!({ "disable": true }));
    }

    let mut apps = Map::new();
    apps.insert(
        "http".into(),
        json!({
            "http_port": settings.http_port,
            "https_port": settings.https_port,
            "servers": { SERVER: Value::Object(server) },
        }),
    );
    if settings.tls {
        all_hosts.sort();
        all_hosts.dedup();
        let mut issuer = Map::new();
        issuer.insert("module".into(), json!("acme"));
        if let Some(email) = &settings.acme_email {
            issuer.insert("email".into(), json!(email));
        }
        let mut policy = Map::new();
        // A policy with no subjects would apply to every name; only emit
        // subjects when there are some.
        if !all_hosts.is_empty() {
            policy.insert("subjects".into(), json!(all_hosts));
        }
        policy.insert("issuers".into(), json!([Value::Object(issuer)]));
        apps.insert(
            "tls".into(),
            json!({ "automation": { "policies": [Value::Object(policy)] } }),
        );
    }

    json!({
        "admin": { "listen": settings.admin_listen },
        "apps": Value::Object(apps),
    })
}

/// 503 "being updated" with `Retry-After`; never cached, so the app shows
/// as soon as it answers.
fn booting_page() -> Value {
    json!({
        "handler": "static_response",
        "status_code": 503,
        "headers": {
            "Content-Type": ["text/html; charset=utf-8"],
            "Retry-After": [BOOTING_RETRY_AFTER],
            "Cache-Control": ["no-store"],
        },
        "body": BOOTING_PAGE,
    })
}

fn handler(target: &RouteTarget) -> Value {
    match target {
        // Caddy keeps the client's Host header and sets X-Forwarded-For/
        // -Proto/-Host by default, which is what tenant apps expect.
        RouteTarget::Upstream(dial) => json!({
            "handler": "reverse_proxy",
            "upstreams": [{ "dial": dial }],
            "transport": { "protocol": "http", "dial_timeout": DIAL_TIMEOUT },
        }),
        RouteTarget::Suspended => json!({
            "handler": "static_response",
            "status_code": 503,
            "headers": { "Content-Type": ["text/html; charset=utf-8"] },
            "body": SUSPENDED_PAGE,
        }),
        // No Content-Type: Go sniffs it from the body, so both HTML and plain
        // text bodies from the config file come out right.
        RouteTarget::Respond { status, body } => json!({
            "handler": "static_response",
            "status_code": status,
            "body": body,
        }),
    }
}

#[cfg(test)]
#[path = "config_tests.rs"]
mod tests;
