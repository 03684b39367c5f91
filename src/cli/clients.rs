//! `berth client ...`: clients, each created with its first instance.

use clap::Subcommand;

use super::error::Failure;
use super::instances::parse_key_value;
use super::output::{self, show};
use super::prompt;
use super::views::{self, ClientListOut, ClientOut};
use crate::audit::Actor;
use crate::domain::ClientStatus;
use crate::ops::{ClientEdit, NewClientInput, Ops};

#[derive(Subcommand)]
pub enum ClientCmd {
    /// Create a client with its first instance.
    Create {
        name: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        plan: String,
        #[arg(long)]
        blueprint: Option<String>,
        #[arg(long)]
        domain: Option<String>,
        #[arg(long, default_value = "")]
        notes: String,
        /// Env of the first instance, KEY=VALUE; repeatable.
        #[arg(long = "env", value_parser = parse_key_value)]
        env: Vec<(String, String)>,
    },
    /// Every client with its plan, status and instance count.
    List,
    /// One client: profile, plan, instances.
    Show { slug: String },
    /// Change a client's name, email, plan or notes (a plan change recreates its instances with the new limits).
    Edit {
        slug: String,
        #[arg(long)]
        name: Option<String>,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        plan: Option<String>,
        #[arg(long)]
        notes: Option<String>,
    },
    /// Stop every instance, answer visitors with a 503 page, end portal sessions; data kept.
    Suspend { slug: String },
    /// Start a suspended client's instances again and let its users sign in.
    Resume { slug: String },
    /// GDPR export: everything berth holds about the client, without
    /// secrets, as JSON on stdout (`berth client export acme > acme.json`).
    Export {
        slug: String,
        /// Write a tar with the document and the newest backup archive of
        /// each instance to this file instead.
        #[arg(long, value_name = "FILE")]
        archives: Option<std::path::PathBuf>,
    },
    /// The client's portal users.
    User {
        #[command(subcommand)]
        cmd: super::client_users::ClientUserCmd,
    },
    /// Delete the client with its containers, data and backups. Needs the slug typed back.
    Delete {
        slug: String,
        /// The slug again; asked for interactively when missing.
        #[arg(long)]
        confirm: Option<String>,
    },
}

pub async fn run(ops: &Ops, actor: &Actor, cmd: ClientCmd, as_json: bool) -> Result<(), Failure> {
    let client = |view| ClientOut::new(view, ops.config());
    match cmd {
        ClientCmd::Create {
            name,
            email,
            plan,
            blueprint,
            domain,
            notes,
            env,
        } => {
            let input = NewClientInput {
                name,
                email,
                plan,
                notes,
                blueprint,
                domain,
                env: (!env.is_empty()).then(|| env.into_iter().collect()),
            };
            let view = ops.create_client(actor, input).await?;
            show(as_json, &client(view), |c| c.print("created"));
        }
        ClientCmd::List => {
            output::rows::<ClientListOut>(as_json, ops.list_clients().await?);
        }
        ClientCmd::Show { slug } => show(
            as_json,
            &client(ops.get_client(&slug).await?),
            ClientOut::print_details,
        ),
        ClientCmd::Edit {
            slug,
            name,
            email,
            plan,
            notes,
        } => {
            let edit = ClientEdit {
                name,
                email,
                plan,
                notes,
            };
            let view = ops.edit_client(actor, &slug, edit).await?;
            show(as_json, &client(view), |c| {
                println!("{}", c.summary("changed"))
            });
        }
        ClientCmd::Suspend { slug } => {
            set_status(ops, actor, &slug, ClientStatus::Suspended, as_json).await?
        }
        ClientCmd::Resume { slug } => {
            set_status(ops, actor, &slug, ClientStatus::Active, as_json).await?
        }
        ClientCmd::Export { slug, archives } => {
            super::export::client(ops, actor, &slug, archives).await?
        }
        ClientCmd::User { cmd } => super::client_users::run(ops, actor, cmd, as_json).await?,
        ClientCmd::Delete { slug, confirm } => {
            delete_client(ops, actor, &slug, confirm, as_json).await?
        }
    }
    Ok(())
}

async fn set_status(
    ops: &Ops,
    actor: &Actor,
    slug: &str,
    status: ClientStatus,
    as_json: bool,
) -> Result<(), Failure> {
    let verb = match status {
        ClientStatus::Suspended => "suspended",
        ClientStatus::Active => "resumed",
    };
    let view = ops.set_client_status(actor, slug, status).await?;
    show(as_json, &ClientOut::new(view, ops.config()), |c| {
        println!("{}", c.summary(verb))
    });
    Ok(())
}

/// `berth client delete`: the slug typed back, then everything of the
/// client goes; prints what was removed.
async fn delete_client(
    ops: &Ops,
    actor: &Actor,
    slug: &str,
    confirm: Option<String>,
    as_json: bool,
) -> Result<(), Failure> {
    let confirm = prompt::confirmation(
        confirm,
        &format!("This deletes client {slug} with all containers, data and backups. Type the slug to confirm: "),
    )?;
    let job = ops.delete_client(actor, slug, &confirm).await?;
    let report = super::follow::deletion(ops, job).await?;
    show(as_json, &report, |r| {
        println!("{}", views::deletion_summary(r, slug))
    });
    Ok(())
}
