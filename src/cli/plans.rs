//! `berth plan create|list|edit|delete`: resource plans.

use clap::{Args, Subcommand};

use super::error::Failure;
use super::output::{self, done, show};
use super::views::PlanOut;
use crate::audit::Actor;
use crate::domain::size::SizeInput;
use crate::domain::Approval;
use crate::ops::{Ops, PlanEdit, PlanInput};

#[derive(Args)]
pub struct PlanArgs {
    /// CPU cores per instance, e.g. 0.5.
    #[arg(long)]
    pub cpus: Option<f64>,
    /// Memory limit, e.g. 512MiB or 2GiB.
    #[arg(long)]
    pub memory: Option<String>,
    #[arg(long)]
    pub memory_reservation: Option<String>,
    /// Storage quota, e.g. 10GiB.
    #[arg(long)]
    pub storage: Option<String>,
    #[arg(long)]
    pub max_instances: Option<u32>,
    /// Whether a client owner's request for a new instance is granted at
    /// once (auto) or waits for you (manual, the default).
    #[arg(long, value_name = "auto|manual")]
    pub approval: Option<String>,
    /// May client users restore their own backups? `--portal-restore` alone means true.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub portal_restore: Option<bool>,
    /// Blueprints clients may request, comma-separated; "" allows all.
    #[arg(long, value_delimiter = ',')]
    pub blueprints: Option<Vec<String>>,
    /// The image tag its clients' instances run (beats the blueprint's); "" unpins.
    #[arg(long)]
    pub image_tag: Option<String>,
}

/// Parsed here rather than by clap so a bad word is one line, like every other usage error.
fn approval(args: &PlanArgs) -> Result<Option<Approval>, Failure> {
    args.approval
        .as_deref()
        .map(|a| {
            Approval::parse(a).map_err(|e| Failure::usage(format!("--approval: {}", e.problem)))
        })
        .transpose()
}

#[derive(Subcommand)]
pub enum PlanCmd {
    /// Create a plan: per-instance limits, instances per client, what clients may do themselves.
    Create {
        name: String,
        #[command(flatten)]
        args: PlanArgs,
    },
    /// Every plan with its limits and how many instances run on it.
    List,
    /// Change a plan; its clients' instances are recreated with the new limits.
    Edit {
        name: String,
        #[arg(long)]
        rename: Option<String>,
        #[command(flatten)]
        args: PlanArgs,
    },
    /// Delete a plan no client is on.
    Delete { name: String },
}

pub async fn run(ops: &Ops, actor: &Actor, cmd: PlanCmd, as_json: bool) -> Result<(), Failure> {
    match cmd {
        PlanCmd::Create { name, args } => {
            let plan = PlanOut::from(ops.create_plan(actor, plan_input(name, args)?).await?);
            show(as_json, &plan, |p| println!("{}", p.summary("created")));
        }
        PlanCmd::List => {
            output::rows::<PlanOut>(as_json, ops.list_plans().await?);
        }
        PlanCmd::Edit { name, rename, args } => {
            let plan = PlanOut::from(
                ops.edit_plan(actor, &name, plan_edit(args, rename)?)
                    .await?,
            );
            show(as_json, &plan, |p| println!("{}", p.summary("changed")));
        }
        PlanCmd::Delete { name } => {
            ops.delete_plan(actor, &name).await?;
            done(as_json, "deleted", &name, format!("Plan {name} deleted."));
        }
    }
    Ok(())
}

/// A new plan needs its CPU and memory; the rest may stay unset.
fn plan_input(name: String, args: PlanArgs) -> Result<PlanInput, Failure> {
    let approval = approval(&args)?.unwrap_or_default();
    let cpus = args
        .cpus
        .ok_or_else(|| Failure::usage("--cpus is required"))?;
    let memory = args
        .memory
        .ok_or_else(|| Failure::usage("--memory is required"))?;
    Ok(PlanInput {
        name,
        cpus,
        memory: SizeInput::Text(memory),
        memory_reservation: args.memory_reservation.map(SizeInput::Text),
        storage: args.storage.map(SizeInput::Text),
        max_instances: args.max_instances,
        approval,
        portal_restore: args.portal_restore.unwrap_or(false),
        blueprints: args.blueprints,
        image_tag: args.image_tag,
    })
}

fn plan_edit(args: PlanArgs, rename: Option<String>) -> Result<PlanEdit, Failure> {
    Ok(PlanEdit {
        approval: approval(&args)?,
        name: rename,
        cpus: args.cpus,
        memory: args.memory.map(SizeInput::Text),
        memory_reservation: args.memory_reservation.map(SizeInput::Text),
        storage: args.storage.map(SizeInput::Text),
        max_instances: args.max_instances,
        portal_restore: args.portal_restore,
        blueprints: args.blueprints,
        image_tag: args.image_tag,
    })
}
