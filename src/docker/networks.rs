//! One bridge network per instance. Docker isolates user-defined bridges
//! from each other (DOCKER-ISOLATION chains), so instances cannot reach one
//! another; `internal` stays off because published ports need the bridge's
//! outside routing.

use std::collections::HashMap;

use bollard::models::{Ipam, IpamConfig, NetworkCreateRequest};
use bollard::query_parameters::{InspectNetworkOptions, ListNetworksOptionsBuilder};

use super::client::{classify, status_code};
use super::{labels, Docker, DockerError};

/// A managed network as the engine reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedNetwork {
    pub name: String,
    /// From the INSTANCE label; a renamed instance's old network still has it.
    pub instance_id: Option<i64>,
    /// Made for the warm pool ([`labels::POOL`]), for this host port; its
    /// instance, if any, is in the store.
    pub pool_port: Option<u16>,
}

impl Docker {
    /// Names of all networks labelled MANAGED=<owner>.
    pub async fn list_managed_networks(&self) -> Result<Vec<String>, DockerError> {
        Ok(self
            .list_managed_networks_labelled()
            .await?
            .into_iter()
            .map(|n| n.name)
            .collect())
    }

    /// All networks labelled MANAGED=<owner>, with the instance they were made for.
    pub async fn list_managed_networks_labelled(
        &self,
    ) -> Result<Vec<ObservedNetwork>, DockerError> {
        let filters = HashMap::from([("label", vec![labels::managed_filter(&self.owner)])]);
        let opts = ListNetworksOptionsBuilder::new().filters(&filters).build();
        let mut list: Vec<ObservedNetwork> = self
            .inner
            .list_networks(Some(opts))
            .await?
            .into_iter()
            .filter_map(|n| {
                let label = |key| n.labels.as_ref().and_then(|l| l.get(key));
                let instance_id = label(labels::INSTANCE).and_then(|v| v.parse().ok());
                // A pool label that is not a port is not one berth wrote:
                // port 0 keeps it a pool network that no instance adopts.
                let pool_port = label(labels::POOL).map(|v| v.parse().unwrap_or(0));
                Some(ObservedNetwork {
                    name: n.name?,
                    instance_id,
                    pool_port,
                })
            })
            .collect();
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(list)
    }

    /// Idempotent. `subnet` ("10.208.31.64/28") gives the network its own
    /// small range: the engine's default pools hold only ~30 networks.
    /// A same-named network that is not ours is a
    /// [`DockerError::Conflict`]: attaching a tenant to a foreign network
    /// could break its isolation.
    pub async fn ensure_network(
        &self,
        name: &str,
        instance_id: i64,
        subnet: Option<&str>,
    ) -> Result<(), DockerError> {
        match self
            .inner
            .inspect_network(name, None::<InspectNetworkOptions>)
            .await
        {
            Ok(existing) => {
                let label = |key| existing.labels.as_ref().and_then(|l| l.get(key));
                let instance = instance_id.to_string();
                return if label(labels::MANAGED).map(String::as_str) != Some(&*self.owner) {
                    Err(DockerError::Conflict(format!(
                        "network {name} (not managed by {})",
                        self.owner
                    )))
                } else if label(labels::INSTANCE).is_some_and(|i| *i != instance) {
                    // Another instance's old-style name; it goes once that
                    // instance is recreated under its new name.
                    Err(DockerError::Conflict(format!(
                        "network {name} (still used by instance {})",
                        label(labels::INSTANCE).map_or("?", |v| v)
                    )))
                } else {
                    Ok(())
                };
            }
            Err(e) if status_code(&e) == Some(404) => {}
            Err(e) => return Err(e.into()),
        }
        // API 1.41 does not reject duplicate network names by default; the
        // inspect above guards it, and only the single reconciler creates
        // networks, so there is no concurrent create to race with.
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".into()),
            labels: Some(HashMap::from([
                (labels::MANAGED.to_string(), self.owner.to_string()),
                (labels::INSTANCE.to_string(), instance_id.to_string()),
            ])),
            ipam: subnet.map(|subnet| Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(subnet.to_string()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        self.inner
            .create_network(request)
            .await
            .map_err(|e| classify(e, || format!("network {name}")))?;
        Ok(())
    }

    /// A network for the warm pool, made for the instance that will get
    /// `port`: owner and POOL labels, no instance. `Ok(false)` when `subnet`
    /// overlaps a network that exists already (made outside berth, say).
    pub async fn create_pool_network(
        &self,
        name: &str,
        port: u16,
        subnet: &str,
    ) -> Result<bool, DockerError> {
        let request = NetworkCreateRequest {
            name: name.to_string(),
            driver: Some("bridge".into()),
            labels: Some(HashMap::from([
                (labels::MANAGED.to_string(), self.owner.to_string()),
                (labels::POOL.to_string(), port.to_string()),
            ])),
            ipam: Some(Ipam {
                config: Some(vec![IpamConfig {
                    subnet: Some(subnet.to_string()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        };
        match self.inner.create_network(request).await {
            Ok(_) => Ok(true),
            Err(e) if status_code(&e) == Some(403) && e.to_string().contains("overlaps") => {
                Ok(false)
            }
            Err(e) => Err(classify(e, || format!("network {name}"))),
        }
    }

    /// Gone is fine. Fails while containers are still attached.
    pub async fn remove_network(&self, name: &str) -> Result<(), DockerError> {
        match self.inner.remove_network(name).await {
            Err(e) if status_code(&e) == Some(404) => Ok(()),
            r => r.map_err(DockerError::from),
        }
    }
}
