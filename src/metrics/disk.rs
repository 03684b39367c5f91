//! Data-directory sizes: a walk reads every inode, so it runs on its own
//! slower loop (`metrics.disk_interval`), off the async runtime, and the
//! sampler copies the latest sizes into each sample.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::error::SamplerError;
use crate::config::Config;
use crate::store::{instances, metrics, usage, Store};

/// Walks every instance's data directory each `metrics.disk_interval`, off
/// the runtime, and records the sizes for samples, quotas and `/metrics`.
pub async fn walk_loop(store: Store, config: Arc<Config>, disk: Arc<Mutex<HashMap<i64, u64>>>) {
    if let Ok(known) = store.call(|c| usage::disk_usage(c)).await {
        *disk.lock().unwrap_or_else(|p| p.into_inner()) = known;
    }
    loop {
        if let Err(e) = walk_once(&store, &config, &disk).await {
            tracing::warn!(error = %e, "data directory walk failed");
        }
        tokio::time::sleep(config.metrics.disk_interval).await;
    }
}

pub async fn walk_once(
    store: &Store,
    config: &Config,
    disk: &Mutex<HashMap<i64, u64>>,
) -> Result<(), SamplerError> {
    let rows = store.call(|c| instances::list_all(c)).await?;
    let dirs: Vec<(i64, std::path::PathBuf)> = rows
        .iter()
        .filter(|r| r.desired.is_live())
        .map(|r| (r.id, config.instance_data_dir(&r.client_slug, &r.name)))
        .collect();
    let sizes = tokio::task::spawn_blocking(move || {
        dirs.into_iter()
            .map(|(id, dir)| {
                let (bytes, files) = crate::fsutil::dir_usage(&dir);
                (id, bytes, files)
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(|e| SamplerError::Task(e.to_string()))?;
    {
        let mut map = disk.lock().unwrap_or_else(|p| p.into_inner());
        map.clear();
        map.extend(sizes.iter().map(|(id, b, _)| (*id, *b)));
    }
    let at = super::unix_now();
    store
        .write(move |tx| {
            for (id, bytes, files) in &sizes {
                metrics::set_disk(tx, *id, *bytes, *files, at)?;
            }
            Ok(())
        })
        .await
}
