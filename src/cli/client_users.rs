//! `berth client user add|list|remove|reset`: a client's portal users and
//! their one-time links.

use clap::Subcommand;
use serde::Serialize;

use super::error::Failure;
use super::output::{self, done, show, Row};
use crate::audit::Actor;
use crate::domain::ClientRole;
use crate::ops::{Invitation, NewClientUserInput, Ops};
use crate::store::ClientUserRow;

#[derive(Subcommand)]
pub enum ClientUserCmd {
    /// Add a portal user; prints their one-time invitation link (mailed too when [smtp] is set).
    Add {
        slug: String,
        email: String,
        /// Display name; defaults to the email's local part.
        #[arg(long, default_value = "")]
        name: String,
        #[arg(long, default_value = "member", value_parser = parse_role)]
        role: ClientRole,
    },
    /// The client's portal users: email, name, role, invited or active.
    List { slug: String },
    /// Remove a portal user; their portal sessions end at once.
    Remove { slug: String, id: i64 },
    /// Print a new one-time link: an invitation while no password is set, else a reset link.
    Reset { slug: String, id: i64 },
}

fn parse_role(value: &str) -> Result<ClientRole, String> {
    ClientRole::parse(value).map_err(|e| e.problem)
}

pub async fn run(
    ops: &Ops,
    actor: &Actor,
    cmd: ClientUserCmd,
    as_json: bool,
) -> Result<(), Failure> {
    match cmd {
        ClientUserCmd::Add {
            slug,
            email,
            name,
            role,
        } => {
            let input = NewClientUserInput {
                email,
                name,
                role: Some(role),
            };
            let inv = ops.add_client_user(actor, &slug, input).await?;
            print_link(as_json, &inv);
        }
        ClientUserCmd::List { slug } => {
            output::rows::<ClientUserOut>(as_json, ops.list_client_users(&slug).await?);
        }
        ClientUserCmd::Remove { slug, id } => {
            ops.remove_client_user(actor, &slug, id).await?;
            done(
                as_json,
                "removed",
                &id.to_string(),
                format!("Portal user {id} of {slug} removed."),
            );
        }
        ClientUserCmd::Reset { slug, id } => {
            let inv = ops.client_user_link(actor, &slug, id).await?;
            print_link(as_json, &inv);
        }
    }
    Ok(())
}

/// The link alone on stdout (so `$(berth client user add ...)` is the
/// link); what happened with the mail on stderr.
fn print_link(as_json: bool, inv: &Invitation) {
    show(as_json, inv, |i| println!("{}", i.link));
    if inv.mailed {
        eprintln!("Mailed to {}.", inv.user.email);
    }
    if let Some(w) = &inv.mail_warning {
        eprintln!("warning: {w}");
    }
    eprintln!(
        "This link works once, until {}; it is not shown again.",
        inv.expires_at
    );
}

/// A portal user as `client user list` shows it.
#[derive(Serialize)]
pub struct ClientUserOut {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub role: ClientRole,
    pub active: bool,
    pub created_at: String,
}

impl From<ClientUserRow> for ClientUserOut {
    fn from(u: ClientUserRow) -> Self {
        Self {
            id: u.id,
            email: u.email,
            name: u.name,
            role: u.role,
            active: u.active,
            created_at: u.created_at,
        }
    }
}

impl Row for ClientUserOut {
    const HEADER: &'static [&'static str] = &["id", "email", "name", "role", "state", "created"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.id.to_string(),
            self.email.clone(),
            self.name.clone(),
            self.role.to_string(),
            if self.active { "active" } else { "invited" }.into(),
            self.created_at.clone(),
        ]
    }
}
