//! Desired container specs and routes from rows: placeholders, secrets, limits, shadowed domains.

use std::collections::BTreeMap;

use super::*;
use crate::blueprint::Blueprint;
use crate::caddy::RouteTarget;
use crate::config::StaticRoute;
use crate::domain::Phase;

pub(crate) fn row(id: i64, status: &str, desired: &str) -> InstanceRow {
    InstanceRow {
        id,
        client_id: id,
        client_slug: format!("c{id}"),
        client_name: "Acme & Co".into(),
        client_status: status.parse().unwrap(),
        name: "main".into(),
        blueprint: "app".into(),
        image: "app:1".into(),
        host_port: 8000 + id as u16,
        desired: desired.parse().unwrap(),
        env: BTreeMap::from([("EXTRA".into(), "1".into())]),
        secrets: BTreeMap::from([("SECRET".into(), "s3cr3t".into())]).into(),
        restart_gen: 2,
        restart_done_gen: 1,
        phase: Phase::Running,
        message: String::new(),
        container_id: None,
        observed_at: None,
        created_at: "now".into(),
        domains: vec![format!("c{id}.example.com")],
        plan: "p".into(),
        cpus: 0.5,
        memory: 64 << 20,
        memory_reservation: None,
        storage: None,
        network: None,
        image_tag: None,
        plan_image_tag: None,
        image_id: None,
        desired_image_id: None,
        desired_image_ref: None,
        image_digest: None,
    }
}

fn blueprints() -> Blueprints {
    let text = "image = \"app:1\"\ninternal_port = 80\ndata_mount = \"/data\"\n[env]\nNAME = \"{client_name} at {domain}\"\nEXTRA = \"0\"\n";
    Blueprints::from_list(vec![Blueprint::parse("app", text).unwrap()])
}

#[test]
fn spec_fills_placeholders_and_keeps_secrets_and_overrides() {
    let config = Config::default();
    let spec = spec_for(
        &row(1, "active", "running"),
        &blueprints(),
        &config,
        &Injections::default(),
    )
    .unwrap()
    .spec;
    let env: BTreeMap<_, _> = spec.env.iter().cloned().collect();
    assert_eq!(env["NAME"], "Acme & Co at c1.example.com");
    assert_eq!(env["SECRET"], "s3cr3t");
    assert_eq!(
        env["EXTRA"], "1",
        "instance env overrides the blueprint default"
    );
    assert_eq!(spec.name, "berth-c1");
    assert_eq!(spec.nano_cpus, 500_000_000);
    assert!(spec.data_dir.is_absolute());
}

#[test]
fn a_pinned_tag_changes_the_image_and_so_the_spec_hash() {
    let config = Config::default();
    let mut r = row(1, "active", "running");
    r.image = "registry:5000/team/app:1".into();
    let base = spec_for(&r, &blueprints(), &config, &Injections::default())
        .unwrap()
        .spec;
    assert_eq!(base.image, "registry:5000/team/app:1");
    r.plan_image_tag = Some("2".into());
    let plan = spec_for(&r, &blueprints(), &config, &Injections::default())
        .unwrap()
        .spec;
    assert_eq!(plan.image, "registry:5000/team/app:2");
    r.image_tag = Some("3".into());
    let own = spec_for(&r, &blueprints(), &config, &Injections::default())
        .unwrap()
        .spec;
    assert_eq!(
        own.image, "registry:5000/team/app:3",
        "the instance's pin wins"
    );
    assert_ne!(base.hash(), plan.hash());
    assert_ne!(plan.hash(), own.hash());
    r.image = "ghcr.io/x/y@sha256:abcd".into();
    assert_eq!(r.resolved_image(), "ghcr.io/x/y:3");
}

#[test]
fn public_url_follows_caddys_scheme_and_port() {
    let text = "image = \"app:1\"\ninternal_port = 80\ndata_mount = \"/data\"\n[env]\nURL = \"{public_url}\"\n";
    let bps = Blueprints::from_list(vec![Blueprint::parse("app", text).unwrap()]);
    let url = |config: &Config| {
        let inj = Injections::default();
        let spec = spec_for(&row(1, "active", "running"), &bps, config, &inj)
            .unwrap()
            .spec;
        spec.env.into_iter().find(|(k, _)| k == "URL").unwrap().1
    };
    let mut config = Config::default();
    assert_eq!(url(&config), "http://c1.example.com:8088");
    config.caddy.tls = true;
    config.caddy.https_port = 443;
    assert_eq!(url(&config), "https://c1.example.com");
}

#[test]
fn wants_follow_client_and_instance_state() {
    let config = Config::default();
    let rows = [
        row(1, "active", "running"),
        row(2, "suspended", "running"),
        row(3, "active", "stopped"),
        row(4, "active", "absent"),
    ];
    let mut missing = row(5, "active", "running");
    missing.blueprint = "gone".into();
    let mut all = rows.to_vec();
    all.push(missing);
    let d = desired(&all, &blueprints(), &config, &Injections::default());
    let wants: Vec<DesiredState> = d.instances.iter().map(|i| i.want).collect();
    assert_eq!(
        wants,
        vec![
            DesiredState::Running,
            DesiredState::Stopped,
            DesiredState::Stopped,
            DesiredState::Absent
        ]
    );
    assert_eq!(d.instances[0].restart, Some(2));
    assert_eq!(
        d.invalid,
        vec![(5, "blueprint gone is not installed".to_string())]
    );
    assert_eq!(d.known.len(), 5);
}

#[test]
fn routes_per_state_plus_static_ones() {
    let mut config = Config::default();
    config.caddy.routes = vec![StaticRoute {
        host: "status.example.com".into(),
        upstream: None,
        respond: Some("up".into()),
        status: 200,
    }];
    let rows = [
        row(1, "active", "running"),
        row(2, "suspended", "running"),
        row(3, "active", "stopped"),
        row(4, "active", "absent"),
    ];
    let r = routes(&rows, &config);
    assert_eq!(r.len(), 4);
    assert_eq!(r[0].target, RouteTarget::Upstream("127.0.0.1:8001".into()));
    assert_eq!(r[1].target, RouteTarget::Suspended);
    assert!(matches!(
        r[2].target,
        RouteTarget::Respond { status: 503, .. }
    ));
    assert_eq!(r[3].hosts, vec!["status.example.com".to_string()]);
    // Whatever the phase, a running client's route is its upstream: the
    // "being updated" page comes from Caddy's error route when nothing
    // answers there (caddy::config).
    let mut starting = row(1, "active", "running");
    for phase in [
        Phase::Starting,
        Phase::Creating,
        Phase::Pulling,
        Phase::Unhealthy,
    ] {
        starting.phase = phase;
        let r = routes(std::slice::from_ref(&starting), &config);
        let upstream = RouteTarget::Upstream("127.0.0.1:8001".into());
        assert_eq!(r[0].target, upstream, "{phase}");
    }
    assert_eq!(
        r[3].target,
        RouteTarget::Respond {
            status: 200,
            body: "up".into()
        }
    );
}

#[test]
fn shadowed_domains_are_found() {
    let mut config = Config::default();
    config.caddy.routes = vec![StaticRoute {
        host: "*.example.com".into(),
        upstream: Some("127.0.0.1:9".into()),
        respond: None,
        status: 200,
    }];
    let mut other = row(2, "active", "running");
    other.domains = vec!["c2.example.org".into()];
    let rows = [row(1, "active", "running"), other];
    assert_eq!(
        shadowed(&rows, &config),
        vec![(1, "c1.example.com".into(), "*.example.com".into())]
    );
}
