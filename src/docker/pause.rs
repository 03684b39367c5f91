//! Freezing a container for a backup: pause/unpause (cgroup freezer), so
//! its data directory holds still while it is archived.

use std::time::Duration;

use super::client::classify;
use super::{Docker, DockerError};

/// Tries per pause. On cgroup v1 the freezer cannot always catch a tenant
/// whose processes keep forking (a shell loop running `sqlite3`): runc gives
/// up with "unable to freeze" and thaws it again. Measured here with such a
/// tenant on a loaded 2-core host: ~5% of pauses fail once, a few need up
/// to 5 tries, none more. A later try succeeds, so one refusal must not
/// fail a backup.
const FREEZE_TRIES: u32 = 8;

impl Docker {
    pub async fn pause(&self, id: &str) -> Result<(), DockerError> {
        let mut delay = Duration::from_millis(50);
        let mut tries = 1;
        loop {
            match self.inner.pause_container(id).await {
                Ok(()) => return Ok(()),
                Err(e) if tries < FREEZE_TRIES && e.to_string().contains("unable to freeze") => {
                    tracing::debug!(
                        container = id,
                        tries,
                        "the freezer missed a process; pausing again"
                    );
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_secs(1));
                    tries += 1;
                }
                Err(e) => return Err(classify(e, || format!("container {id}"))),
            }
        }
    }

    pub async fn unpause(&self, id: &str) -> Result<(), DockerError> {
        self.inner
            .unpause_container(id)
            .await
            .map_err(|e| classify(e, || format!("container {id}")))
    }
}
