//! `berth update check [--blueprint B] [--tag T]`: pull the tags instances
//! run on (or the tag named), record what they resolve to now, and list the
//! instances running an older image ID. The rollout commands live beside it
//! (`updates.rs`); this file holds only the check.

use clap::Args;

use super::error::Failure;
use super::output::{self, show};
use super::views::short_id;
use crate::audit::Actor;
use crate::ops::{CheckInput, Ops, UpdateReport};

#[derive(Args)]
pub struct CheckArgs {
    /// Only this blueprint.
    #[arg(long)]
    pub blueprint: Option<String>,
    /// Check this tag instead of the ones the instances run on.
    #[arg(long)]
    pub tag: Option<String>,
}

/// Prints the report; exits 1 when any image could not be checked.
pub async fn check(
    ops: &Ops,
    actor: &Actor,
    args: CheckArgs,
    as_json: bool,
) -> Result<(), Failure> {
    let input = CheckInput {
        blueprint: args.blueprint,
        tag: args.tag,
    };
    let report = ops.check_updates(actor, input).await?;
    show(as_json, &report, print);
    let failed: Vec<_> = report.failures().collect();
    match failed.first() {
        None => Ok(()),
        Some(first) => Err(Failure::failed(format!(
            "{} of {} images could not be checked; {}: {}",
            failed.len(),
            report.checks.len(),
            first.image,
            first.error.as_deref().unwrap_or_default()
        ))),
    }
}

fn print(report: &UpdateReport) {
    if report.checks.is_empty() {
        println!("Nothing to check: every blueprint is built by berth itself.");
        return;
    }
    output::table(
        &[
            "BLUEPRINT",
            "IMAGE",
            "IMAGE_ID",
            "DIGEST",
            "CHECKED",
            "ERROR",
        ],
        report
            .checks
            .iter()
            .map(|c| {
                vec![
                    c.blueprint.clone(),
                    c.image.clone(),
                    short_id(c.image_id.as_deref()),
                    c.digest
                        .as_deref()
                        .map(|d| d.rsplit('@').next().unwrap_or(d).to_owned())
                        .unwrap_or_else(|| "-".into()),
                    c.checked_at.clone(),
                    c.error.clone().unwrap_or_else(|| "-".into()),
                ]
            })
            .collect(),
    );
    let behind: Vec<_> = report
        .checks
        .iter()
        .flat_map(|c| c.outdated.iter())
        .collect();
    println!();
    if behind.is_empty() {
        println!("Every instance runs the image its tag resolves to.");
        return;
    }
    println!("{} instance(s) run an older image:", behind.len());
    output::table(
        &["ID", "CLIENT", "INSTANCE", "IMAGE", "RUNNING", "AVAILABLE"],
        behind
            .iter()
            .map(|o| {
                vec![
                    o.instance_id.to_string(),
                    o.client.clone(),
                    o.instance.clone(),
                    o.image.clone(),
                    short_id(Some(&o.image_id)),
                    short_id(Some(&o.available_id)),
                ]
            })
            .collect(),
    );
}
