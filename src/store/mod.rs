//! SQLite holds the desired state (and what was last observed). One
//! connection behind a mutex, used from `spawn_blocking`: berth's writes are
//! tiny and serialising them is what keeps port and slug allocation simple.
//! Uniqueness of ports, slugs and domains is still enforced by the schema, so
//! a second process (the CLI) can never break it.

pub mod audit;
pub mod backup_jobs;
pub mod backups;
pub mod cache;
pub mod clients;
pub mod deletions;
pub mod instances;
pub mod metrics;
mod migrations;
pub mod overview;
pub mod plans;
pub mod tokens;
pub mod usage;
pub mod users;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode};

pub use audit::{AuditEntry, AuditFilter, NewAuditEntry};
pub use backups::{BackupPolicy, BackupRow, RestoreRow};
pub use clients::{ClientRow, NewClient};
pub use deletions::{DeletionRow, NewDeletion};
pub use instances::{InstanceRow, NewInstance, Observation};
pub use plans::PlanRow;
pub use tokens::TokenRow;
pub use users::UserRow;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(String),
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("database migration: {0}")]
    Migration(#[from] rusqlite_migration::Error),
    #[error("database task failed: {0}")]
    Task(String),
}

impl StoreError {
    /// Turns a UNIQUE violation into a conflict with a message for humans.
    pub(crate) fn unique(err: rusqlite::Error, message: impl FnOnce() -> String) -> Self {
        match &err {
            rusqlite::Error::SqliteFailure(e, _) if e.code == ErrorCode::ConstraintViolation => {
                StoreError::Conflict(message())
            }
            _ => StoreError::Sqlite(err),
        }
    }
}

#[derive(Clone)]
pub struct Store {
    conn: Arc<Mutex<Connection>>,
}

impl Store {
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| {
                StoreError::Invalid(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let mut conn = Connection::open(path)?;
        configure(&conn)?;
        migrations::run(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    pub fn open_in_memory() -> Result<Self, StoreError> {
        let mut conn = Connection::open_in_memory()?;
        configure(&conn)?;
        migrations::run(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `f` on the connection off the async runtime.
    pub async fn call<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            f(&mut guard)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// The same as [`Store::call`] for code already off the runtime (the CLI).
    pub fn call_blocking<T>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut guard = self
            .conn
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        f(&mut guard)
    }
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// A change counter that moves when *another* connection commits; lets the
/// daemon notice writes made by the CLI without polling the tables.
pub fn data_version(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.pragma_query_value(None, "data_version", |r| r.get(0))?)
}

/// [`now`] minus `ago`, in the same sortable format.
pub(crate) fn now_minus(ago: std::time::Duration) -> String {
    let t = time::OffsetDateTime::now_utc() - ago;
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

pub(crate) fn now() -> String {
    time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc())
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}
