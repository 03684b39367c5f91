//! `berth llm status|rotate|budget|plan`: clients' LLM keys. The running
//! daemon's key worker carries out what these ask for; no key's plaintext
//! is ever printed.

use clap::Subcommand;

use super::error::Failure;
use super::output;
use crate::audit::Actor;
use crate::ops::{LlmBudgetInput, LlmKeyView, Ops, PlanLlmInput};

#[derive(Subcommand)]
pub enum LlmCmd {
    /// One client's key (status, budget, spend), or every client's.
    Status { slug: Option<String> },
    /// Replace a client's key: a new one is made, then the old one deleted.
    Rotate { slug: String },
    /// Give a client its own budget, or (--plan) follow its plan's again.
    Budget {
        slug: String,
        /// USD; leave out for no limit.
        #[arg(long)]
        limit_usd: Option<f64>,
        /// daily, weekly, monthly or none.
        #[arg(long)]
        reset: Option<String>,
        /// Drop the client's own budget.
        #[arg(long, conflicts_with_all = ["limit_usd", "reset"])]
        plan: bool,
    },
    /// Whether a plan's clients get a key, and its budget.
    Plan {
        name: String,
        /// Include an LLM key (with --limit-usd/--reset) or not (--off).
        #[arg(long, conflicts_with = "off")]
        on: bool,
        #[arg(long)]
        off: bool,
        #[arg(long, requires = "on")]
        limit_usd: Option<f64>,
        #[arg(long, requires = "on")]
        reset: Option<String>,
    },
}

pub async fn run(ops: &Ops, actor: &Actor, cmd: LlmCmd, as_json: bool) -> Result<(), Failure> {
    match cmd {
        LlmCmd::Status { slug: Some(slug) } => {
            let view = ops.llm_status(&slug).await?;
            output::show(as_json, &view, print_one);
        }
        LlmCmd::Status { slug: None } => {
            let views = ops.llm_statuses().await?;
            output::list(
                as_json,
                &views,
                &["client", "status", "sync", "budget", "spend", "label"],
                |v| {
                    vec![
                        v.client.clone(),
                        v.status.map_or("-".into(), |s| s.to_string()),
                        v.sync.into(),
                        budget(v),
                        usd(v.usage_monthly_usd.or(v.usage_usd)),
                        v.label.clone().unwrap_or_default(),
                    ]
                },
            );
        }
        LlmCmd::Rotate { slug } => {
            let view = ops.rotate_llm_key(actor, &slug).await?;
            output::show(as_json, &view, |v| {
                println!("Rotation of {}'s key asked for; the daemon makes the new key, then deletes the old one.", v.client)
            });
        }
        LlmCmd::Budget {
            slug,
            limit_usd,
            reset,
            plan,
        } => {
            let input = LlmBudgetInput {
                limit_usd,
                limit_reset: reset,
                use_plan: plan,
            };
            let view = ops.set_llm_budget(actor, &slug, input).await?;
            output::show(as_json, &view, |v| {
                println!(
                    "{}'s LLM budget: {} (from the {})",
                    v.client,
                    budget(v),
                    v.budget_source
                )
            });
        }
        LlmCmd::Plan {
            name,
            on,
            off,
            limit_usd,
            reset,
        } => {
            if !on && !off {
                return Err(Failure::usage(
                    "say --on (with --limit-usd/--reset) or --off",
                ));
            }
            let input = PlanLlmInput {
                enabled: on,
                limit_usd,
                limit_reset: reset,
            };
            let set = ops.set_plan_llm(actor, &name, input).await?;
            output::show(as_json, &set, |p| {
                let what = if p.enabled {
                    format!(
                        "an LLM key, limit {}",
                        limit(p.budget.limit_usd, p.budget.limit_reset)
                    )
                } else {
                    "no LLM key".into()
                };
                println!("Plan {name}: {what}.")
            });
        }
    }
    Ok(())
}

fn print_one(v: &LlmKeyView) {
    output::fields(&[
        ("client", v.client.clone()),
        (
            "status",
            v.status.map_or("no key".into(), |s| s.to_string()),
        ),
        ("sync", v.sync.into()),
        ("label", v.label.clone().unwrap_or_default()),
        ("key", v.key_hint.clone().unwrap_or_default()),
        (
            "budget",
            format!("{} (from the {})", budget(v), v.budget_source),
        ),
        ("spend (month)", usd(v.usage_monthly_usd)),
        ("spend (total)", usd(v.usage_usd)),
        ("left", usd(v.limit_remaining_usd)),
        ("polled", v.polled_at.clone().unwrap_or_default()),
        ("error", v.error.clone().unwrap_or_default()),
        ("retry at", v.retry_at.clone().unwrap_or_default()),
    ]);
}

fn budget(v: &LlmKeyView) -> String {
    limit(v.budget.limit_usd, v.budget.limit_reset)
}

fn limit(usd_limit: Option<f64>, reset: Option<crate::domain::LimitReset>) -> String {
    match (usd_limit, reset) {
        (None, _) => "no limit".into(),
        (Some(l), None) => format!("{} in total", usd(Some(l))),
        (Some(l), Some(r)) => format!("{} {r}", usd(Some(l))),
    }
}

fn usd(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("${v:.2}"))
}
