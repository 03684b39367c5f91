//! The `berth` command line: `serve` runs the daemon; every other command
//! performs the same operations as the JSON API, directly on the store (the
//! running daemon notices the change within a second).
//!
//! This file owns the top-level commands and the dispatch, and names the one
//! error type (`Failure`, in `error.rs` so that every command file imports
//! it downwards); each command group lives in its own file with its clap
//! enum and the function that carries it out. `output` and `views` are how
//! results are printed, `prompt` what is read back from the terminal.

mod backup_jobs;
mod backups;
mod client_users;
mod clients;
mod config;
mod doctor;
mod error;
mod export;
mod follow;
mod instances;
mod llm;
mod malloc;
mod offsite;
mod offsite_maintenance;
mod output;
mod plans;
mod prompt;
mod recover;
mod requests;
mod tokens;
mod update_check;
mod updates;
mod usage;
mod users;
mod views;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

pub use error::Failure;

use crate::audit::Actor;
use crate::config::Config;
use crate::ops::{Ops, OpsError};

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
    Config(config::ConfigCmd),
    #[command(subcommand)]
    Token(tokens::TokenCmd),
    #[command(subcommand)]
    Plan(plans::PlanCmd),
    #[command(subcommand)]
    Client(clients::ClientCmd),
    #[command(subcommand)]
    Instance(instances::InstanceCmd),
    /// Clients' requests for a new instance: list, approve, reject.
    #[command(subcommand)]
    Request(requests::RequestCmd),
    /// Offsite copies to restic repositories: status, init, copy, snapshots, restore, check,
    /// forget, prune, test-restore, runs.
    #[command(subcommand)]
    Offsite(offsite::OffsiteCmd),
    /// Rebuild a lost host from its offsite copies (on a fresh host, berth stopped).
    ///
    /// berth's state first, then every instance's newest good snapshot, then
    /// start-up until all are healthy. Refused when the data dir has a database;
    /// run again after an interruption, it continues.
    Recover(recover::RecoverArgs),
    /// Backups: run, list, verify, restore, status, retention policy.
    #[command(subcommand)]
    Backup(backups::BackupCmd),
    #[command(subcommand)]
    Usage(usage::UsageCmd),
    /// Admin accounts for the web UI.
    #[command(subcommand)]
    User(users::UserCmd),
    /// Clients' LLM keys: status, rotation, budgets.
    #[command(subcommand)]
    Llm(llm::LlmCmd),
    /// App updates: check for newer images, roll them out in waves, follow them.
    #[command(subcommand)]
    Update(updates::UpdateCmd),
}

/// Exit codes: 0 done, 1 the operation was refused or failed, 2 bad usage or configuration.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    crate::tls::install_crypto_provider();
    init_tracing(matches!(cli.command, Command::Serve));
    match dispatch(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("berth: {f}");
            f.exit_code()
        }
    }
}

fn init_tracing(daemon: bool) {
    let default = if daemon { "info" } else { "warn" };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

fn dispatch(cli: Cli) -> Result<(), Failure> {
    let load = || {
        Config::load(cli.config.as_deref(), |k| std::env::var(k).ok())
            .map_err(|e| Failure::usage(e.to_string()))
    };
    // Config commands work without a runtime; `example` even without a valid config.
    if let Command::Config(cmd) = &cli.command {
        return config::run(cmd, load);
    }
    let config = load()?;
    let rt = runtime().map_err(|e| Failure::failed(format!("starting runtime: {e}")))?;
    match cli.command {
        Command::Serve => rt.block_on(serve(config)),
        Command::Doctor => rt.block_on(doctor::doctor(&config, cli.json)),
        // Before any store is opened: it starts where no database exists.
        Command::Recover(args) => rt.block_on(recover::run(config, args, cli.json)),
        command => {
            let ops = open_ops(config)?;
            rt.block_on(operate(&ops, command, cli.json))
        }
    }
}

/// Blocking threads the runtime may keep. Tokio's default (512) lets a burst
/// of page loads grow a thread per waiting SQLite read, each with its stack
/// and malloc state, and that memory stays resident long after the burst.
/// Reads only ever run on a few connections, so more threads than the
/// store's connections plus the long jobs (backups, disk walks) buy nothing.
const BLOCKING_THREADS: usize = 16;

/// The runtime the daemon and every command run on (the benchmarks too, so
/// they measure what runs in production).
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    malloc::tune();
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .max_blocking_threads(BLOCKING_THREADS)
        .build()
}

async fn serve(config: Config) -> Result<(), Failure> {
    let app = crate::app::App::build(config).await?;
    app.run(crate::app::shutdown_signal()).await?;
    Ok(())
}

/// The operations layer on the configured store and blueprints, without the
/// daemon's workers: what every command but `serve` and `doctor` runs on.
/// The benchmarks under `benches/` use it too, so there is one such wiring.
pub fn open_ops(config: Config) -> Result<Ops, Failure> {
    Ops::open(&config).map_err(|e| match e {
        // A blueprint directory that does not load is bad configuration.
        OpsError::Refused(m) => Failure::usage(m),
        other => Failure::from(other),
    })
}

/// The commands that work on the store, each group in its own file.
async fn operate(ops: &Ops, command: Command, as_json: bool) -> Result<(), Failure> {
    let actor = Actor::cli();
    match command {
        Command::Token(cmd) => tokens::run(ops, &actor, cmd, as_json).await,
        Command::Plan(cmd) => plans::run(ops, &actor, cmd, as_json).await,
        Command::Client(cmd) => clients::run(ops, &actor, cmd, as_json).await,
        Command::Instance(cmd) => instances::run(ops, &actor, cmd, as_json).await,
        Command::Request(cmd) => requests::run(ops, &actor, cmd, as_json).await,
        Command::Backup(cmd) => backups::run(ops, &actor, cmd, as_json).await,
        Command::Offsite(cmd) => offsite::run(ops, &actor, cmd, as_json).await,
        Command::Usage(cmd) => usage::run(ops, cmd, as_json).await,
        Command::User(cmd) => users::run(ops, &actor, cmd, as_json).await,
        Command::Llm(cmd) => llm::run(ops, &actor, cmd, as_json).await,
        Command::Update(cmd) => updates::run(ops, &actor, cmd, as_json).await,
        Command::Serve | Command::Doctor | Command::Config(_) | Command::Recover(_) => {
            unreachable!("handled before opening the store")
        }
    }
}
