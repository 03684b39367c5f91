//! A confirmed delete is a job: a row with a status that a worker carries to
//! the end, so it survives a restart and no request waits for containers.

use serde::{Deserialize, Serialize};

use super::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DeletionStatus {
    /// Instances are marked absent; waiting for their containers to go.
    Pending,
    /// Containers are gone; data, backups and rows are being removed.
    Running,
    Done,
    Failed,
}

impl DeletionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeletionStatus::Pending => "pending",
            DeletionStatus::Running => "running",
            DeletionStatus::Done => "done",
            DeletionStatus::Failed => "failed",
        }
    }

    pub fn parse(value: &str) -> Result<Self, DomainError> {
        match value {
            "pending" => Ok(DeletionStatus::Pending),
            "running" => Ok(DeletionStatus::Running),
            "done" => Ok(DeletionStatus::Done),
            "failed" => Ok(DeletionStatus::Failed),
            _ => Err(DomainError::new(
                "deletion_status",
                format!("{value:?} is not pending, running, done or failed"),
            )),
        }
    }

    /// Done or failed: nothing more will happen to this job.
    pub fn is_finished(self) -> bool {
        matches!(self, DeletionStatus::Done | DeletionStatus::Failed)
    }
}

/// What a finished delete removed; shown once and kept as a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeletionReport {
    pub client: String,
    pub client_name: String,
    /// True when the client itself was deleted, false when one instance was.
    pub client_deleted: bool,
    pub instances: Vec<RemovedInstance>,
    pub backups_removed: Vec<String>,
    pub deleted_at: String,
    pub deleted_by: String,
    pub report_file: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RemovedInstance {
    pub id: i64,
    pub name: String,
    pub container: String,
    pub network: String,
    pub domains: Vec<String>,
    pub host_port: u16,
    pub data_dir: String,
    pub data_bytes: u64,
    pub data_files: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_unknown_ones_are_refused() {
        for s in [
            DeletionStatus::Pending,
            DeletionStatus::Running,
            DeletionStatus::Done,
            DeletionStatus::Failed,
        ] {
            assert_eq!(DeletionStatus::parse(s.as_str()), Ok(s));
        }
        assert!(DeletionStatus::parse("gone").is_err());
        assert!(DeletionStatus::Done.is_finished());
        assert!(!DeletionStatus::Running.is_finished());
    }
}
