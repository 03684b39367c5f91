//! `berth update apply|status|halt|resume|cancel` and `berth instance rollback`
//! (`berth update check` is in `update_check.rs`):
//! rollouts, written to the store; the daemon's rollout worker carries them
//! out (it looks at the store every second).

use std::time::Duration;

use clap::Subcommand;

use super::error::Failure;
use super::output::{self, show};
use crate::audit::Actor;
use crate::domain::RolloutStatus;
use crate::ops::{Ops, RolloutInput, RolloutView};

#[derive(Subcommand)]
pub enum UpdateCmd {
    /// Pull the blueprints' tags and list the instances running an older image.
    Check(super::update_check::CheckArgs),
    /// Update a blueprint's instances in waves: each is backed up first
    /// (skipped if that fails), moved to the new image, and rolled back
    /// (image and data) unless it becomes healthy. Prints the rollout id.
    Apply {
        #[arg(long)]
        blueprint: String,
        /// The tag to move to; default: each instance's own tag, pulled afresh.
        #[arg(long)]
        tag: Option<String>,
        /// Only these instance ids, e.g. 1,2,7.
        #[arg(long, value_delimiter = ',')]
        instances: Vec<i64>,
        /// Wave sizes, e.g. 1,5,all (default 1,all: a canary, then the rest).
        #[arg(long)]
        wave: Option<String>,
        /// Go on after a failed instance instead of halting.
        #[arg(long)]
        keep_going: bool,
        /// Follow the rollout to its end; exit 1 unless every instance was updated.
        #[arg(long)]
        wait: bool,
    },
    /// A rollout's steps (or, without an id, the recent rollouts).
    Status { id: Option<i64> },
    /// Start no further instance of a rollout (one under way finishes).
    Halt { id: i64 },
    /// Continue a halted rollout.
    Resume { id: i64 },
    /// End a halted rollout: its pending instances keep what they run.
    Cancel { id: i64 },
}

pub async fn run(ops: &Ops, actor: &Actor, cmd: UpdateCmd, as_json: bool) -> Result<(), Failure> {
    match cmd {
        UpdateCmd::Check(args) => super::update_check::check(ops, actor, args, as_json).await?,
        UpdateCmd::Apply {
            blueprint,
            tag,
            instances,
            wave,
            keep_going,
            wait,
        } => {
            let input = RolloutInput {
                blueprint,
                tag,
                instances: (!instances.is_empty()).then_some(instances),
                waves: wave,
                keep_going,
            };
            let r = ops.start_rollout(actor, input).await?;
            if wait {
                return follow(ops, r.id, as_json).await;
            }
            show(as_json, &r, |r| println!("{}", r.id));
        }
        UpdateCmd::Status { id: Some(id) } => {
            let r = ops.get_rollout(id).await?;
            show(as_json, &r, print_rollout);
        }
        UpdateCmd::Status { id: None } => {
            let all = ops.list_rollouts().await?;
            show(as_json, &all, |all| {
                let rows = all
                    .iter()
                    .map(|r| {
                        vec![
                            r.id.to_string(),
                            r.kind.to_string(),
                            r.blueprint.clone(),
                            r.tag.clone().unwrap_or_else(|| "-".into()),
                            r.status.to_string(),
                            r.steps.len().to_string(),
                            r.created_at.clone(),
                            r.message.clone(),
                        ]
                    })
                    .collect();
                output::table(
                    &[
                        "ID",
                        "KIND",
                        "BLUEPRINT",
                        "TAG",
                        "STATUS",
                        "STEPS",
                        "CREATED",
                        "MESSAGE",
                    ],
                    rows,
                );
            });
        }
        UpdateCmd::Halt { id } => {
            let r = ops.halt_rollout(actor, id).await?;
            show(as_json, &r, |r| println!("rollout {} {}", r.id, r.status));
        }
        UpdateCmd::Resume { id } => {
            let r = ops.resume_rollout(actor, id).await?;
            show(as_json, &r, |r| println!("rollout {} {}", r.id, r.status));
        }
        UpdateCmd::Cancel { id } => {
            let r = ops.cancel_rollout(actor, id).await?;
            show(as_json, &r, |r| {
                println!("rollout {} {}: {}", r.id, r.status, r.message)
            });
        }
    }
    Ok(())
}

/// `berth instance rollback ID`: prints the rollback's rollout id.
pub async fn rollback(ops: &Ops, actor: &Actor, id: i64, as_json: bool) -> Result<(), Failure> {
    let r = ops.rollback_instance(actor, id).await?;
    show(as_json, &r, |r| println!("{}", r.id));
    Ok(())
}

/// Prints each change of the rollout's steps until it halts or finishes;
/// fails unless it is done.
async fn follow(ops: &Ops, id: i64, as_json: bool) -> Result<(), Failure> {
    if !as_json {
        println!("{id}");
    }
    let mut last: Vec<String> = Vec::new();
    let r = loop {
        let r = ops.get_rollout(id).await?;
        if !as_json {
            let now: Vec<String> = std::iter::once(format!("{}: {}", r.status, r.message))
                .chain(r.steps.iter().map(|s| {
                    format!(
                        "  {} wave {}: {} {}",
                        s.instance, s.wave, s.state, s.message
                    )
                }))
                .collect();
            for line in now.iter().filter(|l| !last.contains(l)) {
                println!("{line}");
            }
            last = now;
        }
        if matches!(
            r.status,
            RolloutStatus::Halted | RolloutStatus::Done | RolloutStatus::Failed
        ) {
            break r;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    if as_json {
        output::json(&r);
    }
    match r.status {
        RolloutStatus::Done => Ok(()),
        status => Err(Failure::failed(format!(
            "rollout {id} {status}: {}",
            r.message
        ))),
    }
}

fn print_rollout(r: &RolloutView) {
    output::fields(&[
        ("id", r.id.to_string()),
        ("kind", r.kind.to_string()),
        ("blueprint", r.blueprint.clone()),
        ("tag", r.tag.clone().unwrap_or_else(|| "-".into())),
        ("waves", r.waves.clone()),
        ("status", r.status.to_string()),
        ("message", r.message.clone()),
    ]);
    let rows = r
        .steps
        .iter()
        .map(|s| {
            vec![
                s.instance.clone(),
                s.wave.to_string(),
                s.state.to_string(),
                s.from_image.clone().unwrap_or_else(|| "-".into()),
                s.to_image.clone(),
                s.backup_id.map_or("-".into(), |b| b.to_string()),
                s.message.clone(),
            ]
        })
        .collect();
    output::table(
        &[
            "INSTANCE", "WAVE", "STATE", "FROM", "TO", "BACKUP", "MESSAGE",
        ],
        rows,
    );
}
