//! Caddy drift other than an empty restart: a route edited or removed by
//! hand through Caddy's admin API is put back within a reconcile interval,
//! by a config load, and the tenant is reachable through Caddy again.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::harness::{eventually, skip_docker, TestApp};

const UP: Duration = Duration::from_secs(90);

/// A drifted config is repaired within one reconcile interval (2 s in
/// tests) plus slack for a loaded machine.
fn repair_deadline(app: &TestApp) -> Duration {
    app.config.reconcile_interval * 2 + Duration::from_secs(10)
}

/// A request to the test's Caddy admin API: (status, body).
async fn admin(app: &TestApp, method: Method, path: &str, body: Option<Value>) -> (u16, String) {
    let mut req = app
        .http
        .request(method, format!("{}{path}", app.caddy.admin_url));
    if let Some(body) = body {
        req = req.json(&body);
    }
    let resp = req.send().await.expect("caddy admin answers");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

async fn caddy_loads(app: &TestApp) -> u64 {
    let (status, health) = app.get("/api/v1/health").await;
    assert_eq!(status, StatusCode::OK, "{health}");
    health["reconcile"]["caddy_loads"].as_u64().unwrap()
}

/// A static-site client whose page Caddy serves: (instance id, domain).
async fn served_client(app: &TestApp, name: &str) -> (i64, String) {
    let client = app.create_client(name, "p").await;
    let id = client["instances"][0]["id"].as_i64().unwrap();
    let domain = client["instances"][0]["domains"][0]
        .as_str()
        .unwrap()
        .to_owned();
    let body = app.wait_caddy(&domain, 200, UP).await;
    assert!(body.contains(&format!("<h1>{name}</h1>")), "{body}");
    (id, domain)
}

fn dial_path(instance: i64) -> String {
    format!("/id/berth-instance-{instance}/handle/0/upstreams/0/dial")
}

/// Waits until `domain` serves `name`'s own page again and Caddy was
/// reloaded since `loads_before`.
async fn wait_repaired(app: &TestApp, domain: &str, name: &str, loads_before: u64) {
    let page = format!("<h1>{name}</h1>");
    eventually(
        &format!("{domain} repaired"),
        repair_deadline(app),
        || async {
            let served =
                matches!(app.through_caddy(domain, "/"), Some((200, b)) if b.contains(&page));
            (served && caddy_loads(app).await > loads_before).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_edited_to_another_upstream_is_put_back() {
    if skip_docker() {
        return;
    }
    let app = TestApp::spawn().await;
    app.create_plan("p", 0.25, "32MiB").await;
    let (alpha, alpha_domain) = served_client(&app, "Alpha").await;
    let (bravo, _) = served_client(&app, "Bravo").await;
    let (status, alpha_dial) = admin(&app, Method::GET, &dial_path(alpha), None).await;
    assert_eq!(status, 200, "{alpha_dial}");
    let (status, bravo_dial) = admin(&app, Method::GET, &dial_path(bravo), None).await;
    assert_eq!(status, 200, "{bravo_dial}");
    assert!(alpha_dial != bravo_dial, "{alpha_dial} vs {bravo_dial}");

    // Cross-wired by hand: Alpha's domain now proxies to Bravo's container,
    // a drift that answers 200 with the wrong tenant's page.
    let loads = caddy_loads(&app).await;
    let bravo_dial: Value = serde_json::from_str(&bravo_dial).unwrap();
    let (status, body) = admin(&app, Method::PATCH, &dial_path(alpha), Some(bravo_dial)).await;
    assert_eq!(status, 200, "{body}");

    wait_repaired(&app, &alpha_domain, "Alpha", loads).await;
    let (status, dial) = admin(&app, Method::GET, &dial_path(alpha), None).await;
    assert_eq!((status, dial), (200, alpha_dial));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_route_removed_by_hand_is_put_back() {
    if skip_docker() {
        return;
    }
    let app = TestApp::spawn().await;
    app.create_plan("p", 0.25, "32MiB").await;
    let (id, domain) = served_client(&app, "Gamma").await;
    let (keep_id, keep_domain) = served_client(&app, "Delta").await;

    let loads = caddy_loads(&app).await;
    let route = format!("/id/berth-instance-{id}");
    let (status, body) = admin(&app, Method::DELETE, &route, None).await;
    assert_eq!(status, 200, "{body}");

    wait_repaired(&app, &domain, "Gamma", loads).await;
    let (status, body) = admin(&app, Method::GET, &route, None).await;
    assert_eq!(status, 200, "{body}");
    let route: Value = serde_json::from_str(&body).unwrap();
    let hosts = route["match"][0]["host"].as_array().unwrap();
    assert!(hosts.contains(&json!(domain)), "{route}");
    // The other tenant's route was never disturbed.
    let (status, _) = admin(
        &app,
        Method::GET,
        &format!("/id/berth-instance-{keep_id}"),
        None,
    )
    .await;
    assert_eq!(status, 200);
    let body = app.wait_caddy(&keep_domain, 200, UP).await;
    assert!(body.contains("<h1>Delta</h1>"), "{body}");
}
