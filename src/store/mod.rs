//! SQLite holds the desired state (and what was last observed). One writer
//! connection behind a mutex, used from `spawn_blocking`: berth's writes are
//! tiny and serialising them is what keeps port and slug allocation simple.
//! Reads that pages wait on go to a few read-only connections instead
//! ([`Store::read`], `readers.rs`): with WAL they see the last commit while
//! a write is open, so no page queues behind the sampler or a backup.
//! Uniqueness of ports, slugs and domains is still enforced by the schema, so
//! a second process (the CLI) can never break it.

pub mod audit;
pub mod backup_jobs;
pub mod backups;
pub mod cache;
pub mod client_users;
pub mod clients;
pub mod deletions;
pub mod erasure;
pub mod instances;
pub mod llm;
pub mod metrics;
mod migrations;
pub mod networks;
pub mod offsite;
pub mod offsite_runs;
pub mod overview;
pub mod plans;
mod readers;
pub mod recovered;
pub mod requests;
pub mod rollouts;
mod rows;
mod sql_types;
pub mod tokens;
pub mod updates;
pub mod usage;
pub mod users;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, TransactionBehavior};

use readers::Readers;

pub use audit::{AuditEntry, AuditFilter, NewAuditEntry};
pub use backups::{BackupPolicy, BackupRow, RestoreRow};
pub use client_users::{ClientUserRow, PortalIdentity};
pub use clients::{ClientRow, NewClient};
pub use deletions::{DeletionRow, NewDeletion};
pub use instances::{Adopt, InstanceRow, NewInstance, Observation};
pub use plans::PlanRow;
pub use requests::RequestRow;
pub use tokens::TokenRow;
pub use users::UserRow;

/// The handle every `store::` function takes. Callers outside the store name
/// it only to hand it on (inside [`Store::write`] it is the open
/// transaction), never to run SQL of their own.
pub type Conn = Connection;

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
    /// None for an in-memory store: a second connection would open a second,
    /// empty database, so reads share the writer there.
    readers: Option<Arc<Readers>>,
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
        // After the migrations: a reader opened earlier could see an old schema.
        let readers = Readers::open(path)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            readers: Some(Arc::new(readers)),
        })
    }

    pub fn open_in_memory() -> Result<Self, StoreError> {
        let mut conn = Connection::open_in_memory()?;
        configure(&conn)?;
        migrations::run(&mut conn)?;
        Ok(Self {
            conn: Arc::new(Mutex::new(conn)),
            readers: None,
        })
    }

    /// Runs `f` on a read-only connection off the async runtime. It never
    /// waits for the writer, only for an idle reader; a write inside `f`
    /// fails ("attempt to write a readonly database").
    pub async fn read<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Conn) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.read_blocking(f))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    /// The same as [`Store::read`] for code already off the runtime.
    pub fn read_blocking<T>(
        &self,
        f: impl FnOnce(&Conn) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        match &self.readers {
            Some(readers) => readers.with(f),
            None => self.call_blocking(|conn| f(conn)),
        }
    }

    /// Runs `f` on the writer connection off the async runtime: for writes
    /// that need no transaction of their own, and for reads that must see
    /// only what other processes committed (`data_version` on the writer).
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

    /// Runs `f` in one immediate transaction off the async runtime: committed
    /// when `f` returns `Ok`, rolled back when it returns `Err`. `E` is the
    /// caller's own error, so a business refusal inside the transaction
    /// travels as itself, not dressed as a database error.
    ///
    /// Immediate, because every caller reads before it writes (a quota, a
    /// free port, a throttle count): taking the write lock up front means a
    /// second process (the CLI) waits instead of failing the upgrade.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        T: Send + 'static,
        E: From<StoreError> + Send + 'static,
        F: FnOnce(&Conn) -> Result<T, E> + Send + 'static,
    {
        let conn = self.conn.clone();
        tokio::task::spawn_blocking(move || {
            let mut guard = conn.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            in_transaction(&mut guard, f)
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

fn in_transaction<T, E: From<StoreError>>(
    conn: &mut Connection,
    f: impl FnOnce(&Conn) -> Result<T, E>,
) -> Result<T, E> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(StoreError::from)?;
    // On Err, `tx` is dropped here, which rolls it back.
    let value = f(&tx)?;
    tx.commit().map_err(StoreError::from)?;
    Ok(value)
}

fn configure(conn: &Connection) -> Result<(), StoreError> {
    conn.busy_timeout(Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// A count or size kept in an INTEGER column. SQLite integers are i64 and
/// no byte or event count berth stores comes near `i64::MAX`, so the cast
/// loses nothing.
pub(crate) fn get_u64(row: &rusqlite::Row, idx: usize) -> rusqlite::Result<u64> {
    Ok(row.get::<_, i64>(idx)? as u64)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// A caller's own error, as ops' is: a refusal or a store failure.
    #[derive(Debug)]
    enum Refusal {
        No,
        Store(String),
    }

    impl From<StoreError> for Refusal {
        fn from(e: StoreError) -> Self {
            Refusal::Store(e.to_string())
        }
    }

    fn set(conn: &Conn, key: &str) -> Result<(), StoreError> {
        conn.execute(
            "INSERT INTO metrics_state (key, value) VALUES (?1, 1)",
            [key],
        )?;
        Ok(())
    }

    async fn keys(store: &Store) -> Vec<String> {
        store
            .call(|c| {
                let mut stmt = c.prepare("SELECT key FROM metrics_state ORDER BY key")?;
                let keys = stmt
                    .query_map([], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                Ok(keys)
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn write_commits_on_ok_and_rolls_back_on_err() {
        let store = Store::open_in_memory().unwrap();
        store
            .write(|tx| -> Result<_, Refusal> { Ok(set(tx, "kept")?) })
            .await
            .unwrap();
        let refused = store
            .write(|tx| -> Result<(), Refusal> {
                set(tx, "dropped")?;
                Err(Refusal::No)
            })
            .await;
        assert!(matches!(refused, Err(Refusal::No)), "{refused:?}");
        let failed = store
            .write(|tx| -> Result<(), Refusal> {
                set(tx, "also dropped")?;
                set(tx, "kept")?; // a UNIQUE violation
                Ok(())
            })
            .await;
        assert!(
            matches!(&failed, Err(Refusal::Store(m)) if m.contains("UNIQUE")),
            "{failed:?}"
        );
        assert_eq!(keys(&store).await, ["kept"]);
    }
}
