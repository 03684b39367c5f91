//! The Caddy JSON berth generates: routes, TLS, booting and suspended pages.

use super::*;

fn plain() -> CaddySettings {
    CaddySettings {
        admin_listen: "127.0.0.1:2019".into(),
        tls: false,
        http_port: 8080,
        https_port: 8443,
        listen_host: "127.0.0.1".into(),
        acme_email: None,
    }
}

fn tls() -> CaddySettings {
    CaddySettings {
        tls: true,
        listen_host: String::new(),
        http_port: 80,
        https_port: 443,
        acme_email: Some("ops@example.com".into()),
        ..plain()
    }
}

fn routes() -> Vec<Route> {
    vec![
        Route {
            hosts: vec!["b.test".into()],
            target: RouteTarget::Suspended,
            id: "berth-inst-2".into(),
        },
        Route {
            hosts: vec!["www.a.test".into(), "a.test".into()],
            target: RouteTarget::Upstream("127.0.0.1:8001".into()),
            id: "berth-inst-1".into(),
        },
        Route {
            hosts: vec!["status.test".into()],
            target: RouteTarget::Respond {
                status: 200,
                body: "ok".into(),
            },
            id: "berth-static-status".into(),
        },
    ]
}

fn server_routes(config: &Value) -> &Vec<Value> {
    config["apps"]["http"]["servers"][SERVER]["routes"]
        .as_array()
        .unwrap()
}

fn by_id<'a>(config: &'a Value, id: &str) -> &'a Value {
    server_routes(config)
        .iter()
        .find(|r| r["@id"] == id)
        .unwrap_or_else(|| panic!("no route {id}"))
}

#[test]
fn admin_block_is_always_written() {
    let config = generate(&plain(), &[]);
    assert_eq!(config["admin"]["listen"], "127.0.0.1:2019");
    assert_eq!(
        generate(&tls(), &routes())["admin"]["listen"],
        "127.0.0.1:2019"
    );
}

#[test]
fn static_routes_first_then_by_id_and_catch_all_last() {
    let mut rs = routes();
    // A tenant that took the provider's host is still behind it.
    rs.push(Route {
        hosts: vec!["status.test".into()],
        target: RouteTarget::Upstream("127.0.0.1:8009".into()),
        id: "berth-inst-0".into(),
    });
    let config = generate(&plain(), &rs);
    let ids: Vec<&str> = server_routes(&config)
        .iter()
        .map(|r| r["@id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            "berth-static-status",
            "berth-inst-0",
            "berth-inst-1",
            "berth-inst-2",
            CATCH_ALL_ID
        ]
    );
    let last = server_routes(&config).last().unwrap();
    assert!(
        last.get("match").is_none(),
        "catch-all must match everything"
    );
    assert_eq!(last["handle"][0]["status_code"], 404);
    for route in server_routes(&config) {
        assert_eq!(route["terminal"], true);
    }
}

#[test]
fn empty_route_list_still_has_catch_all() {
    let config = generate(&plain(), &[]);
    assert_eq!(server_routes(&config).len(), 1);
    assert_eq!(server_routes(&config)[0]["@id"], CATCH_ALL_ID);
}

#[test]
fn upstream_is_reverse_proxy_matched_by_sorted_hosts() {
    let config = generate(&plain(), &routes());
    let route = by_id(&config, "berth-inst-1");
    assert_eq!(route["match"][0]["host"], json!(["a.test", "www.a.test"]));
    let h = &route["handle"][0];
    assert_eq!(h["handler"], "reverse_proxy");
    assert_eq!(h["upstreams"][0]["dial"], "127.0.0.1:8001");
    assert_eq!(h["transport"]["dial_timeout"], DIAL_TIMEOUT);
}

#[test]
fn suspended_is_503_html_page() {
    let config = generate(&plain(), &routes());
    let h = &by_id(&config, "berth-inst-2")["handle"][0];
    assert_eq!(h["handler"], "static_response");
    assert_eq!(h["status_code"], 503);
    let body = h["body"].as_str().unwrap();
    assert!(body.contains("suspended"));
    assert!(!body.contains("http://") && !body.contains("https://"));
    assert_eq!(h["headers"]["Content-Type"][0], "text/html; charset=utf-8");
}

#[test]
fn static_route_responds_with_declared_status_and_body() {
    let config = generate(&plain(), &routes());
    let route = by_id(&config, "berth-static-status");
    assert_eq!(route["match"][0]["host"], json!(["status.test"]));
    assert_eq!(route["handle"][0]["status_code"], 200);
    assert_eq!(route["handle"][0]["body"], "ok");
}

#[test]
fn routes_without_hosts_are_skipped() {
    let mut rs = routes();
    rs.push(Route {
        hosts: vec![],
        target: RouteTarget::Suspended,
        id: "berth-inst-0".into(),
    });
    assert_eq!(
        generate(&plain(), &rs),
        generate(&plain(), &routes()),
        "a host-less route would shadow everything"
    );
}

#[test]
fn deterministic_regardless_of_input_order() {
    let a = generate(&plain(), &routes());
    let mut reversed = routes();
    reversed.reverse();
    let b = generate(&plain(), &reversed);
    assert_eq!(
        serde_json::to_vec(&a).unwrap(),
        serde_json::to_vec(&b).unwrap()
    );
    assert_eq!(config_hash(&a), config_hash(&b));
    assert_ne!(config_hash(&a), config_hash(&generate(&plain(), &[])));
}

#[test]
fn plain_http_disables_automatic_https() {
    let config = generate(&plain(), &routes());
    let server = &config["apps"]["http"]["servers"][SERVER];
    assert_eq!(server["listen"], json!(["127.0.0.1:8080"]));
    assert_eq!(server["automatic_https"]["disable"], true);
    assert!(config["apps"].get("tls").is_none());
}

#[test]
fn tls_listens_on_https_port_with_acme_policy() {
    let config = generate(&tls(), &routes());
    let http = &config["apps"]["http"];
    assert_eq!(http["servers"][SERVER]["listen"], json!([":443"]));
    assert_eq!(http["http_port"], 80);
    assert!(http["servers"][SERVER].get("automatic_https").is_none());
    let policy = &config["apps"]["tls"]["automation"]["policies"][0];
    assert_eq!(
        policy["subjects"],
        json!(["a.test", "b.test", "status.test", "www.a.test"])
    );
    assert_eq!(
        policy["issuers"],
        json!([{ "module": "acme", "email": "ops@example.com" }])
    );
}
