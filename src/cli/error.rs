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
        ExitCode::from(match self {
            Self::Usage(_) => 2,
            Self::Failed(_) => 1,
        })
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
