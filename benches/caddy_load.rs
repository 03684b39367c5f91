//! Caddy `/load` speed: how long a full config load takes for 10, 200 and
//! 1000 routes (the first load and an identical reload), against a private
//! Caddy. Speed lives here, not in tests, because a test cannot know how
//! busy the machine is.
//!
//!     cargo bench --bench caddy_load      # needs Debian's `caddy`

#[path = "../tests/harness/mod.rs"]
mod harness;
#[path = "support/results.rs"]
mod results;

use std::time::{Duration, Instant};

use berth::caddy::{config_hash, generate, CaddyAdmin, CaddySettings, Route, RouteTarget};
use harness::{free_port, CaddyProcess};
use results::{Row, Target};

const RUNS: usize = 5;

fn routes(n: usize) -> Vec<Route> {
    (0..n)
        .map(|i| Route {
            hosts: vec![format!("c{i}.test"), format!("www.c{i}.test")],
            target: if i % 10 == 0 {
                RouteTarget::Suspended
            } else {
                RouteTarget::Upstream("127.0.0.1:9".into())
            },
            id: format!("berth-inst-{i}"),
        })
        .collect()
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let caddy = tokio::task::spawn_blocking(CaddyProcess::start)
        .await
        .unwrap();
    let admin = CaddyAdmin::new(&caddy.admin_url).unwrap();
    let settings = CaddySettings {
        admin_listen: caddy.admin_addr.clone(),
        tls: false,
        http_port: free_port(),
        https_port: free_port(),
        listen_host: "127.0.0.1".into(),
        acme_email: None,
    };
    for n in [10, 200, 1000] {
        let config = generate(&settings, &routes(n));
        let (mut first, mut again) = (Vec::new(), Vec::new());
        for _ in 0..RUNS {
            // An empty config in between, so every first load is a change.
            admin.load(&generate(&settings, &[])).await.unwrap();
            let t = Instant::now();
            admin.load(&config).await.unwrap();
            first.push(t.elapsed());
            let t = Instant::now();
            admin.load(&config).await.unwrap();
            again.push(t.elapsed());
        }
        let live = admin.config().await.unwrap();
        assert_eq!(
            config_hash(&live),
            config_hash(&config),
            "read-back differs"
        );
        let (first, again) = (median(first), median(again));
        println!(
            "caddy /load of {n:>4} routes: first {first:?}, identical again {again:?} (median of {RUNS})"
        );
        if n == 1000 {
            // No target of its own (it is part of every create's budget);
            // the reference is what STACK-NOTES measured on this machine kind.
            Row::new(
                "caddy /load, 1000 routes (median of 5)",
                Target::Reference(80.0),
                first.as_secs_f64() * 1e3,
                "ms",
            )
            .record();
        }
    }
}
