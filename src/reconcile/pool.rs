//! The warm network pool. The engine makes networks one at a time (~0.1–0.2 s
//! each), so 20 creates at once waited up to ~3.7 s for theirs. Between
//! passes the pool makes the networks of the next few creates ahead of
//! need, and a create adopts its own instead of waiting.
//!
//! "Its own": a pool network is made for one host port, the port a coming
//! create will be given (the lowest free ones), with that port's subnet, so
//! every instance network keeps the /28 of its instance's unique port. The
//! engine cannot rename or relabel a network, so it keeps its pool name
//! (`<prefix>-pool-<port>`) and label and carries no instance; the store
//! records which instance adopted it (`instances.network`). Adoption writes
//! that record before anything uses the network: a crash before the write
//! leaves it free (the next start finds it again), a crash after finds it
//! taken, and the UNIQUE column keeps two instances from sharing one. From
//! then on it is the instance's network, removed with it. Free pool
//! networks are removed when berth stops, so an idle engine holds only what
//! tenants use.
//!
//! Off the create's path: the refill makes its networks only while no pass
//! runs, and an adoption waits for the one network being made only when it
//! is for a port a create needs now (with a full pool it never is: the
//! pool makes the ports after the ready ones).

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;

use crate::config::Config;
use crate::docker::{Docker, ObservedContainer, ObservedNetwork};
use crate::domain::{ClientStatus, DesiredState};
use crate::store::{networks, InstanceRow, Store};

/// How long a failed refill (engine down) waits before trying again.
const RETRY: Duration = Duration::from_secs(5);
/// The refill starts only once no pass has run for this long. The engine
/// makes a network and starts a container under the same locks (and the
/// same iptables lock), so a network made while a create's pass runs
/// delays that create; the Docker events of a create wake a few short
/// passes after it, and a burst of creates comes as a few passes in a row.
const QUIET: Duration = Duration::from_millis(750);

pub struct NetworkPool {
    docker: Docker,
    store: Store,
    config: Arc<Config>,
    /// The networks made and not adopted, and the one being made. A std
    /// mutex: never held across an await.
    ready: Mutex<Ready>,
    /// Set while the reconciler applies a pass: the refill waits, so its
    /// creates never queue in the engine ahead of a tenant's.
    pass_running: AtomicBool,
    refill: Notify,
    /// Held while a pool network is being made: an adoption that needs
    /// that very port waits for it (one create, ~0.1 s) rather than miss it
    /// and ask for a network whose subnet it then overlaps.
    making: tokio::sync::Mutex<()>,
    /// The leftovers of the last run were looked for.
    scanned: AtomicBool,
}

#[derive(Default)]
struct Ready {
    /// By the port they were made for.
    networks: BTreeMap<u16, String>,
    /// The port whose network the refill is making now.
    making: Option<u16>,
    /// Ports an adoption found no network for since the refill chose its
    /// ports: their creates make their own, so the refill must not.
    passed_over: HashSet<u16>,
}

impl Ready {
    /// The ready networks of `wanted` (instance, port) pairs, taken out;
    /// `None` while the one being made is for one of their ports (wait for
    /// it and ask again). Any other one being made is for a later create and
    /// must not delay these.
    fn hand_out(&mut self, wanted: &[(i64, u16)]) -> Option<Vec<(i64, u16, String)>> {
        if wanted.iter().any(|(_, port)| self.making == Some(*port)) {
            return None;
        }
        let mut pairs = Vec::new();
        for &(id, port) in wanted {
            match self.networks.remove(&port) {
                Some(name) => pairs.push((id, port, name)),
                // Its create makes its own network: the refill must not.
                None => {
                    self.passed_over.insert(port);
                }
            }
        }
        Some(pairs)
    }

    /// Marks `port` as being made, unless it is ready already or a create
    /// makes its own: then `false`.
    fn start_making(&mut self, port: u16) -> bool {
        if self.networks.contains_key(&port) || self.passed_over.contains(&port) {
            return false;
        }
        self.making = Some(port);
        true
    }
}

impl NetworkPool {
    pub fn new(docker: Docker, store: Store, config: Arc<Config>) -> Self {
        Self {
            docker,
            store,
            config,
            ready: Mutex::default(),
            pass_running: AtomicBool::new(false),
            refill: Notify::new(),
            making: tokio::sync::Mutex::new(()),
            scanned: AtomicBool::new(false),
        }
    }

    fn ready(&self) -> MutexGuard<'_, Ready> {
        self.ready.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The reconciler brackets each pass with these.
    pub(super) fn pass_started(&self) {
        self.pass_running.store(true, Ordering::Relaxed);
    }

    pub(super) fn pass_ended(&self) {
        self.pass_running.store(false, Ordering::Relaxed);
        self.refill.notify_one();
    }

    /// Gives each of `rows` that is about to get its first container the
    /// ready pool network made for its port, recorded in the store before
    /// it is used; `rows` then carry it. Rows with a container, or with a
    /// network of their own already (named like the container: made before
    /// the pool, or while it was empty), keep what they have; with no ready
    /// network the plan makes one, as without a pool.
    pub(super) async fn adopt(
        &self,
        rows: &mut [InstanceRow],
        containers: &[ObservedContainer],
        observed: &[ObservedNetwork],
    ) {
        let with_container: HashSet<i64> =
            containers.iter().filter_map(|c| c.instance_id).collect();
        let named: HashSet<&str> = observed.iter().map(|n| n.name.as_str()).collect();
        let needy = |r: &InstanceRow| {
            r.network.is_none()
                && r.desired == DesiredState::Running
                && r.client_status == ClientStatus::Active
                && !with_container.contains(&r.id)
                && !named.contains(self.config.container_name(&r.client_slug, &r.name).as_str())
        };
        let wanted: Vec<(i64, u16)> = rows
            .iter()
            .filter(|r| needy(r))
            .map(|r| (r.id, r.host_port))
            .collect();
        if wanted.is_empty() {
            return;
        }
        let pairs = loop {
            if let Some(pairs) = self.ready().hand_out(&wanted) {
                break pairs;
            }
            drop(self.making.lock().await);
        };
        if pairs.is_empty() {
            return;
        }
        crate::testhook::pause_at("pool-taken").await;
        let record: Vec<(i64, String)> = pairs.iter().map(|(id, _, n)| (*id, n.clone())).collect();
        let recorded = match self
            .store
            .write(move |conn| networks::adopt(conn, &record))
            .await
        {
            Ok(recorded) => recorded,
            Err(e) => {
                tracing::warn!(error = %e, "could not record adopted pool networks");
                Vec::new()
            }
        };
        if !recorded.is_empty() {
            crate::testhook::pause_at("pool-adopted").await;
        }
        let mut ready = self.ready();
        for (id, port, name) in pairs {
            if recorded.iter().any(|(r, _)| *r == id) {
                tracing::debug!(instance = id, network = %name, "adopted pool network");
                if let Some(row) = rows.iter_mut().find(|r| r.id == id) {
                    row.network = Some(name);
                }
            } else {
                ready.networks.insert(port, name);
            }
        }
    }

    /// Finds the free pool networks a previous run left (a crash, a kill),
    /// keeps the pool full between passes, and removes the free ones at
    /// shutdown.
    pub async fn run(self: Arc<Self>, shutdown: impl std::future::Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            self.scan().await;
            if self.scanned.load(Ordering::Relaxed) {
                break;
            }
            tokio::select! {
                _ = tokio::time::sleep(RETRY) => {}
                _ = &mut shutdown => return,
            }
        }
        loop {
            let retry = match self.fill().await {
                Ok(()) => false,
                Err(e) => {
                    tracing::warn!(error = %e, "network pool: refill failed");
                    true
                }
            };
            tokio::select! {
                _ = self.refill.notified() => {}
                _ = tokio::time::sleep(RETRY), if retry => {}
                _ = &mut shutdown => break,
            }
            // Each pass's end notifies again: fill once they stop coming.
            loop {
                tokio::select! {
                    _ = self.refill.notified() => {}
                    _ = tokio::time::sleep(QUIET) => break,
                    _ = &mut shutdown => {
                        self.drain().await;
                        return;
                    }
                }
            }
        }
        self.drain().await;
    }

    /// Free pool networks left from the last run become ready; those beyond
    /// the pool's size (it was made smaller, or 0) go. The reconciler runs
    /// this before its first pass: a create must not ask for a network
    /// whose subnet a leftover for its port already holds.
    pub(super) async fn scan(&self) {
        if self.scanned.load(Ordering::Relaxed) {
            return;
        }
        match self.find_leftovers().await {
            Ok(()) => self.scanned.store(true, Ordering::Relaxed),
            Err(e) => tracing::warn!(error = %e, "network pool: looking for leftovers failed"),
        }
    }

    async fn find_leftovers(&self) -> anyhow::Result<()> {
        let adopted = self.store.call(|conn| networks::adopted(conn)).await?;
        let mut free: BTreeMap<u16, String> = BTreeMap::new();
        for n in self.docker.list_managed_networks_labelled().await? {
            match n.pool_port {
                Some(port) if !adopted.contains(&n.name) && port != 0 => {
                    if let Some(twin) = free.insert(port, n.name) {
                        self.docker.remove_network(&twin).await?;
                    }
                }
                Some(0) => self.docker.remove_network(&n.name).await?,
                _ => {}
            }
        }
        while free.len() > self.config.docker.network_pool {
            let (_, name) = free.pop_last().expect("longer than the pool");
            self.docker.remove_network(&name).await?;
        }
        if !free.is_empty() {
            tracing::info!(
                networks = free.len(),
                "network pool: kept from the last run"
            );
        }
        self.ready().networks.extend(free);
        Ok(())
    }

    /// Makes the networks of the next free ports until the pool is full,
    /// one at a time, stopping when a pass starts (its end wakes us again).
    async fn fill(&self) -> anyhow::Result<()> {
        let size = self.config.docker.network_pool;
        if self.ready().networks.len() >= size {
            return Ok(());
        }
        // The ports chosen below hold no instance yet: only what an adoption
        // passes over from here on is news.
        self.ready().passed_over.clear();
        let (range, bind) = (self.config.port_range, self.config.bind_address);
        // A few more than needed: ports that have one already are skipped.
        let want = size * 2;
        let ports = self
            .store
            .call(move |conn| {
                networks::next_free_ports(conn, range, want, |p| {
                    std::net::TcpListener::bind((bind, p)).is_ok()
                })
            })
            .await?;
        for port in ports {
            if self.ready().networks.len() >= size || self.pass_running.load(Ordering::Relaxed) {
                break;
            }
            let _making = self.making.lock().await;
            // Under the lock an adoption hands out with: from here on, a
            // create for this port waits for this network.
            if !self.ready().start_making(port) {
                continue;
            }
            let name = format!("{}-pool-{port}", self.config.docker.name_prefix);
            let subnet = self.config.instance_subnet(port);
            let made = self.docker.create_pool_network(&name, port, &subnet).await;
            let mut ready = self.ready();
            ready.making = None;
            if made? {
                ready.networks.insert(port, name);
            } else {
                tracing::debug!(port, %subnet, "network pool: subnet taken, port skipped");
            }
        }
        Ok(())
    }

    /// At shutdown: the free networks go; adopted ones stay with their instances.
    async fn drain(&self) {
        let free = std::mem::take(&mut self.ready().networks);
        for name in free.into_values() {
            if let Err(e) = self.docker.remove_network(&name).await {
                tracing::warn!(network = %name, error = %e, "network pool: not removed");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Ready;

    fn ready(ports: &[u16]) -> Ready {
        let mut r = Ready::default();
        for p in ports {
            r.networks.insert(*p, format!("pool-{p}"));
        }
        r
    }

    #[test]
    fn a_network_made_for_a_later_port_does_not_hold_a_create() {
        let mut r = ready(&[8001, 8002]);
        assert!(r.start_making(8003));
        let pairs = r.hand_out(&[(1, 8001)]).expect("not waiting");
        assert_eq!(pairs, vec![(1, 8001, "pool-8001".to_string())]);
        assert_eq!(r.networks.keys().copied().collect::<Vec<_>>(), [8002]);
    }

    #[test]
    fn a_create_waits_for_the_network_of_its_own_port() {
        let mut r = ready(&[8001]);
        assert!(r.start_making(8002));
        assert_eq!(r.hand_out(&[(1, 8001), (2, 8002)]), None);
        // Nothing was taken while waiting.
        assert!(r.networks.contains_key(&8001));
        r.making = None;
        r.networks.insert(8002, "pool-8002".into());
        assert_eq!(r.hand_out(&[(1, 8001), (2, 8002)]).unwrap().len(), 2);
    }

    #[test]
    fn the_refill_never_makes_a_port_whose_create_makes_its_own() {
        let mut r = ready(&[8001]);
        let pairs = r.hand_out(&[(1, 8001), (2, 8005)]).unwrap();
        assert_eq!(pairs.len(), 1);
        assert!(!r.start_making(8005), "instance 2 makes its own network");
        assert!(r.start_making(8006));
    }
}
