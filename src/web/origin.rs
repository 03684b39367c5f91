//! Which names berth answers to, against DNS rebinding and cross-site posts.
//!
//! A rebinding page points its own name (evil.example) at 127.0.0.1 and then
//! talks to berth as "same origin": the browser sends `Host: evil.example`.
//! So every request's Host must be one berth knows: its listen address, a
//! loopback name with the listen port, a `[[caddy.routes]]` host that proxies
//! to berth, or one of `web.allowed_hosts`; anything else gets 421. On top of
//! that, a state-changing request that a browser marks with a foreign
//! `Origin` (or, without one, `Referer`) gets 403. A request with neither
//! header is no browser form post (browsers always send Origin on POST), so
//! the CLI, scripts and the API's clients pass untouched.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;

use super::error;
use crate::config::Config;

/// The allowlist, built once from the config and the bound listen address.
#[derive(Debug, Clone)]
pub struct HostPolicy {
    listen: SocketAddr,
    /// Lower-case names, each with a port or any port (None).
    names: Vec<(String, Option<u16>)>,
}

impl HostPolicy {
    /// `listen` is the address actually bound (tests bind port 0).
    pub fn new(config: &Config, listen: SocketAddr) -> Self {
        let mut names = Vec::new();
        for route in &config.caddy.routes {
            if route
                .upstream
                .as_deref()
                .is_some_and(|u| proxies_to(u, listen))
            {
                names.push((normalise(&route.host), None));
            }
        }
        for entry in &config.web.allowed_hosts {
            let (host, port) = split_host_port(entry);
            names.push((normalise(host), port));
        }
        Self { listen, names }
    }

    /// `authority` is a Host header or an origin's host\[:port\];
    /// `default_port` applies when it carries none.
    pub fn allows(&self, authority: &str, default_port: u16) -> bool {
        let (host, port) = split_host_port(authority);
        let host = normalise(host);
        let port = port.unwrap_or(default_port);
        let listen_port = self.listen.port();
        if let Ok(ip) = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        {
            // A rebinding attacker controls names, never an IP literal the
            // browser was pointed at; still, only berth's own port.
            let ours =
                ip.is_loopback() || ip == self.listen.ip() || self.listen.ip().is_unspecified();
            if ours && port == listen_port {
                return true;
            }
        } else if host == "localhost" && port == listen_port {
            return true;
        }
        self.names
            .iter()
            .any(|(name, p)| *name == host && p.is_none_or(|p| p == port))
    }

    /// Whether an `Origin`/`Referer` value names an allowed host.
    fn allows_origin(&self, value: &str) -> bool {
        let Some((scheme, rest)) = value.split_once("://") else {
            return false; // "null" (sandboxed frames, privacy redirects) included
        };
        let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
        let authority = authority.rsplit('@').next().unwrap_or(authority);
        let default_port = match scheme.to_ascii_lowercase().as_str() {
            "http" => 80,
            "https" => 443,
            _ => return false,
        };
        !authority.is_empty() && self.allows(authority, default_port)
    }
}

/// Whether a static route's upstream (`host:port` or a URL) is berth itself.
fn proxies_to(upstream: &str, listen: SocketAddr) -> bool {
    let rest = upstream.split_once("://").map_or(upstream, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or(rest);
    let (host, port) = split_host_port(authority);
    let host = normalise(host);
    let local = host == "localhost"
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|ip| ip.is_loopback() || ip == listen.ip() || listen.ip().is_unspecified());
    local && port == Some(listen.port())
}

/// "host:port", "[v6]:port", "host" → (host, port). A bare IPv6 literal
/// without brackets has no port.
fn split_host_port(s: &str) -> (&str, Option<u16>) {
    let s = s.trim();
    if s.starts_with('[') {
        return match s.split_once("]:") {
            Some((h, p)) => (&s[..h.len() + 1], p.parse().ok()),
            None => (s, None),
        };
    }
    match s.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => (h, p.parse().ok()),
        _ => (s, None),
    }
}

fn normalise(host: &str) -> String {
    host.trim().trim_end_matches('.').to_ascii_lowercase()
}

/// Middleware: 421 for an unknown Host, 403 for a foreign Origin/Referer on
/// anything but GET/HEAD/OPTIONS.
pub async fn check(State(policy): State<Arc<HostPolicy>>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_owned()));
    // No Host at all is an HTTP/1.0 client, never a browser.
    if let Some(host) = host.filter(|h| !policy.allows(h, 80)) {
        let message = format!(
            "berth does not answer for host {host:?}; if this name is yours, add it to web.allowed_hosts"
        );
        return refuse(req.uri().path(), StatusCode::MISDIRECTED_REQUEST, &message);
    }
    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        if let Some(from) = foreign_origin(&policy, req.headers()) {
            let message = format!("refused a request sent from another site ({from})");
            return refuse(req.uri().path(), StatusCode::FORBIDDEN, &message);
        }
    }
    next.run(req).await
}

/// The offending Origin (or Referer, when there is no Origin), if foreign.
fn foreign_origin(policy: &HostPolicy, headers: &HeaderMap) -> Option<String> {
    let value = headers
        .get(header::ORIGIN)
        .or_else(|| headers.get(header::REFERER))?;
    let text = value.to_str().unwrap_or("");
    (!policy.allows_origin(text)).then(|| text.chars().take(200).collect())
}

fn refuse(path: &str, status: StatusCode, message: &str) -> Response {
    if path.starts_with("/api/") || path == "/metrics" {
        return error::json(status, message);
    }
    error::message_page(status, "Refused", message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::StaticRoute;

    fn policy(listen: &str, adjust: impl FnOnce(&mut Config)) -> HostPolicy {
        let mut config = Config::default();
        adjust(&mut config);
        HostPolicy::new(&config, listen.parse().unwrap())
    }

    #[test]
    fn loopback_names_need_the_listen_port() {
        let p = policy("127.0.0.1:7070", |_| {});
        for ok in [
            "127.0.0.1:7070",
            "localhost:7070",
            "LOCALHOST.:7070",
            "[::1]:7070",
        ] {
            assert!(p.allows(ok, 80), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:7070",
            "127.0.0.1:7071",
            "localhost",
            "10.0.0.1:7070",
            "",
        ] {
            assert!(!p.allows(bad, 80), "{bad}");
        }
        let any = policy("0.0.0.0:7070", |_| {});
        assert!(any.allows("192.0.2.7:7070", 80));
        assert!(!any.allows("192.0.2.7:8080", 80));
    }

    #[test]
    fn proxied_route_hosts_and_configured_names() {
        let p = policy("127.0.0.1:7070", |c| {
            c.caddy.routes = vec![
                StaticRoute {
                    host: "admin.example.com".into(),
                    upstream: Some("127.0.0.1:7070".into()),
                    respond: None,
                    status: 200,
                },
                StaticRoute {
                    host: "other.example.com".into(),
                    upstream: Some("127.0.0.1:9000".into()),
                    respond: None,
                    status: 200,
                },
            ];
            c.web.allowed_hosts = vec!["berth.lan".into(), "ops.lan:8443".into()];
        });
        assert!(p.allows("admin.example.com", 443));
        assert!(p.allows("Admin.Example.com:8088", 80));
        assert!(!p.allows("other.example.com", 443), "proxies elsewhere");
        assert!(p.allows("berth.lan:1234", 80));
        assert!(p.allows("ops.lan:8443", 80));
        assert!(!p.allows("ops.lan:8444", 80));
        assert!(p.allows_origin("https://admin.example.com"));
        assert!(p.allows_origin("http://127.0.0.1:7070/login?x=1"));
        assert!(!p.allows_origin("null"));
        assert!(!p.allows_origin("http://evil.example"));
        assert!(!p.allows_origin("http://127.0.0.1:7071"));
    }
}
