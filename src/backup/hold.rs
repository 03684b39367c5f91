//! Backup's hold on a tenant: the one named exception to "only the
//! reconciler changes containers".
//!
//! A consistent archive needs the tenant still (paused, stopped, or quiesced
//! by its own hook) at a moment the runner chooses and for exactly as long
//! as the archive takes; routing that through desired state would add a
//! reconciler pass to every freeze and make the freeze window as long as
//! the pass. So backup reaches Docker itself, but only through this handle:
//! find one instance's container, pause/unpause, stop/start, exec its hook.
//! While it stops a container or swaps its data it also takes the hold row
//! in the store (`instance_holds`), which the reconciler honours
//! (`store::backup_jobs::held`): it leaves a held instance's container and
//! data alone until the hold is given back or its process is gone.

use crate::docker::{Docker, DockerError, ObservedContainer};
use crate::store::{backup_jobs, Store, StoreError};

/// Cheap to clone.
#[derive(Clone)]
pub struct Hold {
    docker: Docker,
    store: Store,
    pid: u32,
}

impl Hold {
    pub fn new(docker: Docker, store: Store) -> Self {
        Self {
            docker,
            store,
            pid: std::process::id(),
        }
    }

    /// This process, as it is named in the rows it claims and holds.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// Takes this process's hold on the instance, so the reconciler leaves
    /// its container and data alone while `reason` works on them.
    pub async fn take(&self, instance_id: i64, reason: &'static str) -> Result<(), StoreError> {
        let pid = self.pid;
        self.store
            .call(move |c| backup_jobs::hold(c, instance_id, reason, pid))
            .await
    }

    /// Gives the hold back. A failure is ignored: the hold names this
    /// process, and the recovery sweep drops holds of a process that is gone.
    pub async fn give_back(&self, instance_id: i64) {
        let pid = self.pid;
        let _ = self
            .store
            .call(move |c| backup_jobs::release(c, instance_id, pid))
            .await;
    }

    /// The instance's containers as the engine sees them now (normally one).
    pub async fn containers(
        &self,
        instance_id: i64,
    ) -> Result<Vec<ObservedContainer>, DockerError> {
        let list = self.docker.list_managed().await?;
        Ok(list
            .into_iter()
            .filter(|c| c.instance_id == Some(instance_id))
            .collect())
    }

    /// The instance's container, if it has one.
    pub async fn container(
        &self,
        instance_id: i64,
    ) -> Result<Option<ObservedContainer>, DockerError> {
        Ok(self.containers(instance_id).await?.into_iter().next())
    }

    pub async fn pause(&self, container: &str) -> Result<(), DockerError> {
        self.docker.pause(container).await
    }

    pub async fn unpause(&self, container: &str) -> Result<(), DockerError> {
        self.docker.unpause(container).await
    }

    pub async fn stop(&self, container: &str, timeout_s: i64) -> Result<(), DockerError> {
        self.docker.stop(container, timeout_s).await
    }

    pub async fn start(&self, container: &str) -> Result<(), DockerError> {
        self.docker.start(container).await
    }

    /// Runs the blueprint's backup hook; returns its exit code and output.
    pub async fn exec(&self, container: &str, cmd: &[&str]) -> Result<(i64, String), DockerError> {
        self.docker.exec(container, cmd).await
    }
}
