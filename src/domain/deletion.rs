//! A confirmed delete is a job: a row with a status that a worker carries to
//! the end, so it survives a restart and no request waits for containers.

use serde::{Deserialize, Serialize};

/// What a finished delete removed; shown once and kept as a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeletionReport {
    pub client: String,
    pub client_name: String,
    /// True when the client itself was deleted, false when one instance was.
    pub client_deleted: bool,
    pub instances: Vec<RemovedInstance>,
    pub backups_removed: Vec<String>,
    /// The client's LLM keys deleted at the provider, by label.
    #[serde(default)]
    pub llm_keys_deleted: Vec<String>,
    /// Keys that could not be deleted because no provider is configured any
    /// more: delete them by hand (the label is their name there).
    #[serde(default)]
    pub llm_keys_left: Vec<String>,
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
