//! What the sampler and its disk walk can fail with.

use crate::docker::DockerError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum SamplerError {
    #[error(transparent)]
    Docker(#[from] DockerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("sampler task failed: {0}")]
    Task(String),
}
