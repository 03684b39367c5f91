//! Read-only connections, so a page never waits behind a write. In WAL mode a
//! reader sees the last committed snapshot while the writer holds its lock,
//! so the admin pages, API lists and read caches run beside the sampler's
//! inserts and backup bookkeeping instead of queueing on one mutex.
//!
//! A handful of connections of our own rather than a pool crate (r2d2,
//! deadpool): the whole pool is a `Vec` behind a mutex and a condvar, every
//! caller is already on a blocking thread, and the connections never need
//! health checks or replacement (a local file does not drop). A crate would
//! add a dependency and an async layer for none of that.

use std::path::Path;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use super::{data_version, StoreError};

/// Readers per store. SQLite reads here are short and CPU-bound on a small
/// host, so more connections than cores only adds memory (each has its own
/// page cache); a few more than two cores covers a read that waits on disk.
const READERS: usize = 4;

pub(super) struct Readers {
    idle: Mutex<Vec<Connection>>,
    returned: Condvar,
    /// Used only to read `data_version`: as it never writes, its counter
    /// moves on every commit (ours and other processes'), so it is one
    /// comparable generation for every read cache. Each reader's own counter
    /// would do too, but counters of different connections do not compare.
    probe: Mutex<Connection>,
}

impl Readers {
    pub(super) fn open(path: &Path) -> Result<Self, StoreError> {
        let idle = (0..READERS)
            .map(|_| open_reader(path))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            idle: Mutex::new(idle),
            returned: Condvar::new(),
            probe: Mutex::new(open_reader(path)?),
        })
    }

    /// Runs `f` on an idle reader, waiting for one when all are busy. Call
    /// only off the async runtime.
    pub(super) fn with<T>(&self, f: impl FnOnce(&Connection) -> T) -> T {
        let lease = self.lease();
        f(lease
            .conn
            .as_ref()
            .expect("a lease holds its connection until dropped"))
    }

    /// The database's change counter, as seen by a connection that never
    /// writes: it moves whenever any connection commits.
    pub(super) fn version(&self) -> Result<i64, StoreError> {
        let probe = self.probe.lock().unwrap_or_else(|p| p.into_inner());
        data_version(&probe)
    }

    fn lease(&self) -> Lease<'_> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            if let Some(conn) = idle.pop() {
                return Lease {
                    readers: self,
                    conn: Some(conn),
                };
            }
            idle = self.returned.wait(idle).unwrap_or_else(|p| p.into_inner());
        }
    }
}

/// A checked-out reader; goes back to the pool when dropped, even when the
/// read panicked, so a panic cannot shrink the pool.
struct Lease<'a> {
    readers: &'a Readers,
    conn: Option<Connection>,
}

impl Drop for Lease<'_> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take() {
            let mut idle = self.readers.idle.lock().unwrap_or_else(|p| p.into_inner());
            idle.push(conn);
            self.readers.returned.notify_one();
        }
    }
}

/// Read-only at open, so a write sent here by mistake fails loudly instead
/// of racing the writer.
fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    // A reader can still meet SQLITE_BUSY while another process recovers or
    // restarts the WAL; wait as the writer does.
    conn.busy_timeout(Duration::from_secs(10))?;
    Ok(conn)
}

#[cfg(test)]
mod tests {
    use std::sync::{mpsc, Arc};
    use std::time::Instant;

    use rusqlite::TransactionBehavior;

    use super::super::cache::ReadCache;
    use super::super::Store;
    use super::*;

    const HOLD: Duration = Duration::from_secs(3);
    /// Far below HOLD, far above a read on an idle machine.
    const DEADLINE: Duration = Duration::from_millis(1500);

    fn count(conn: &Connection) -> Result<i64, StoreError> {
        Ok(conn.query_row("SELECT COUNT(*) FROM metrics_state", [], |r| r.get(0))?)
    }

    /// Holds the writer in an open transaction with one uncommitted row for
    /// HOLD; returns once the row is written.
    fn hold_writer(store: &Store) -> std::thread::JoinHandle<()> {
        let (store, (held, written)) = (store.clone(), mpsc::channel());
        let holder = std::thread::spawn(move || {
            store
                .call_blocking(|conn| {
                    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                    tx.execute(
                        "INSERT INTO metrics_state (key, value) VALUES ('held', 1)",
                        [],
                    )?;
                    held.send(()).unwrap();
                    std::thread::sleep(HOLD);
                    tx.commit()?;
                    Ok(())
                })
                .unwrap();
        });
        written.recv().unwrap();
        holder
    }

    #[test]
    fn a_read_does_not_wait_for_an_open_write_and_sees_the_last_commit() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("berth.db")).unwrap();
        let holder = hold_writer(&store);
        let started = Instant::now();
        let before = store.read_blocking(count).unwrap();
        assert!(
            started.elapsed() < DEADLINE,
            "read waited {:?}",
            started.elapsed()
        );
        assert_eq!(before, 0, "an uncommitted row is invisible");
        holder.join().unwrap();
        assert_eq!(store.read_blocking(count).unwrap(), 1);
    }

    #[test]
    fn a_reader_refuses_writes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("berth.db")).unwrap();
        let err = store
            .read_blocking(|conn| {
                conn.execute("INSERT INTO metrics_state (key, value) VALUES ('x', 1)", [])?;
                Ok(())
            })
            .unwrap_err();
        assert!(err.to_string().contains("readonly"), "{err}");
    }

    #[tokio::test]
    async fn a_cached_read_sees_our_writes_and_another_process_s() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("berth.db");
        let (daemon, cli) = (Store::open(&path).unwrap(), Store::open(&path).unwrap());
        let cache: Arc<ReadCache<i64>> = Arc::default();
        let cached = || daemon.call_cached(&cache, count);
        let insert = |store: &Store, key: &'static str| {
            store.call_blocking(move |c| {
                c.execute(
                    "INSERT INTO metrics_state (key, value) VALUES (?1, 1)",
                    [key],
                )?;
                Ok(())
            })
        };
        assert_eq!(*cached().await.unwrap(), 0);
        insert(&daemon, "ours").unwrap();
        assert_eq!(*cached().await.unwrap(), 1);
        insert(&cli, "theirs").unwrap();
        assert_eq!(*cached().await.unwrap(), 2);
        assert_eq!(*cached().await.unwrap(), 2);
    }

    #[tokio::test]
    async fn a_cached_read_does_not_wait_for_an_open_write() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("berth.db")).unwrap();
        let cache: Arc<ReadCache<i64>> = Arc::default();
        let holder = hold_writer(&store);
        let started = Instant::now();
        let seen = tokio::time::timeout(DEADLINE, store.call_cached(&cache, count))
            .await
            .expect("a cached read waited for the writer")
            .unwrap();
        assert_eq!(*seen, 0, "read in {:?}", started.elapsed());
        holder.join().unwrap();
        assert_eq!(*store.call_cached(&cache, count).await.unwrap(), 1);
    }
}
