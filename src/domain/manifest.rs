//! The sidecar manifest next to each archive: everything the store records
//! about a backup, so archives stay listable and restorable when the
//! database is lost. Written by the backup runner, read back by
//! `berth backup import-manifests`.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: u32,
    pub client: String,
    pub instance: String,
    pub instance_id: Option<i64>,
    /// The archive's file name, beside this manifest.
    pub file: String,
    pub consistency: String,
    pub level: i32,
    pub source_bytes: u64,
    pub size: u64,
    pub files: u64,
    pub sha256: String,
    pub duration_ms: u64,
    pub freeze_ms: u64,
    pub created_at: String,
    pub finished_at: String,
    pub berth_version: String,
}
