//! The warm network pool as the engine shows it: a test's pool networks
//! (label `berth.pool=<port>`), which of them carry a container, and a wait
//! for the pool to be full before a test relies on adoption.

use std::time::Duration;

use super::{docker, eventually, DockerGuard};

/// One pool network of the guard's owner.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PoolNetwork {
    pub name: String,
    /// The host port it was made for (its label).
    pub port: u16,
    /// Containers attached to it.
    pub containers: usize,
}

/// Every pool network of `guard`'s owner, by name.
pub fn pool_networks(guard: &DockerGuard) -> Vec<PoolNetwork> {
    let names = docker(&[
        "network",
        "ls",
        "--filter",
        &guard.label_filter(),
        "--filter",
        "label=berth.pool",
        "--format",
        "{{.Name}}",
    ]);
    let mut out: Vec<PoolNetwork> = names
        .lines()
        .filter_map(|name| {
            // A network removed between the list and the inspect is gone, not an error.
            let out = std::process::Command::new("docker")
                .args([
                    "network",
                    "inspect",
                    "-f",
                    "{{index .Labels \"berth.pool\"}} {{len .Containers}}",
                    name,
                ])
                .output()
                .ok()
                .filter(|o| o.status.success())?;
            let text = String::from_utf8_lossy(&out.stdout);
            let (port, containers) = text.trim().split_once(' ')?;
            Some(PoolNetwork {
                name: name.to_owned(),
                port: port.parse().ok()?,
                containers: containers.parse().ok()?,
            })
        })
        .collect();
    out.sort();
    out
}

/// The pool networks no container uses.
pub fn free_pool_networks(guard: &DockerGuard) -> Vec<PoolNetwork> {
    pool_networks(guard)
        .into_iter()
        .filter(|n| n.containers == 0)
        .collect()
}

/// Waits until `size` free pool networks exist; returns them.
pub async fn wait_pool_full(
    guard: &DockerGuard,
    size: usize,
    deadline: Duration,
) -> Vec<PoolNetwork> {
    eventually(&format!("{size} free pool networks"), deadline, || async {
        let free = free_pool_networks(guard);
        (free.len() == size).then_some(free)
    })
    .await
}
