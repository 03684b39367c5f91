//! The only code in berth that talks to Docker: a thin adapter over bollard
//! that speaks berth's types. Everything it creates carries the labels in
//! [`labels`], and it only ever lists or touches objects labelled with its
//! owner.

mod client;
mod containers;
mod create;
mod events;
mod images;
pub mod labels;
mod logs;
mod networks;
mod pause;
pub mod rootfs;
mod spec;
mod stats;

pub use client::{Docker, RegistryLogin};
pub use containers::{ContainerState, Health, InspectedLimits, ObservedContainer, PublishedPort};
pub use images::ImageIdentity;
pub use networks::ObservedNetwork;
pub use rootfs::busybox_rootfs;
pub use spec::{ContainerSpec, HealthSpec};
pub use stats::ContainerCounters;

/// Errors at the Docker boundary. Messages are one line, meant for logs and
/// for `berth doctor`.
#[derive(Debug, thiserror::Error)]
pub enum DockerError {
    #[error("docker engine unreachable at {socket}: {source}")]
    Unreachable {
        socket: String,
        #[source]
        source: bollard::errors::Error,
    },
    #[error("image {image} could not be pulled: {message}")]
    Pull { image: String, message: String },
    #[error("image {image} could not be imported: {message}")]
    Import { image: String, message: String },
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    Conflict(String),
    #[error("data directory {} does not exist", .0.display())]
    MissingDataDir(std::path::PathBuf),
    #[error("docker: {0}")]
    Api(#[from] bollard::errors::Error),
}
