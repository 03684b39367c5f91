//! The `berth` command line: `serve` runs the daemon; every other command
//! performs the same operations as the JSON API, directly on the store (the
//! running daemon notices the change within a second).

mod backup;
mod bench;
mod bench_usage;
mod doctor;
mod follow;
mod output;
mod run;
mod usage;
mod users;
mod views;

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
    /// Backups: run, list, verify, restore, status, retention policy.
    #[command(subcommand)]
    Backup(backup::BackupCmd),
    #[command(subcommand)]
    Usage(UsageCmd),
    /// Admin accounts for the web UI.
    #[command(subcommand)]
    User(UserCmd),
    /// Measure berth: `bench ui` on generated data, `bench usage` with real containers.
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
pub enum UserCmd {
    /// Create an admin account. The password is asked for, or read from stdin.
    Create {
        name: String,
        /// Read the password from the first line of stdin, without a prompt.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password; the account's sessions end.
    ResetPassword {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    List,
    Delete {
        name: String,
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
    /// Seed a throwaway store with clients and instances, serve the UI (no
    /// reconciler), and load the dashboard and clients list with wrk.
    Ui {
        #[arg(long, default_value_t = 500)]
        clients: u32,
        /// Instances per client (the first comes with the client).
        #[arg(long, default_value_t = 2)]
        instances_per_client: u32,
        #[arg(long, default_value_t = 32)]
        connections: u32,
        #[arg(long, default_value = "10s")]
        duration: String,
        /// Keep the generated data directory here instead of a temp dir.
        #[arg(long)]
        dir: Option<PathBuf>,
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
        /// Env of the first instance, KEY=VALUE; repeatable.
        #[arg(long = "env", value_parser = parse_key_value)]
        env: Vec<(String, String)>,
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
        /// KEY=VALUE; repeatable.
        #[arg(long = "env", value_parser = parse_key_value)]
        env: Vec<(String, String)>,
    },
    /// Replace an instance's env and/or domains (recreates its container, data kept).
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

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .ok_or_else(|| format!("{s:?} is not KEY=VALUE"))
}

/// Exit codes: 0 done, 1 the operation was refused or failed, 2 bad usage or configuration.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    run::run(cli)
}
