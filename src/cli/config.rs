//! `berth config example|check`: the documented example, and the loaded
//! configuration as berth sees it (secrets masked by `Config`'s `Debug`).

use clap::Subcommand;

use super::error::Failure;
use crate::config::Config;

#[derive(Subcommand)]
pub enum ConfigCmd {
    /// Print the documented example configuration.
    Example,
    /// Load and check the configuration, then print it.
    Check,
}

/// `load` is only called by `check`: `example` must work with a broken config.
pub fn run(cmd: &ConfigCmd, load: impl FnOnce() -> Result<Config, Failure>) -> Result<(), Failure> {
    match cmd {
        ConfigCmd::Example => print!("{}", crate::config::EXAMPLE),
        ConfigCmd::Check => println!("{:#?}", load()?),
    }
    Ok(())
}
