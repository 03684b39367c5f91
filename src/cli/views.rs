//! What the CLI shows. `--json` prints these documents: the fields a script
//! needs and nothing else (no store bookkeeping such as `restart_gen`, never
//! a secret), so they can stay stable while the store changes. Without
//! `--json`, people get a one-line summary, a few `key: value` lines or a
//! table, built from the same documents.

use std::collections::BTreeMap;

use serde::Serialize;

use super::output::{self, size, Row};
use crate::config::Config;
use crate::domain::{Approval, ClientStatus, DesiredState, Phase};
use crate::ops::{ClientView, DeletionReport};
use crate::store::usage::QuotaWarning;
use crate::store::{ClientRow, InstanceRow, PlanRow};

#[derive(Serialize)]
pub struct PlanOut {
    pub name: String,
    pub cpus: f64,
    pub memory: u64,
    pub memory_reservation: Option<u64>,
    pub storage: Option<u64>,
    pub max_instances: Option<u32>,
    pub approval: Approval,
    pub portal_restore: bool,
    /// Blueprints its clients may request; null = all.
    pub blueprints: Option<Vec<String>>,
    /// The image tag its clients' instances run; null = the blueprint's.
    pub image_tag: Option<String>,
    /// Instances of clients on this plan.
    pub instances: u32,
    pub created_at: String,
}

impl From<PlanRow> for PlanOut {
    fn from(p: PlanRow) -> Self {
        Self {
            name: p.name,
            cpus: p.cpus,
            memory: p.memory,
            memory_reservation: p.memory_reservation,
            storage: p.storage,
            max_instances: p.max_instances,
            approval: p.approval,
            portal_restore: p.portal_restore,
            blueprints: p.blueprints,
            image_tag: p.image_tag,
            instances: p.instances,
            created_at: p.created_at,
        }
    }
}

impl PlanOut {
    pub fn summary(&self, verb: &str) -> String {
        format!(
            "Plan {} {verb}: {} CPU, {} memory, {} storage, {} instances per client, {} approval of requests.",
            self.name,
            self.cpus,
            size(self.memory),
            self.storage.map(size).unwrap_or_else(|| "unlimited".into()),
            self.max_instances
                .map(|m| m.to_string())
                .unwrap_or_else(|| "any number of".into()),
            self.approval,
        ) + &self
            .image_tag
            .as_ref()
            .map(|t| format!(" Image tag {t}."))
            .unwrap_or_default()
    }
}

impl Row for PlanOut {
    const HEADER: &'static [&'static str] = &[
        "name",
        "cpus",
        "memory",
        "storage",
        "max inst.",
        "approval",
        "in use",
    ];

    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.cpus.to_string(),
            size(self.memory),
            self.storage.map(size).unwrap_or_else(|| "-".into()),
            self.max_instances
                .map(|m| m.to_string())
                .unwrap_or_else(|| "-".into()),
            self.approval.to_string(),
            self.instances.to_string(),
        ]
    }
}

#[derive(Serialize)]
pub struct InstanceOut {
    pub id: i64,
    pub client: String,
    pub name: String,
    pub blueprint: String,
    /// The image it runs: the blueprint's, with a pinned tag.
    pub image: String,
    /// Where the tag comes from: "instance", "plan" or "blueprint".
    pub tag_from: &'static str,
    /// The engine's image ID its container was created from.
    pub image_id: Option<String>,
    /// Its registry digest, when known.
    pub image_digest: Option<String>,
    pub plan: String,
    /// What berth is asked to keep it at: running, stopped (absent while removed).
    pub desired: DesiredState,
    /// What berth last saw.
    pub phase: Phase,
    pub message: String,
    pub host_port: u16,
    pub domains: Vec<String>,
    /// How browsers reach each domain through Caddy.
    pub urls: Vec<String>,
    /// The instance's own variables (blueprint defaults and secrets are not shown).
    pub env: BTreeMap<String, String>,
    pub created_at: String,
}

impl InstanceOut {
    pub fn new(i: InstanceRow, config: &Config) -> Self {
        let urls = i
            .domains
            .iter()
            .map(|d| {
                crate::blueprint::public_url(
                    d,
                    config.caddy.tls,
                    config.caddy.http_port,
                    config.caddy.https_port,
                )
            })
            .collect();
        let image = i.resolved_image();
        let tag_from = match (&i.image_tag, &i.plan_image_tag) {
            (Some(_), _) => "instance",
            (None, Some(_)) => "plan",
            (None, None) => "blueprint",
        };
        Self {
            image,
            tag_from,
            image_id: i.image_id,
            image_digest: i.image_digest,
            id: i.id,
            client: i.client_slug,
            name: i.name,
            blueprint: i.blueprint,
            plan: i.plan,
            desired: i.desired,
            phase: i.phase,
            message: i.message,
            host_port: i.host_port,
            domains: i.domains,
            urls,
            env: i.env,
            created_at: i.created_at,
        }
    }

    pub fn summary(&self, verb: &str) -> String {
        let url = self
            .urls
            .first()
            .map(|u| format!(", {u}"))
            .unwrap_or_default();
        format!(
            "Instance {}/{} (id {}, {}) {verb}: {}, port {}{url}.",
            self.client, self.name, self.id, self.blueprint, self.phase, self.host_port
        )
    }

    pub fn details(&self) -> Vec<(&'static str, String)> {
        let env = self
            .env
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ");
        vec![
            ("id", self.id.to_string()),
            ("client", self.client.clone()),
            ("name", self.name.clone()),
            ("blueprint", self.blueprint.clone()),
            (
                "image",
                format!("{} (tag from the {})", self.image, self.tag_from),
            ),
            (
                "image id",
                self.image_id
                    .clone()
                    .unwrap_or_else(|| "not seen yet".into()),
            ),
            (
                "image digest",
                self.image_digest
                    .clone()
                    .unwrap_or_else(|| "none known (built here, or not pulled)".into()),
            ),
            ("plan", self.plan.clone()),
            ("desired", self.desired.to_string()),
            ("phase", self.phase.to_string()),
            ("message", self.message.clone()),
            ("host port", self.host_port.to_string()),
            ("urls", self.urls.join(" ")),
            ("env", env),
            ("created", self.created_at.clone()),
        ]
    }
}

impl Row for InstanceOut {
    const HEADER: &'static [&'static str] = &[
        "id",
        "client",
        "name",
        "blueprint",
        "image",
        "image_id",
        "port",
        "domains",
        "phase",
        "message",
    ];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.client.clone(),
            self.name.clone(),
            self.blueprint.clone(),
            self.image.clone(),
            short_id(self.image_id.as_deref()),
            self.host_port.to_string(),
            self.domains.join(","),
            self.phase.to_string(),
            self.message.clone(),
        ]
    }
}

#[derive(Serialize)]
pub struct ClientOut {
    pub slug: String,
    pub name: String,
    pub email: String,
    pub plan: String,
    pub notes: String,
    pub status: ClientStatus,
    pub created_at: String,
    pub instances: Vec<InstanceOut>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<QuotaWarning>,
}

impl ClientOut {
    pub fn new(v: ClientView, config: &Config) -> Self {
        let ClientRow {
            slug,
            name,
            email,
            plan,
            notes,
            status,
            created_at,
            ..
        } = v.client;
        Self {
            slug,
            name,
            email,
            plan,
            notes,
            status,
            created_at,
            instances: v
                .instances
                .into_iter()
                .map(|i| InstanceOut::new(i, config))
                .collect(),
            warnings: v.warnings,
        }
    }

    pub fn summary(&self, verb: &str) -> String {
        format!(
            "Client {} ({}) {verb}: plan {}, {}, {} instance(s).",
            self.slug,
            self.name,
            self.plan,
            self.status,
            self.instances.len()
        )
    }

    /// The summary, then the instances as a table.
    pub fn print(&self, verb: &str) {
        println!("{}", self.summary(verb));
        if !self.instances.is_empty() {
            output::table_of(&self.instances);
        }
    }

    pub fn print_details(&self) {
        output::fields(&[
            ("slug", self.slug.clone()),
            ("name", self.name.clone()),
            ("email", self.email.clone()),
            ("plan", self.plan.clone()),
            ("status", self.status.to_string()),
            ("notes", self.notes.clone()),
            ("created", self.created_at.clone()),
        ]);
        println!();
        output::table_of(&self.instances);
        for w in &self.warnings {
            println!(
                "warning: {} is over its {} quota ({} of {})",
                w.instance,
                w.kind,
                size(w.used),
                size(w.quota)
            );
        }
    }
}

#[derive(Serialize)]
pub struct ClientListOut {
    pub slug: String,
    pub name: String,
    pub email: String,
    pub plan: String,
    pub status: ClientStatus,
    pub instances: u32,
    pub created_at: String,
}

impl Row for ClientListOut {
    const HEADER: &'static [&'static str] =
        &["slug", "name", "plan", "instances", "status", "created"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.slug.clone(),
            self.name.clone(),
            self.plan.clone(),
            self.instances.to_string(),
            self.status.to_string(),
            self.created_at.clone(),
        ]
    }
}

impl From<ClientRow> for ClientListOut {
    fn from(c: ClientRow) -> Self {
        Self {
            slug: c.slug,
            name: c.name,
            email: c.email,
            plan: c.plan,
            status: c.status,
            instances: c.instance_count,
            created_at: c.created_at,
        }
    }
}

/// One line about a finished delete. `client` is the slug the command was
/// given: an erased client's report no longer names it.
pub fn deletion_summary(r: &DeletionReport, client: &str) -> String {
    let bytes: u64 = r.instances.iter().map(|i| i.data_bytes).sum();
    let what = if r.client_deleted {
        format!("client {client}")
    } else {
        let names: Vec<&str> = r.instances.iter().map(|i| i.name.as_str()).collect();
        format!("instance {client}/{}", names.join(","))
    };
    let backups = r.category("backup archives").map_or(0, |c| c.count);
    format!(
        "Deleted {what}: {} instance(s), {} of data, {} backup(s); report {} in {}",
        r.instances.len(),
        size(bytes),
        backups,
        r.deletion_id,
        r.report_file
    )
}

/// "sha256:0123456789ab…" → "0123456789ab", as `docker images` shows it.
pub fn short_id(id: Option<&str>) -> String {
    match id {
        Some(id) => id.trim_start_matches("sha256:").chars().take(12).collect(),
        None => "-".into(),
    }
}
