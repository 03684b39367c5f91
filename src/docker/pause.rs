//! Freezing a container for a backup: pause/unpause (cgroup freezer), so
//! its data directory holds still while it is archived.

use super::client::classify;
use super::{Docker, DockerError};

impl Docker {
    pub async fn pause(&self, id: &str) -> Result<(), DockerError> {
        self.inner
            .pause_container(id)
            .await
            .map_err(|e| classify(e, || format!("container {id}")))
    }

    pub async fn unpause(&self, id: &str) -> Result<(), DockerError> {
        self.inner
            .unpause_container(id)
            .await
            .map_err(|e| classify(e, || format!("container {id}")))
    }
}
