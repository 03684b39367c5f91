//! The sampler's latest readings, shared with `/metrics` (Prometheus wants
//! current counters, not history) and the sampler's own health counters.

use std::sync::{Arc, Mutex};

use crate::docker::ContainerCounters;

#[derive(Debug, Clone, Default)]
pub struct LiveInstance {
    pub instance_id: i64,
    pub client: String,
    pub instance: String,
    /// `None` while the container is not running.
    pub counters: Option<ContainerCounters>,
    pub disk: u64,
    pub mem_limit: u64,
}

#[derive(Debug, Clone, Default)]
pub struct LiveSnapshot {
    pub instances: Vec<LiveInstance>,
    pub sweeps: u64,
    pub sweep_errors: u64,
    pub last_sweep_secs: f64,
    pub sweep_secs_total: f64,
    /// Readings that needed the Docker stats API.
    pub fallbacks: u64,
}

/// Cheap to clone; a std mutex because it is only held to copy values.
#[derive(Debug, Clone, Default)]
pub struct Live(Arc<Mutex<LiveSnapshot>>);

impl Live {
    pub fn publish(&self, instances: Vec<LiveInstance>, secs: f64, fallbacks: u64) {
        let mut g = self.0.lock().unwrap_or_else(|p| p.into_inner());
        g.instances = instances;
        g.sweeps += 1;
        g.last_sweep_secs = secs;
        g.sweep_secs_total += secs;
        g.fallbacks += fallbacks;
    }

    pub fn failed(&self) {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .sweep_errors += 1;
    }

    pub fn snapshot(&self) -> LiveSnapshot {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}
