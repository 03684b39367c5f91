//! `berth recover --from TARGET`: rebuild a lost host from its offsite
//! copies (see `crate::recover`). Runs before any database exists, so it
//! is dispatched like `serve`, not through the operations.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;

use super::error::Failure;
use super::output;
use crate::config::Config;
use crate::recover::{self, Health, Options, Report};

#[derive(Args)]
pub struct RecoverArgs {
    /// The `[[offsite]]` target the lost host copied to.
    #[arg(long)]
    from: String,
    /// A `berth-state` snapshot to restore (default: the newest).
    #[arg(long)]
    snapshot: Option<String>,
    /// How long to wait for every instance to be healthy ("5m", "90s").
    #[arg(long, default_value = "5m", value_parser = parse_wait)]
    wait: Duration,
    /// Instances downloaded at once (default: backup.offsite_concurrency).
    #[arg(long)]
    parallel: Option<usize>,
}

fn parse_wait(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{s:?}: {e}"))
}

/// Exit 0 only when every instance was restored and is healthy (or
/// stopped, as desired); 1 otherwise, with the report printed either way.
pub async fn run(config: Config, args: RecoverArgs, as_json: bool) -> Result<(), Failure> {
    // Under --json stdout carries only the report.
    let say: recover::Say = if as_json {
        Arc::new(|line| eprintln!("{line}"))
    } else {
        Arc::new(|line| println!("{line}"))
    };
    let opts = Options {
        from: args.from,
        snapshot: args.snapshot,
        wait: args.wait,
        parallel: args.parallel.filter(|&n| n > 0),
    };
    let report = recover::run(config, opts, say)
        .await
        .map_err(Failure::failed)?;
    output::show(as_json, &report, print);
    if report.ok {
        Ok(())
    } else {
        Err(Failure::failed(format!(
            "{} of {} instance(s) restored and healthy; see {}",
            report.healthy,
            report.instances.len(),
            report.report_file.display()
        )))
    }
}

fn print(r: &Report) {
    println!();
    output::table(
        &[
            "INSTANCE", "SNAPSHOT", "TIME", "RESTORED", "HEALTH", "MESSAGE",
        ],
        r.instances
            .iter()
            .map(|i| {
                vec![
                    format!("{}/{}", i.client, i.instance),
                    i.snapshot_id
                        .as_deref()
                        .map_or("-".into(), |s| s.chars().take(8).collect()),
                    i.snapshot_time.clone().unwrap_or_else(|| "-".into()),
                    output::size(i.restored_bytes),
                    match i.health {
                        Health::Healthy => "healthy",
                        Health::Stopped => "stopped",
                        Health::Unhealthy => "UNHEALTHY",
                        Health::NotRestored => "NOT RESTORED",
                    }
                    .into(),
                    i.message.clone(),
                ]
            })
            .collect(),
    );
    println!(
        "{} of {} instance(s) restored, {} healthy; report: {}",
        r.restored,
        r.instances.len(),
        r.healthy,
        r.report_file.display()
    );
    if r.ok {
        println!("done: start berth now (systemctl start berth, or berth serve); it takes over the running containers");
    }
}
