//! The `berth` command line: `serve` runs the daemon; every other command
//! performs the same operations as the JSON API, directly on the store (the
//! running daemon notices the change within a second).

mod bench;
mod doctor;
mod output;
mod run;
mod usage;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "berth",
    version,
    about = "Multi-client hosting on one server: clients, plans, containers, routes"
)]
pub struct Cli {
    /// Configuration file (TOML). Without one, built-in defaults and BERTH_* variables apply.
    #[arg(long, short, global = true, env = "BERTH_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print JSON instead of tables.
    #[arg(long, global = true)]
    pub json: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run the daemon: API, reconciler, and Caddy if none is running.
    Serve,
    /// Check what berth needs: Docker, Caddy, free ports, writable dirs.
    Doctor,
    #[command(subcommand)]
    Config(ConfigCmd),
    #[command(subcommand)]
    Token(TokenCmd),
    #[command(subcommand)]
    Plan(PlanCmd),
    #[command(subcommand)]
    Client(ClientCmd),
    #[command(subcommand)]
    Instance(InstanceCmd),
    #[command(subcommand)]
    Usage(UsageCmd),
    /// Measure berth against its performance targets (creates and removes real containers).
    #[command(subcommand)]
    Bench(BenchCmd),
}

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

#[derive(Subcommand)]
pub enum BenchCmd {
    /// Sampling sweep time, sampler CPU and 30-day chart page time with N
    /// busybox instances under a throwaway owner label.
    Usage {
        #[arg(long, default_value_t = 200)]
        instances: u32,
        /// How long to run the sampler at its normal cadence to measure CPU.
        #[arg(long, default_value = "2m")]
        cpu_window: String,
    },
}

#[derive(Subcommand)]
pub enum ConfigCmd {
    /// Print the documented example configuration.
    Example,
    /// Load and check the configuration, then print it.
    Check,
}

#[derive(Subcommand)]
pub enum TokenCmd {
    /// Create an API token; it is printed once and only its hash is stored.
    Create {
        name: String,
    },
    List,
    Revoke {
        name: String,
    },
}

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
}

#[derive(Subcommand)]
pub enum PlanCmd {
    Create {
        name: String,
        #[command(flatten)]
        args: PlanArgs,
    },
    List,
    Edit {
        name: String,
        #[arg(long)]
        rename: Option<String>,
        #[command(flatten)]
        args: PlanArgs,
    },
    Delete {
        name: String,
    },
}

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
    },
    List,
    Show {
        slug: String,
    },
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
    Suspend {
        slug: String,
    },
    Resume {
        slug: String,
    },
    /// Delete the client with its containers, data and backups. Needs the slug typed back.
    Delete {
        slug: String,
        /// The slug again; asked for interactively when missing.
        #[arg(long)]
        confirm: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum InstanceCmd {
    Add {
        slug: String,
        #[arg(long)]
        name: String,
        #[arg(long)]
        blueprint: Option<String>,
        #[arg(long)]
        domain: Option<String>,
    },
    List {
        slug: Option<String>,
    },
    Show {
        id: i64,
    },
    Start {
        id: i64,
    },
    Stop {
        id: i64,
    },
    Restart {
        id: i64,
    },
    /// Remove the instance with its container and data. Needs "<slug>/<name>" typed back.
    Remove {
        id: i64,
        #[arg(long)]
        confirm: Option<String>,
    },
}

/// Exit codes: 0 done, 1 the operation was refused or failed, 2 bad usage or configuration.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    run::run(cli)
}
