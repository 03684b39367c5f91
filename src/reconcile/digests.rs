//! The registry digest of each image ID the reconciler sees a container
//! run, recorded once so pages and the API show it beside the ID. An image
//! berth built or imported has none; it is asked about once per process.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use super::Reconciler;
use crate::store::updates;
use crate::store::Observation;

/// Image IDs already looked up by this process.
pub(super) type Seen = Arc<Mutex<HashSet<String>>>;

impl Reconciler {
    /// Looks up the digests of image IDs seen for the first time. Failures
    /// are logged: the digest is shown when known, never needed.
    pub(super) async fn learn_digests(&self, observations: &[Observation]) {
        let new: Vec<String> = {
            let seen = self.digests_seen.lock().unwrap_or_else(|p| p.into_inner());
            let ids: HashSet<&String> = observations
                .iter()
                .filter_map(|o| o.image_id.as_ref())
                .filter(|id| !seen.contains(*id))
                .collect();
            ids.into_iter().cloned().collect()
        };
        if new.is_empty() {
            return;
        }
        let unknown = match self
            .store
            .read(move |c| updates::without_digest(c, &new).map(|u| (new, u)))
            .await
        {
            Ok(v) => v,
            Err(e) => {
                tracing::debug!(error = %e, "image digests not read");
                return;
            }
        };
        let (new, unknown) = unknown;
        for id in &unknown {
            match self.docker.image_identity(id).await {
                Ok(Some(found)) => {
                    if let Some(digest) = found.digest {
                        let id = id.clone();
                        let stored = self
                            .store
                            .call(move |c| updates::record_digest(c, &id, &digest))
                            .await;
                        if let Err(e) = stored {
                            tracing::debug!(error = %e, "image digest not recorded");
                        }
                    }
                }
                Ok(None) => {}
                Err(e) => tracing::debug!(error = %e, image = %id, "image not inspected"),
            }
        }
        let mut seen = self.digests_seen.lock().unwrap_or_else(|p| p.into_inner());
        seen.extend(new);
    }
}
