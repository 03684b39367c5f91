//! The `[updates]` section (how rollouts wait and clean up, when berth
//! checks for newer images) and the `[[registry]]` entries (credentials for
//! private registries). A registry password never comes from the TOML file
//! and never reaches the database: it is read at load from `password_env` or
//! `password_file`, and `Debug` masks it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use super::duration as humantime_serde_lite;
use super::ConfigError;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpdatesConfig {
    /// How long an updated (or rolled back) instance may take to become
    /// healthy before the update counts as failed and is rolled back.
    #[serde(with = "humantime_serde_lite")]
    pub health_timeout: Duration,
    /// After a rollout, remove images no instance runs or wants and that are
    /// no instance's rollback point.
    pub remove_old_images: bool,
    /// How many instances of one wave are updated at the same time: the
    /// engine starts containers one after another, so a whole wave at once
    /// makes every tenant in it wait for all the others' starts.
    pub parallel: usize,
    /// Cron expression (UTC) for the scheduled update check (a pull of
    /// every blueprint's tag); empty disables it.
    pub check_schedule: String,
}

impl Default for UpdatesConfig {
    fn default() -> Self {
        Self {
            health_timeout: Duration::from_secs(5 * 60),
            remove_old_images: true,
            parallel: 4,
            check_schedule: "30 4 * * *".into(),
        }
    }
}

/// One private registry's login, passed to every pull from `host`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryConfig {
    /// As it starts an image reference: `ghcr.io`, `registry.example:5000`.
    pub host: String,
    pub username: String,
    /// A file holding the password or token (one line).
    pub password_file: Option<PathBuf>,
    /// An environment variable holding it; wins over `password_file`.
    pub password_env: Option<String>,
    /// Filled at load; never from TOML.
    #[serde(skip)]
    pub password: Option<RegistryPassword>,
}

/// A registry password or token; prints as `<set>`.
#[derive(Clone, PartialEq)]
pub struct RegistryPassword(String);

impl RegistryPassword {
    pub fn new(secret: impl Into<String>) -> Self {
        Self(secret.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RegistryPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<set>")
    }
}

impl fmt::Debug for RegistryConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryConfig")
            .field("host", &self.host)
            .field("username", &self.username)
            .field("password_file", &self.password_file)
            .field("password_env", &self.password_env)
            .field("password", &self.password)
            .finish()
    }
}

impl RegistryConfig {
    /// Reads the password from the environment or the file (relative to
    /// `cwd`), naming the entry in every error.
    pub(super) fn load_password(
        &mut self,
        i: usize,
        env: &impl Fn(&str) -> Option<String>,
        cwd: &Path,
    ) -> Result<(), ConfigError> {
        let key = format!("registry[{i}] ({})", self.host);
        let host_ok = !self.host.is_empty()
            && !self.host.contains('/')
            && !self.host.contains(char::is_whitespace);
        if !host_ok {
            return Err(ConfigError(format!(
                "{key}: host must be a registry host such as ghcr.io or 127.0.0.1:5000"
            )));
        }
        if self.username.trim().is_empty() {
            return Err(ConfigError(format!("{key}: username is empty")));
        }
        if let Some(var) = &self.password_env {
            match env(var).filter(|v| !v.trim().is_empty()) {
                Some(v) => self.password = Some(RegistryPassword(v.trim().to_owned())),
                None if self.password_file.is_none() => {
                    return Err(ConfigError(format!("{key}: password_env {var} is not set")))
                }
                None => {}
            }
        }
        if self.password.is_none() {
            let Some(path) = &mut self.password_file else {
                return Err(ConfigError(format!(
                    "{key}: needs password_env or password_file"
                )));
            };
            if path.is_relative() {
                *path = cwd.join(&*path);
            }
            let text = std::fs::read_to_string(&*path)
                .map_err(|e| ConfigError(format!("{key}: cannot read {}: {e}", path.display())))?;
            if text.trim().is_empty() {
                return Err(ConfigError(format!("{key}: {} is empty", path.display())));
            }
            self.password = Some(RegistryPassword(text.trim().to_owned()));
        }
        Ok(())
    }
}
