//! Results of read queries kept until the database changes. The key is
//! SQLite's own change counter: `data_version` on a connection that never
//! writes moves whenever anyone commits (this daemon's writer or the CLI).
//! So a cached answer is never stale, and the pages that every admin keeps
//! open (dashboard, clients list) cost one counter read while nothing changes.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use super::{data_version, Store, StoreError};

/// In-memory stores have one connection, whose `data_version` does not see
/// its own commits: `total_changes` covers those. With readers the second
/// half is always 0.
type Generation = (i64, u64);

pub struct ReadCache<T> {
    slot: Mutex<Option<(Generation, Arc<T>)>>,
}

impl<T> Default for ReadCache<T> {
    fn default() -> Self {
        Self {
            slot: Mutex::new(None),
        }
    }
}

impl Store {
    /// `f`'s result, computed again only when the database changed since
    /// it was cached. Runs on a reader, like [`Store::read`].
    pub async fn call_cached<T, F>(
        &self,
        cache: &Arc<ReadCache<T>>,
        f: F,
    ) -> Result<Arc<T>, StoreError>
    where
        T: Send + Sync + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let (cache, store) = (cache.clone(), self.clone());
        tokio::task::spawn_blocking(move || store.cached_blocking(&cache, f))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    fn cached_blocking<T>(
        &self,
        cache: &ReadCache<T>,
        f: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<Arc<T>, StoreError> {
        let Some(readers) = &self.readers else {
            return self.call_blocking(|conn| {
                let now = (data_version(conn)?, conn.total_changes());
                fill(cache, || Ok(now), || f(conn))
            });
        };
        fill(cache, || Ok((readers.version()?, 0)), || readers.with(f))
    }
}

/// A [`ReadCache`] with one answer per key, for pages that differ by who
/// asks (a client's usage charts). Every entry goes when the database
/// changes or the caller's epoch moves (a chart ending "now" is exact for
/// one second); at most [`KEYED_MAX`] are kept meanwhile.
pub struct KeyedCache<K, V> {
    slot: Mutex<KeyedSlot<K, V>>,
}

/// The (generation, epoch) the entries belong to, and the entries.
type KeyedSlot<K, V> = (Option<(Generation, i64)>, HashMap<K, Arc<V>>);

/// Entries a [`KeyedCache`] holds at most: past this it starts over, so a
/// crawl over every client cannot grow the daemon's memory.
pub const KEYED_MAX: usize = 64;

impl<K, V> Default for KeyedCache<K, V> {
    fn default() -> Self {
        Self {
            slot: Mutex::new((None, HashMap::new())),
        }
    }
}

impl Store {
    /// `f`'s result for `key`, computed again only when the database
    /// changed or `epoch` is another since it was cached (or the entry was
    /// dropped for room).
    pub async fn call_keyed<K, V, F>(
        &self,
        cache: &Arc<KeyedCache<K, V>>,
        epoch: i64,
        key: K,
        f: F,
    ) -> Result<Arc<V>, StoreError>
    where
        K: Eq + Hash + Send + 'static,
        V: Send + Sync + 'static,
        F: FnOnce(&Connection) -> Result<V, StoreError> + Send + 'static,
    {
        let (cache, store) = (cache.clone(), self.clone());
        tokio::task::spawn_blocking(move || {
            let Some(readers) = &store.readers else {
                return store.call_blocking(|conn| {
                    let now = (data_version(conn)?, conn.total_changes());
                    fill_keyed(&cache, key, || Ok((now, epoch)), || f(conn))
                });
            };
            let now = || Ok(((readers.version()?, 0), epoch));
            fill_keyed(&cache, key, now, || readers.with(f))
        })
        .await
        .map_err(|e| StoreError::Task(e.to_string()))?
    }
}

/// As [`fill`], per key: one lock for all keys, so 32 connections asking
/// for one client's page compute it once. A miss costs one query run, as
/// without the cache.
fn fill_keyed<K: Eq + Hash, V>(
    cache: &KeyedCache<K, V>,
    key: K,
    generation: impl FnOnce() -> Result<(Generation, i64), StoreError>,
    f: impl FnOnce() -> Result<V, StoreError>,
) -> Result<Arc<V>, StoreError> {
    let mut slot = cache.slot.lock().unwrap_or_else(|p| p.into_inner());
    let now = generation()?;
    if slot.0 != Some(now) {
        *slot = (Some(now), HashMap::new());
    } else if let Some(value) = slot.1.get(&key) {
        return Ok(value.clone());
    }
    let value = Arc::new(f()?);
    if slot.1.len() >= KEYED_MAX {
        slot.1.clear();
    }
    slot.1.insert(key, value.clone());
    Ok(value)
}

/// The slot stays locked while `f` runs: when a change invalidates a page
/// that 32 connections are loading, one computes it and the rest wait for
/// that answer instead of each running the same query. The generation is
/// read under the lock (so a waiter compares against the newest entry) and
/// before the snapshot `f` sees: a commit in between leaves the entry tagged
/// older than its contents, recomputed once more, never served stale.
fn fill<T>(
    cache: &ReadCache<T>,
    generation: impl FnOnce() -> Result<Generation, StoreError>,
    f: impl FnOnce() -> Result<T, StoreError>,
) -> Result<Arc<T>, StoreError> {
    let mut slot = cache.slot.lock().unwrap_or_else(|p| p.into_inner());
    let now = generation()?;
    if let Some((at, value)) = slot.as_ref() {
        if *at == now {
            return Ok(value.clone());
        }
    }
    let value = Arc::new(f()?);
    *slot = Some((now, value.clone()));
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_write_invalidates() {
        let store = Store::open_in_memory().unwrap();
        let cache: Arc<ReadCache<i64>> = Arc::default();
        let count = |s: &Store| {
            let (s, c) = (s.clone(), cache.clone());
            async move {
                *s.call_cached(&c, |conn| {
                    Ok(conn.query_row("SELECT COUNT(*) FROM plans", [], |r| r.get(0))?)
                })
                .await
                .unwrap()
            }
        };
        assert_eq!(count(&store).await, 0);
        store
            .call(|c| {
                c.execute(
                    "INSERT INTO plans (name, cpus, memory, created_at) VALUES ('p', 1, 1, 'now')",
                    [],
                )?;
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(count(&store).await, 1);
    }

    #[tokio::test]
    async fn a_keyed_entry_is_per_key_and_a_write_invalidates_all() {
        let store = Store::open_in_memory().unwrap();
        let cache: Arc<KeyedCache<&'static str, i64>> = Arc::default();
        let count = |s: &Store, key: &'static str| {
            let (s, c) = (s.clone(), cache.clone());
            async move {
                *s.call_keyed(&c, 0, key, move |conn| {
                    let n: i64 = conn.query_row("SELECT COUNT(*) FROM plans", [], |r| r.get(0))?;
                    // Tells the keys apart: a shared entry would answer 0 for both.
                    Ok(if key == "b" { n + 100 } else { n })
                })
                .await
                .unwrap()
            }
        };
        assert_eq!(count(&store, "a").await, 0);
        assert_eq!(count(&store, "b").await, 100);
        store
            .call(|c| {
                c.execute(
                    "INSERT INTO plans (name, cpus, memory, created_at) VALUES ('p', 1, 1, 'now')",
                    [],
                )?;
                Ok(())
            })
            .await
            .unwrap();
        assert_eq!(count(&store, "a").await, 1);
        assert_eq!(count(&store, "b").await, 101);
    }

    #[tokio::test]
    async fn a_new_epoch_computes_again_without_a_write() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let store = Store::open_in_memory().unwrap();
        let cache: Arc<KeyedCache<i64, usize>> = Arc::default();
        let runs = Arc::new(AtomicUsize::new(0));
        for (epoch, want) in [(1, 1), (1, 1), (2, 2), (2, 2)] {
            let r = runs.clone();
            let got = store
                .call_keyed(&cache, epoch, 7, move |_| {
                    Ok(r.fetch_add(1, Ordering::SeqCst) + 1)
                })
                .await
                .unwrap();
            assert_eq!(
                (*got, runs.load(Ordering::SeqCst)),
                (want, want),
                "epoch {epoch}"
            );
        }
    }
}
