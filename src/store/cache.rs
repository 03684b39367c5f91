//! Results of read queries kept until the database changes. The key is
//! SQLite's own change counters: `data_version` moves when another
//! connection (the CLI) commits, `total_changes` when this one writes. So a
//! cached answer is never stale, and the pages that every admin keeps open
//! (dashboard, clients list) cost one counter read while nothing changes.

use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use super::{data_version, Store, StoreError};

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

fn generation(conn: &Connection) -> Result<Generation, StoreError> {
    Ok((data_version(conn)?, conn.total_changes()))
}

impl Store {
    /// `f`'s result, computed again only when the database changed since
    /// it was cached. Runs under the store lock, like [`Store::call`].
    pub async fn call_cached<T, F>(
        &self,
        cache: &Arc<ReadCache<T>>,
        f: F,
    ) -> Result<Arc<T>, StoreError>
    where
        T: Send + Sync + 'static,
        F: FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let cache = cache.clone();
        self.call(move |conn| {
            let now = generation(conn)?;
            let mut slot = cache.slot.lock().unwrap_or_else(|p| p.into_inner());
            if let Some((at, value)) = slot.as_ref() {
                if *at == now {
                    return Ok(value.clone());
                }
            }
            let value = Arc::new(f(conn)?);
            *slot = Some((now, value.clone()));
            Ok(value)
        })
        .await
    }
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
}
