//! Old images: once a rollout has finished, the images rollouts moved
//! instances between that nothing needs any more are removed. Needed are
//! the images instances run or are pinned to, each instance's rollback
//! point and the images of rollouts still under way; the engine itself
//! refuses to remove an image any container (even a stopped one) uses.

use std::collections::HashSet;

use super::worker::RolloutWorker;
use crate::store::{instances, rollouts};

impl RolloutWorker {
    pub(super) async fn remove_old_images(&self) {
        let found = self
            .store
            .read(|c| Ok((rollouts::images_seen(c)?, instances::list_all(c)?)))
            .await;
        let ((seen, keep), rows) = match found {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(error = %e, "old images not looked at");
                return;
            }
        };
        let mut needed: HashSet<String> = keep.into_iter().collect();
        for r in rows {
            needed.extend(r.image_id);
            needed.extend(r.desired_image_id);
        }
        for image in seen.into_iter().filter(|i| !needed.contains(i)) {
            match self.docker.remove_image(&image).await {
                Ok(true) => tracing::info!(%image, "old image removed"),
                Ok(false) => tracing::debug!(%image, "old image kept: gone already or in use"),
                Err(e) => tracing::warn!(%image, error = %e, "old image not removed"),
            }
        }
    }
}
