//! Turns store rows into the container specs and routes that should exist.
//! Pure, like `plan`: the worker feeds it rows and the blueprints.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use crate::blueprint::{Blueprints, Placeholders};
use crate::caddy::{CaddySettings, Route, RouteTarget};
use crate::config::Config;
use crate::docker::{ContainerSpec, HealthSpec};
use crate::domain::{ClientStatus, DesiredState};
use crate::store::InstanceRow;

use super::inject::{inject, Injections};
use super::plan::DesiredInstance;

/// The desired instances, every known instance's network, the instances
/// whose spec could not be built (with why) and those waiting for
/// something berth is still making (their LLM key).
pub struct Desired {
    pub instances: Vec<DesiredInstance>,
    pub known: HashMap<i64, String>,
    pub invalid: Vec<(i64, String)>,
    pub waiting: Vec<(i64, String)>,
}

/// Why an instance has no spec.
#[derive(Debug, PartialEq)]
pub enum Unbuilt {
    Invalid(String),
    Waiting(String),
}

/// A spec and what was injected into it.
pub struct Built {
    pub spec: ContainerSpec,
    pub llm_key: Option<i64>,
    pub admin_pending: bool,
    /// The hash of the same spec with the admin account still in its env.
    pub also_ok: Option<String>,
}

pub fn desired(
    rows: &[InstanceRow],
    blueprints: &Blueprints,
    config: &Config,
    inj: &Injections,
) -> Desired {
    let mut out = Desired {
        instances: Vec::new(),
        known: HashMap::new(),
        invalid: Vec::new(),
        waiting: Vec::new(),
    };
    for row in rows {
        out.known.insert(row.id, network_of(row, config));
        match spec_for(row, blueprints, config, inj) {
            Ok(Built {
                spec,
                llm_key,
                admin_pending,
                also_ok,
            }) => {
                // A suspended client's instances stay, stopped.
                let want = match (row.desired, row.client_status) {
                    (DesiredState::Absent, _) => DesiredState::Absent,
                    (_, ClientStatus::Suspended) => DesiredState::Stopped,
                    (desired, ClientStatus::Active) => desired,
                };
                let restart = (row.restart_gen > row.restart_done_gen).then_some(row.restart_gen);
                out.instances.push(DesiredInstance {
                    id: row.id,
                    spec_hash: spec.hash(),
                    spec,
                    want,
                    restart,
                    also_ok,
                    llm_key,
                    admin_pending,
                    image_id: row.pinned_image_id().map(str::to_owned),
                    seen_image: (row.desired_image_id.clone(), row.desired_image_ref.clone()),
                });
            }
            Err(Unbuilt::Invalid(why)) => out.invalid.push((row.id, why)),
            Err(Unbuilt::Waiting(why)) => out.waiting.push((row.id, why)),
        }
    }
    out
}

pub fn spec_for(
    row: &InstanceRow,
    blueprints: &Blueprints,
    config: &Config,
    inj: &Injections,
) -> Result<Built, Unbuilt> {
    let bp = blueprints
        .get(&row.blueprint)
        .ok_or_else(|| Unbuilt::Invalid(format!("blueprint {} is not installed", row.blueprint)))?;
    let fill = placeholders(row, config);
    // Later sources win: blueprint defaults, then the instance's own env,
    // then secrets, then what berth injects (a client cannot override its key).
    let mut merged: BTreeMap<String, String> = bp
        .env
        .iter()
        .map(|(k, v)| (k.clone(), fill.fill(v, false)))
        .collect();
    merged.extend(row.env.clone());
    merged.extend(row.secrets.clone().into_inner());
    let injected = match inject(&mut merged, bp, row, inj) {
        Ok(injected) => injected,
        // Its keys are deleted with it: an instance on its way out waits
        // for nothing (its container goes whatever its env).
        Err(_) if row.desired == DesiredState::Absent => Default::default(),
        Err(why) => return Err(Unbuilt::Waiting(why)),
    };
    let spec = container_spec(row, bp, config, merged.into_iter().collect());
    let also_ok = injected.with_admin.map(|env| {
        let mut with = spec.clone();
        with.env = env.into_iter().collect();
        with.hash()
    });
    Ok(Built {
        spec,
        llm_key: injected.key_id,
        admin_pending: injected.admin_pending,
        also_ok,
    })
}

fn container_spec(
    row: &InstanceRow,
    bp: &crate::blueprint::Blueprint,
    config: &Config,
    env: Vec<(String, String)>,
) -> ContainerSpec {
    let name = config.container_name(&row.client_slug, &row.name);
    ContainerSpec {
        name: name.clone(),
        image: row.resolved_image(),
        command: bp.command.clone(),
        env,
        internal_port: bp.internal_port,
        bind_address: config.bind_address,
        host_port: row.host_port,
        data_dir: absolute(config.instance_data_dir(&row.client_slug, &row.name)),
        data_mount: bp.data_mount.clone(),
        nano_cpus: (row.cpus * 1e9).round() as i64,
        memory: row.memory as i64,
        memory_reservation: row.memory_reservation.map(|m| m as i64),
        pids_limit: config.docker.pids_limit,
        health: bp.health.as_ref().map(|h| HealthSpec {
            test: h.test.clone(),
            interval_s: h.interval,
            timeout_s: h.timeout,
            retries: h.retries,
            start_period_s: h.start_period,
        }),
        network: network_of(row, config),
        owner: config.docker.owner.clone(),
        instance_id: row.id,
        client: row.client_slug.clone(),
        user: bp.user.clone(),
        cap_add: bp.cap_add.clone(),
        create_from: row.pinned_image_id().map(str::to_owned),
    }
}

/// The instance's network: the pool network it adopted, else (made before
/// the pool, or while it was empty) one named like its container.
pub fn network_of(row: &InstanceRow, config: &Config) -> String {
    match &row.network {
        Some(adopted) => adopted.clone(),
        None => config.container_name(&row.client_slug, &row.name),
    }
}

/// What an instance's blueprint placeholders are filled with: its first
/// domain stands for the instance.
pub fn placeholders<'a>(row: &'a InstanceRow, config: &Config) -> Placeholders<'a> {
    let domain = row.domains.first().map(String::as_str).unwrap_or("");
    Placeholders {
        client: &row.client_slug,
        client_name: &row.client_name,
        instance: &row.name,
        domain,
        port: row.host_port,
        public_url: crate::blueprint::public_url(
            domain,
            config.caddy.tls,
            config.caddy.http_port,
            config.caddy.https_port,
        ),
    }
}

/// Docker needs absolute bind-mount sources; a relative data dir is taken
/// from the daemon's working directory.
fn absolute(path: std::path::PathBuf) -> std::path::PathBuf {
    if path.is_absolute() {
        path
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(&path))
            .unwrap_or(path)
    }
}

/// One Caddy route per instance with domains, plus the config's static routes.
pub fn routes(rows: &[InstanceRow], config: &Config) -> Vec<Route> {
    let upstream_host = match config.bind_address {
        IpAddr::V4(a) if a.is_unspecified() => "127.0.0.1".to_owned(),
        IpAddr::V6(a) if a.is_unspecified() => "[::1]".to_owned(),
        IpAddr::V6(a) => format!("[{a}]"),
        a => a.to_string(),
    };
    let mut routes: Vec<Route> = rows
        .iter()
        .filter(|r| r.desired.is_live() && !r.domains.is_empty())
        .map(|r| Route {
            id: format!("berth-instance-{}", r.id),
            hosts: r.domains.clone(),
            target: if r.client_status == ClientStatus::Suspended {
                RouteTarget::Suspended
            } else if r.desired == DesiredState::Stopped {
                RouteTarget::Respond {
                    status: 503,
                    body: "This service is stopped.\n".into(),
                }
            } else {
                RouteTarget::Upstream(format!("{upstream_host}:{}", r.host_port))
            },
        })
        .collect();
    for (i, r) in config.caddy.routes.iter().enumerate() {
        let target = match (&r.upstream, &r.respond) {
            (Some(up), _) => RouteTarget::Upstream(up.clone()),
            (None, body) => RouteTarget::Respond {
                status: r.status,
                body: body.clone().unwrap_or_default(),
            },
        };
        routes.push(Route {
            id: format!("{}{i}", crate::caddy::config::STATIC_ID_PREFIX),
            hosts: vec![r.host.clone()],
            target,
        });
    }
    routes
}

/// Tenant domains a `[[caddy.routes]]` host matches (added to the config
/// after the tenant took them): (instance id, domain, static host). Static
/// routes come first in Caddy, so these tenants are unreachable there.
pub fn shadowed(rows: &[InstanceRow], config: &Config) -> Vec<(i64, String, String)> {
    let mut out = Vec::new();
    for row in rows.iter().filter(|r| r.desired.is_live()) {
        for domain in &row.domains {
            let Ok(host) = crate::domain::Hostname::parse(domain) else {
                continue;
            };
            if let Some(r) = config
                .caddy
                .routes
                .iter()
                .find(|r| host.matched_by(&r.host))
            {
                out.push((row.id, domain.clone(), r.host.clone()));
            }
        }
    }
    out
}

pub fn caddy_settings(config: &Config) -> CaddySettings {
    let admin_listen = config
        .caddy
        .admin
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .to_owned();
    CaddySettings {
        admin_listen,
        tls: config.caddy.tls,
        http_port: config.caddy.http_port,
        https_port: config.caddy.https_port,
        listen_host: config.caddy.listen_host.clone(),
        acme_email: config.caddy.acme_email.clone(),
    }
}

#[cfg(test)]
#[path = "desired_tests.rs"]
pub(crate) mod tests;
