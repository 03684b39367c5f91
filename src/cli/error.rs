//! The CLI's one error type: what went wrong, already worded for the
//! person at the terminal, and which exit code it means.

use std::process::ExitCode;

use crate::ops::OpsError;

/// A failure already explained to the user; the variant is the exit code.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Bad usage or configuration: exit code 2.
    #[error("{0}")]
    Usage(String),
    /// The operation was refused or failed: exit code 1.
    #[error("{0}")]
    Failed(String),
}

impl Failure {
    pub fn usage(message: impl Into<String>) -> Self {
        Self::Usage(message.into())
    }

    pub fn failed(message: impl std::fmt::Display) -> Self {
        Self::Failed(message.to_string())
    }

    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(self.code())
    }

    fn code(&self) -> u8 {
        match self {
            Self::Usage(_) => 2,
            Self::Failed(_) => 1,
        }
    }
}

impl From<OpsError> for Failure {
    fn from(e: OpsError) -> Self {
        Self::failed(e)
    }
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        // One line: the outermost context and its causes.
        Self::Failed(format!("{e:#}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_exit_1_and_usage_errors_exit_2() {
        let refused = Failure::from(OpsError::Refused("quota reached".into()));
        assert_eq!(
            (refused.code(), refused.to_string().as_str()),
            (1, "quota reached")
        );
        assert_eq!(Failure::usage("--cpus is required").code(), 2);
    }

    #[test]
    fn an_error_chain_is_one_line() {
        let e = anyhow::anyhow!("permission denied").context("opening /var/lib/berth/berth.db");
        assert_eq!(
            Failure::from(e).to_string(),
            "opening /var/lib/berth/berth.db: permission denied"
        );
    }
}
