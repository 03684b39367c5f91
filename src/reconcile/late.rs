//! Instances created while a pass applies join that pass. A burst of
//! creates (20 clients at once) commits one by one over a few hundred ms;
//! the first commit starts a pass, and without this the rest would wait
//! for its whole apply (network, container, start, Caddy) before their own
//! pass began. Joined instances start their chains at once and get their
//! routes in the pass's one Caddy load, after their containers started.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use super::desired::desired;
use super::plan::{plan, Action, DesiredInstance};
use super::worker::Reconciler;
use crate::store::{instances, InstanceRow};

/// What one pass works on, grown by the instances that join it.
pub(super) struct PassWork {
    pub rows: Vec<InstanceRow>,
    pub instances: Vec<DesiredInstance>,
    pub invalid: Vec<(i64, String)>,
    pub waiting: Vec<(i64, String)>,
    /// Every instance id the pass has seen: only others can join.
    seen: HashSet<i64>,
    /// A wake was taken inside the pass: it may have been about something
    /// other than a new instance, so the worker runs another pass after it.
    pub woke: bool,
    pub joined_actions: usize,
}

/// An instance's actions in stage order, with the desired state they were
/// planned from.
pub(super) type Chain = (Vec<Action>, Arc<[DesiredInstance]>);

impl PassWork {
    pub fn new(
        rows: Vec<InstanceRow>,
        instances: Vec<DesiredInstance>,
        invalid: Vec<(i64, String)>,
        waiting: Vec<(i64, String)>,
    ) -> Self {
        let seen = rows.iter().map(|r| r.id).collect();
        Self {
            rows,
            instances,
            invalid,
            waiting,
            seen,
            woke: false,
            joined_actions: 0,
        }
    }
}

impl Reconciler {
    /// Called when the reconciler is woken during a pass's apply: the chains
    /// of instances that appeared in the store since the pass read it.
    /// Errors leave them to the next pass.
    pub(super) async fn join_late(&self, work: &mut PassWork) -> Vec<Chain> {
        work.woke = true;
        let started = Instant::now();
        let Ok(mut rows) = self.store.call(|conn| instances::list_all(conn)).await else {
            return Vec::new();
        };
        let fresh: HashSet<i64> = rows
            .iter()
            .map(|r| r.id)
            .filter(|id| !work.seen.contains(id))
            .collect();
        if fresh.is_empty() {
            return Vec::new();
        }
        let (containers, networks) = tokio::join!(
            self.docker.list_managed(),
            self.docker.list_managed_networks_labelled()
        );
        let (Ok(containers), Ok(networks)) = (containers, networks) else {
            return Vec::new();
        };
        // Only the fresh ones: the pass's own are mid-chain on the network
        // they were planned with.
        let (mut fresh_rows, mut rows): (Vec<_>, Vec<_>) =
            rows.drain(..).partition(|r| fresh.contains(&r.id));
        self.pool
            .adopt(&mut fresh_rows, &containers, &networks)
            .await;
        rows.append(&mut fresh_rows);
        rows.sort_by_key(|r| r.id);
        let Ok(inject) = self.injections().await else {
            return Vec::new();
        };
        let want = desired(&rows, &self.blueprints, &self.config, &inject);
        let mut chains: BTreeMap<i64, Vec<Action>> = BTreeMap::new();
        for action in plan(&want.instances, &want.known, &containers, &networks) {
            if let Some(id) = action.instance_id().filter(|id| fresh.contains(id)) {
                chains.entry(id).or_default().push(action);
            }
        }
        work.seen.extend(&fresh);
        work.rows
            .extend(rows.into_iter().filter(|r| fresh.contains(&r.id)));
        let joined: Vec<DesiredInstance> = want
            .instances
            .into_iter()
            .filter(|d| fresh.contains(&d.id))
            .collect();
        work.instances.extend(joined.iter().cloned());
        work.invalid.extend(
            want.invalid
                .into_iter()
                .filter(|(id, _)| fresh.contains(id)),
        );
        work.waiting.extend(
            want.waiting
                .into_iter()
                .filter(|(id, _)| fresh.contains(id)),
        );
        work.joined_actions += chains.values().map(Vec::len).sum::<usize>();
        tracing::debug!(
            instances = fresh.len(),
            ms = started.elapsed().as_millis() as u64,
            "timing join"
        );
        let joined: Arc<[DesiredInstance]> = joined.into();
        chains
            .into_values()
            .map(|chain| (chain, joined.clone()))
            .collect()
    }
}
