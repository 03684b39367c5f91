//! `berth usage export|show`: the same reads as the API, on the store.

use clap::Subcommand;

use super::error::Failure;
use super::output;
use crate::metrics::{export, Range};
use crate::ops::{ClientUsage, Ops};
use crate::web::views::charts::bytes;

#[derive(Subcommand)]
pub enum UsageCmd {
    /// Per-client billing lines of one calendar month (UTC).
    Export {
        /// YYYY-MM, e.g. 2026-11.
        #[arg(long)]
        month: String,
        #[arg(long, default_value = "csv", value_parser = ["csv", "json"])]
        format: String,
    },
    /// What a client's instances used over a range.
    Show {
        slug: String,
        /// 1h, 24h, 7d or 30d.
        #[arg(long, default_value = "24h")]
        range: String,
    },
}

pub async fn run(ops: &Ops, cmd: UsageCmd, as_json: bool) -> Result<(), Failure> {
    match cmd {
        UsageCmd::Export { month, format } => {
            let lines = ops.billing_export(&month).await?;
            if format == "json" || as_json {
                output::json(&lines);
            } else {
                print!("{}", export::csv(&lines));
            }
        }
        UsageCmd::Show { slug, range } => {
            let range = Range::parse(&range).map_err(Failure::usage)?;
            let usage = ops.client_usage(&slug, range).await?;
            output::show(as_json, &usage, |u| print_usage(u, range));
        }
    }
    Ok(())
}

/// A line per instance: averages and peaks against the plan, then the quota warnings.
fn print_usage(u: &ClientUsage, range: Range) {
    let rows = u
        .instances
        .iter()
        .map(|i| {
            let secs: f64 = i.series.len() as f64;
            let avg = |f: fn(&crate::ops::Point) -> f64| {
                if secs > 0.0 {
                    i.series.iter().map(f).sum::<f64>() / secs
                } else {
                    0.0
                }
            };
            let peak = i.series.iter().map(|p| p.mem_max).max().unwrap_or(0);
            vec![
                i.name.clone(),
                format!("{:.2} / {}", avg(|p| p.cpu), i.cpus),
                format!("{} / {}", bytes(peak as f64), bytes(i.memory_limit as f64)),
                format!(
                    "{} / {}",
                    bytes(i.disk as f64),
                    i.storage_quota.map_or("-".into(), |q| bytes(q as f64))
                ),
                format!("{}/s", bytes(avg(|p| p.rx_rate))),
                format!("{}/s", bytes(avg(|p| p.tx_rate))),
                i.series
                    .iter()
                    .map(|p| p.oom_kills)
                    .sum::<u64>()
                    .to_string(),
            ]
        })
        .collect();
    println!("{} over {}", u.client, range.as_str());
    output::table(
        &[
            "instance",
            "cpu avg / plan",
            "mem peak / limit",
            "disk / quota",
            "net in",
            "net out",
            "oom kills",
        ],
        rows,
    );
    for w in &u.warnings {
        println!(
            "warning: {} is over its storage quota ({} of {})",
            w.instance,
            bytes(w.used as f64),
            bytes(w.quota as f64)
        );
    }
    if let Some(llm) = &u.llm {
        print_llm(llm);
    }
}

/// The LLM key's spend this budget period against its limit.
fn print_llm(llm: &crate::ops::LlmUsage) {
    let spent = llm
        .spent_usd
        .map_or("not polled yet".into(), |s| format!("{s:.2} USD"));
    let limit = match (llm.budget.limit_usd, llm.budget.limit_reset) {
        (None, _) => "no limit".to_owned(),
        (Some(l), Some(r)) => format!("{l:.2} USD {}", r.as_str()),
        (Some(l), None) => format!("{l:.2} USD (key lifetime)"),
    };
    println!("llm spend: {spent} of {limit}");
    if let Some(w) = llm.warning {
        println!("warning: llm spend is {}", w.as_str().replace('_', " "));
    }
}
