//! Plain types with checked constructors and no IO: once a value exists it
//! is valid. Nothing here imports axum, maud, bollard, rusqlite or reqwest.
//! Besides the values, the pure maths the layers above share: usage
//! [`rollup`]s, backup [`schedule`]s, the backup [`Manifest`] and the
//! reconciler's [`ReconcileCounts`].

mod client;
mod counters;
mod deletion;
mod hostname;
mod image;
mod instance;
pub mod llm;
mod manifest;
mod offsite_run;
mod plan;
mod request;
mod rollout;
pub mod rollup;
pub mod schedule;
pub mod size;
mod slug;
mod state;

pub use client::{ClientUpdate, DisplayName, Email, Notes};
pub use counters::ReconcileCounts;
pub use deletion::{
    erased_label, Category, DeletionReport, Disposition, KeptBillingMonth, RemovedInstance,
    SubjectProof, REPORT_SCHEMA,
};
pub use hostname::Hostname;
pub use image::{image_registry_host, parse_image_tag};
pub use instance::{parse_env, GeneratedSecrets, InstanceName};
pub use manifest::Manifest;
pub use offsite_run::{OffsiteRunKind, ReadData};
pub use plan::{blueprint_allowed, Limits, PlanName, PlanSpec};
pub use request::{InstanceQuota, Transition};
pub use rollout::{RolloutKind, RolloutStatus, StepState, Waves};
pub use size::{parse_size, ByteSize};
pub use slug::Slug;
pub use state::{
    Approval, BackupStatus, ClientRole, ClientStatus, DeletionStatus, DesiredState, LimitReset,
    LinkKind, LlmKeyStatus, LlmProvider, OffsiteKind, Phase, RequestStatus, RestoreMode,
    SpendWarning, Trigger,
};

/// A value that failed its checks; the message names the field and the problem
/// and is safe to show to whoever typed it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct DomainError {
    pub field: &'static str,
    pub problem: String,
}

impl DomainError {
    pub fn new(field: &'static str, problem: impl Into<String>) -> Self {
        Self {
            field,
            problem: problem.into(),
        }
    }
}

/// Rejects control characters and over-long input shared by every free-text field.
pub(crate) fn check_text(
    field: &'static str,
    value: &str,
    max_chars: usize,
) -> Result<(), DomainError> {
    if value.chars().count() > max_chars {
        return Err(DomainError::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if value
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(DomainError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}
