//! `berth request list|approve|reject`: clients' requests for a new instance.

use clap::Subcommand;
use serde::Serialize;

use super::error::Failure;
use super::output::{self, show, Row};
use crate::audit::Actor;
use crate::domain::RequestStatus;
use crate::ops::{Ops, RequestFilter};
use crate::store::RequestRow;

#[derive(Subcommand)]
pub enum RequestCmd {
    /// Newest first.
    List {
        /// requested, approved, provisioning, running, rejected or failed.
        #[arg(long)]
        status: Option<String>,
        /// A client's slug.
        #[arg(long)]
        client: Option<String>,
    },
    /// Creates the requested instance.
    Approve { id: i64 },
    /// Refuses it; the client reads the reason.
    Reject {
        id: i64,
        #[arg(long)]
        reason: String,
    },
}

/// A request as the CLI prints it (`--json` too).
#[derive(Serialize)]
pub struct RequestOut {
    pub id: i64,
    pub client: String,
    pub instance: String,
    pub blueprint: String,
    pub requested_by: String,
    pub status: RequestStatus,
    pub reason: String,
    pub error: String,
    pub instance_id: Option<i64>,
    pub created_at: String,
    pub decided_at: Option<String>,
    pub decided_by: Option<String>,
}

impl From<RequestRow> for RequestOut {
    fn from(r: RequestRow) -> Self {
        Self {
            id: r.id,
            client: r.client_slug,
            instance: r.instance_name,
            blueprint: r.blueprint,
            requested_by: r.requested_by_label,
            status: r.status,
            reason: r.reason,
            error: r.error,
            instance_id: r.instance_id,
            created_at: r.created_at,
            decided_at: r.decided_at,
            decided_by: r.decided_by,
        }
    }
}

impl RequestOut {
    /// The reason or error behind a refused request, else empty.
    fn why(&self) -> &str {
        if self.reason.is_empty() {
            &self.error
        } else {
            &self.reason
        }
    }

    fn summary(&self) -> String {
        let why = match self.why() {
            "" => String::new(),
            w => format!(": {w}"),
        };
        format!(
            "Request {} ({}/{}, {}) is {}{why}.",
            self.id, self.client, self.instance, self.blueprint, self.status
        )
    }
}

impl Row for RequestOut {
    const HEADER: &'static [&'static str] = &[
        "id",
        "client",
        "instance",
        "blueprint",
        "by",
        "status",
        "created",
        "why",
    ];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.client.clone(),
            self.instance.clone(),
            self.blueprint.clone(),
            self.requested_by.clone(),
            self.status.to_string(),
            self.created_at.clone(),
            self.why().to_owned(),
        ]
    }
}

pub async fn run(ops: &Ops, actor: &Actor, cmd: RequestCmd, as_json: bool) -> Result<(), Failure> {
    match cmd {
        RequestCmd::List { status, client } => {
            // Parsed here, not by clap, so a bad word is one line like every usage error.
            let status = status
                .as_deref()
                .map(RequestStatus::parse)
                .transpose()
                .map_err(|e| Failure::usage(format!("--status: {}", e.problem)))?;
            let rows = ops.list_requests(RequestFilter { status, client }).await?;
            output::rows::<RequestOut>(as_json, rows);
        }
        RequestCmd::Approve { id } => {
            let out = RequestOut::from(ops.approve_request(actor, id).await?);
            if out.status == RequestStatus::Failed {
                // Decided, but no instance: a script must not take it for success.
                return Err(Failure::failed(out.summary()));
            }
            show(as_json, &out, |o| println!("{}", o.summary()));
        }
        RequestCmd::Reject { id, reason } => {
            let out = RequestOut::from(ops.reject_request(actor, id, &reason).await?);
            show(as_json, &out, |o| println!("{}", o.summary()));
        }
    }
    Ok(())
}
