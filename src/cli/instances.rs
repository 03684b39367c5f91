//! `berth instance ...`: a client's instances (containers with their data).

use clap::Subcommand;

use super::error::Failure;
use super::output::{self, show};
use super::prompt;
use super::views::{self, InstanceOut};
use crate::audit::Actor;
use crate::ops::{InstanceAction, InstanceEdit, NewInstanceInput, Ops};

#[derive(Subcommand)]
pub enum InstanceCmd {
    /// Add an instance to a client, from a blueprint.
    Add {
        slug: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        blueprint: Option<String>,
        #[arg(long)]
        domain: Option<String>,
        /// KEY=VALUE; repeatable.
        #[arg(long = "env", value_parser = parse_key_value)]
        env: Vec<(String, String)>,
    },
    /// Replace an instance's env, domains and/or image tag (recreates its container, data kept).
    Edit {
        id: i64,
        /// KEY=VALUE; repeatable; replaces all of the instance's own variables.
        #[arg(long = "env", value_parser = parse_key_value)]
        env: Vec<(String, String)>,
        /// Remove all of the instance's own variables.
        #[arg(long, conflicts_with = "env")]
        clear_env: bool,
        /// Repeatable; replaces the instance's domains.
        #[arg(long = "domain")]
        domains: Vec<String>,
        /// Pins the image tag (beats the plan's and the blueprint's); "" unpins.
        #[arg(long)]
        image_tag: Option<String>,
    },
    /// Every instance (or one client's) with its phase, port and domains.
    List { slug: Option<String> },
    /// One instance: phase, message, container, port, domains, limits.
    Show { id: i64 },
    /// Start a stopped instance.
    Start { id: i64 },
    /// Stop an instance; it stays stopped until started.
    Stop { id: i64 },
    /// Restart an instance's container.
    Restart { id: i64 },
    /// Show the admin account berth had the app create at its first start,
    /// with its password: once only (later calls are refused).
    AdminPassword { id: i64 },
    /// The container's recent output (stdout and stderr, escapes stripped);
    /// with -f, then every new line until Ctrl-C or the container stops.
    Logs {
        id: i64,
        /// How many of the last lines (1..=10000).
        #[arg(short = 'n', long = "tail", default_value_t = 100)]
        tail: usize,
        #[arg(short, long)]
        follow: bool,
    },
    /// Roll back to the image it ran before its last update, with the data
    /// of the backup taken just before it; prints the rollback's rollout id.
    Rollback { id: i64 },
    /// Remove the instance with its container and data. Needs "<slug>/<name>" typed back.
    Remove {
        id: i64,
        #[arg(long)]
        confirm: Option<String>,
    },
}

/// `--env KEY=VALUE`, for an instance's own variables.
pub fn parse_key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))
}

pub async fn run(ops: &Ops, actor: &Actor, cmd: InstanceCmd, as_json: bool) -> Result<(), Failure> {
    let instance = |row| InstanceOut::new(row, ops.config());
    let summary = |verb: &'static str| move |i: &InstanceOut| println!("{}", i.summary(verb));
    match cmd {
        InstanceCmd::Add {
            slug,
            name,
            blueprint,
            domain,
            env,
        } => {
            let input = NewInstanceInput {
                name: Some(name),
                blueprint,
                domain,
                env: (!env.is_empty()).then(|| env.into_iter().collect()),
            };
            let row = ops.add_instance(actor, &slug, input).await?;
            show(as_json, &instance(row), summary("created"));
        }
        InstanceCmd::List { slug } => {
            let list = ops.list_instances(slug.as_deref()).await?;
            output::rows::<InstanceOut>(as_json, list.into_iter().map(instance).collect());
        }
        InstanceCmd::Edit {
            id,
            env,
            clear_env,
            domains,
            image_tag,
        } => {
            let edit = InstanceEdit {
                image_tag,
                env: (clear_env || !env.is_empty()).then(|| env.into_iter().collect()),
                domains: (!domains.is_empty()).then_some(domains),
            };
            let row = ops.edit_instance(actor, id, edit).await?;
            show(as_json, &instance(row), summary("changed"));
        }
        InstanceCmd::Show { id } => show(as_json, &instance(ops.get_instance(id).await?), |i| {
            output::fields(&i.details())
        }),
        InstanceCmd::Start { id } => {
            let row = ops
                .instance_action(actor, id, InstanceAction::Start)
                .await?;
            show(as_json, &instance(row), summary("starting"));
        }
        InstanceCmd::Stop { id } => {
            let row = ops.instance_action(actor, id, InstanceAction::Stop).await?;
            show(as_json, &instance(row), summary("stopping"));
        }
        InstanceCmd::Restart { id } => {
            let row = ops
                .instance_action(actor, id, InstanceAction::Restart)
                .await?;
            show(as_json, &instance(row), summary("restarting"));
        }
        InstanceCmd::Logs { id, tail, follow } => logs(ops, id, tail, follow, as_json).await?,
        InstanceCmd::Rollback { id } => super::updates::rollback(ops, actor, id, as_json).await?,
        InstanceCmd::Remove { id, confirm } => {
            remove_instance(ops, actor, id, confirm, as_json).await?
        }
        InstanceCmd::AdminPassword { id } => {
            let creds = ops.reveal_admin_password(actor, id).await?;
            show(as_json, &creds, |c| {
                if !c.url.is_empty() {
                    println!("url:      {}", c.url);
                }
                println!("email:    {}", c.email);
                println!("password: {}", c.password);
                println!("(shown once; it is not shown again)");
            });
        }
    }
    Ok(())
}

/// `berth instance remove`: "<slug>/<name>" typed back, then the instance
/// goes with its container and data; prints what was removed.
async fn remove_instance(
    ops: &Ops,
    actor: &Actor,
    id: i64,
    confirm: Option<String>,
    as_json: bool,
) -> Result<(), Failure> {
    let confirm = prompt::confirmation(
        confirm,
        "This removes the instance with its container and data. Type <slug>/<name> to confirm: ",
    )?;
    let job = ops.remove_instance(actor, id, &confirm).await?;
    let report = super::follow::deletion(ops, job).await?;
    show(as_json, &report, |r| {
        println!("{}", views::deletion_summary(r, &r.client))
    });
    Ok(())
}

/// `berth instance logs`: the tail once, or (`-f`) followed until Ctrl-C.
async fn logs(ops: &Ops, id: i64, tail: usize, follow: bool, as_json: bool) -> Result<(), Failure> {
    use futures_util::StreamExt;
    if !follow {
        let t = ops.instance_logs(id, tail).await?;
        show(as_json, &t, |t| {
            for l in &t.lines {
                println!("{l}");
            }
            if let Some(note) = &t.note {
                eprintln!("{note}");
            }
        });
        return Ok(());
    }
    let mut lines = Box::pin(ops.follow_instance_logs(id, tail).await?);
    loop {
        tokio::select! {
            line = lines.next() => match line {
                Some(Ok(l)) if as_json => println!("{}", serde_json::json!({ "line": l })),
                Some(Ok(l)) => println!("{l}"),
                Some(Err(e)) => return Err(e.into()),
                None => return Ok(()),
            },
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}
