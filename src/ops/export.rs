//! A client's GDPR export: everything berth holds about one client in one
//! versioned JSON document (docs/gdpr.md describes it field by field),
//! never a secret; optionally bundled in a tar with the newest backup
//! archive of each instance. Every export is audited.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use serde_json::json;

use super::views::BackupView;
use super::PortalRequest;
use super::{Ops, OpsError};
use crate::audit::{self, Actor};
use crate::domain::rollup::Bucket;
use crate::domain::ClientRole;
use crate::domain::{BackupStatus, ClientStatus, DesiredState, Phase};
use crate::metrics::export::{monthly, with_llm_months, BillingLine};
use crate::store::client_users::{self, ClientUserRow, PortalIdentity};
use crate::store::requests;
use crate::store::{
    audit as audit_rows, backups, clients, instances, llm, plans, usage, AuditEntry,
};

/// The version of the document's shape; bumped when a field changes meaning.
pub const EXPORT_SCHEMA: &str = "berth.client-export/1";

/// What stands for a secret value wherever the export would show one.
pub const SECRET: &str = "[secret]";

#[derive(Debug, Clone, Serialize)]
pub struct ClientExport {
    pub schema: &'static str,
    pub generated_at: String,
    pub client: ExportClient,
    pub plan: ExportPlan,
    /// Its portal users: never a password hash or a link token.
    pub users: Vec<ClientUserRow>,
    pub instances: Vec<ExportInstance>,
    pub usage: ExportUsage,
    pub backups: Vec<BackupView>,
    /// Instance requests as their requester saw them in the portal (the
    /// provider's internal failure text stays out: it may name another client).
    pub requests: Vec<PortalRequest>,
    pub audit: Vec<AuditEntry>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportClient {
    pub id: i64,
    pub slug: String,
    pub name: String,
    pub email: String,
    pub notes: String,
    pub status: ClientStatus,
    pub created_at: String,
}

/// The plan's limits; not how many instances other clients run on it.
#[derive(Debug, Clone, Serialize)]
pub struct ExportPlan {
    pub name: String,
    pub cpus: f64,
    pub memory: u64,
    pub memory_reservation: Option<u64>,
    pub storage: Option<u64>,
    pub max_instances: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportInstance {
    pub id: i64,
    pub name: String,
    pub blueprint: String,
    pub image: String,
    pub desired: DesiredState,
    pub phase: Phase,
    pub host_port: u16,
    pub domains: Vec<String>,
    /// The instance's own variables; secret ones read [`SECRET`].
    pub env: BTreeMap<String, String>,
    /// Variables berth generated for it (keys, passwords): names only.
    pub generated_secrets: Vec<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportUsage {
    /// Every instance the client ever had, removed ones too: id → name.
    pub instances: BTreeMap<i64, String>,
    /// Hour by hour, per instance (`ts` is the hour's start, unix seconds).
    pub hourly: Vec<Bucket>,
    /// Per calendar month (UTC), as the provider's billing export has it.
    pub billing: Vec<BillingLine>,
}

/// The JSON document and the archives to bundle with it.
pub struct ExportBundle {
    pub json: Vec<u8>,
    /// (name in the bundle, file): the newest good backup of each instance.
    pub archives: Vec<(String, PathBuf)>,
}

impl ExportBundle {
    /// Writes the tar front to back (blocking: run it off the runtime).
    pub fn write_to(&self, out: impl std::io::Write) -> std::io::Result<()> {
        crate::backup::bundle::write(out, &self.json, &self.archives)
    }
}

impl Ops {
    /// Everything about the client named `slug`, as the document; audited.
    pub async fn export_client(&self, actor: &Actor, slug: &str) -> Result<ClientExport, OpsError> {
        let export = self.read_export(slug.to_owned(), None).await?;
        self.audit_export(actor, &export, false).await?;
        Ok(export)
    }

    /// The document and the newest good backup archive of each instance,
    /// for [`ExportBundle::write_to`]; audited.
    pub async fn export_bundle(&self, actor: &Actor, slug: &str) -> Result<ExportBundle, OpsError> {
        let export = self.read_export(slug.to_owned(), None).await?;
        let mut newest: BTreeMap<&str, &BackupView> = BTreeMap::new();
        for b in &export.backups {
            if b.status == BackupStatus::Ok && b.path.is_some() {
                newest.insert(&b.instance_name, b); // oldest first: the last one wins
            }
        }
        let root = self.config.backup_dir();
        let archives = newest
            .into_values()
            .filter_map(|b| {
                let path = b.path.as_deref()?;
                let file = std::path::Path::new(path).file_name()?.to_string_lossy();
                Some((
                    format!("archives/{}/{file}", b.instance_name),
                    root.join(path),
                ))
            })
            .collect();
        self.audit_export(actor, &export, true).await?;
        let json = serde_json::to_vec_pretty(&export).map_err(|e| OpsError::Io(e.to_string()))?;
        Ok(ExportBundle { json, archives })
    }

    async fn audit_export(
        &self,
        actor: &Actor,
        e: &ClientExport,
        archives: bool,
    ) -> Result<(), OpsError> {
        let (actor, slug) = (actor.clone(), e.client.slug.clone());
        self.write(move |tx| {
            audit::record(
                tx,
                &actor,
                "client.export",
                &slug,
                Some(&slug),
                json!({ "archives": archives }),
            )?;
            Ok(())
        })
        .await
    }

    /// An owner's export of their own client (the portal); a member is
    /// refused: the export holds every user's address and the audit log.
    pub async fn portal_export(
        &self,
        actor: &Actor,
        me: &PortalIdentity,
    ) -> Result<ClientExport, OpsError> {
        if me.role != ClientRole::Owner {
            return Err(OpsError::Refused(
                "only an owner of your account can export its data".into(),
            ));
        }
        let export = self
            .read_export(me.client_slug.clone(), Some(me.client_id))
            .await?;
        self.audit_export(actor, &export, false).await?;
        Ok(export)
    }

    /// `client_id`, when given, must be the client's: a portal session
    /// never reaches another client, even one that took a freed slug.
    async fn read_export(
        &self,
        slug: String,
        client_id: Option<i64>,
    ) -> Result<ClientExport, OpsError> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        Ok(self
            .store
            .read(move |conn| {
                let client = clients::get(conn, &slug)?;
                if client_id.is_some_and(|id| id != client.id) {
                    return Err(crate::store::StoreError::NotFound(format!(
                        "client {slug} not found"
                    )));
                }
                let users = client_users::list(conn, client.id)?;
                let plan = plans::get(conn, &client.plan)?;
                let rows = instances::list_for_client(conn, client.id)?;
                let (subjects, hourly) = usage::client_history(conn, client.id, now + 3600)?;
                let spend = llm::monthly_spend(conn, &client.slug)?;
                let billing =
                    with_llm_months(monthly(&subjects, &hourly), &client.slug, client.id, &spend);
                let backups = backups::list_for_client(conn, client.id, &client.slug)?;
                let audit = audit_rows::for_client(conn, &client.slug)?;
                let requests = requests::list(conn, Some(client.id))?;
                Ok(ClientExport {
                    schema: EXPORT_SCHEMA,
                    generated_at: crate::store::now(),
                    plan: ExportPlan {
                        name: plan.name,
                        cpus: plan.cpus,
                        memory: plan.memory,
                        memory_reservation: plan.memory_reservation,
                        storage: plan.storage,
                        max_instances: plan.max_instances,
                    },
                    users,
                    instances: rows.into_iter().map(export_instance).collect(),
                    usage: ExportUsage {
                        instances: subjects
                            .into_iter()
                            .map(|s| (s.instance_id, s.instance_name))
                            .collect(),
                        hourly,
                        billing,
                    },
                    backups: backups.into_iter().map(BackupView::from).collect(),
                    requests: requests.into_iter().map(PortalRequest::from).collect(),
                    audit: audit.into_iter().map(without_staff_ip).collect(),
                    client: ExportClient {
                        id: client.id,
                        slug: client.slug,
                        name: client.name,
                        email: client.email,
                        notes: client.notes,
                        status: client.status,
                        created_at: client.created_at,
                    },
                })
            })
            .await?)
    }
}

fn export_instance(r: crate::store::InstanceRow) -> ExportInstance {
    let env = r
        .env
        .iter()
        .map(|(k, v)| {
            let hidden =
                looks_secret(k) || r.secrets.contains_key(k) || r.secrets.values().any(|s| s == v);
            (
                k.clone(),
                if hidden { SECRET.to_owned() } else { v.clone() },
            )
        })
        .collect();
    ExportInstance {
        id: r.id,
        name: r.name,
        blueprint: r.blueprint,
        image: r.image,
        desired: r.desired,
        phase: r.phase,
        host_port: r.host_port,
        domains: r.domains,
        env,
        generated_secrets: r.secrets.into_inner().into_keys().collect(),
        created_at: r.created_at,
    }
}

/// Variables whose name says they hold a credential. Instance variables
/// carry no "secret" flag of their own, so the name decides; erring
/// towards hiding costs the client nothing they do not already have.
fn looks_secret(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    [
        "SECRET",
        "PASSWORD",
        "PASSWD",
        "TOKEN",
        "KEY",
        "CREDENTIAL",
        "PRIVATE",
    ]
    .iter()
    .any(|w| upper.contains(w))
}

/// The client's own users' addresses are theirs to see; the provider's
/// staff's are not part of the client's data.
fn without_staff_ip(mut e: AuditEntry) -> AuditEntry {
    if !e.actor.starts_with("client:") {
        e.ip = None;
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_names_are_hidden_and_others_shown() {
        for name in [
            "WEBUI_SECRET_KEY",
            "OPENAI_API_KEY",
            "db_password",
            "AUTH_TOKEN",
        ] {
            assert!(looks_secret(name), "{name}");
        }
        for name in ["TZ", "SITE_TITLE", "PORT"] {
            assert!(!looks_secret(name), "{name}");
        }
    }
}
