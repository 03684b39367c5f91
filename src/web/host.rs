//! Host capacity and load for the dashboard, via sysinfo. A snapshot is
//! reused for a few seconds: reading /proc per page view would make the
//! dashboard's cost grow with its audience, and CPU usage needs two
//! readings some time apart anyway.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use sysinfo::{Disks, System};

const MAX_AGE: Duration = Duration::from_secs(3);

#[derive(Debug, Clone, Default)]
pub struct HostSnapshot {
    pub cpus: usize,
    pub cpu_percent: f32,
    pub memory_total: u64,
    pub memory_used: u64,
    /// The disk holding the data directory (longest matching mount point).
    pub disk_total: u64,
    pub disk_available: u64,
}

pub struct Host {
    data_dir: std::path::PathBuf,
    inner: Mutex<Option<(Instant, System, HostSnapshot)>>,
}

impl Host {
    pub fn new(data_dir: std::path::PathBuf) -> Self {
        Self {
            data_dir,
            inner: Mutex::new(None),
        }
    }

    /// A recent snapshot; blocking (reads /proc), so call it from spawn_blocking.
    pub fn snapshot(&self) -> HostSnapshot {
        let mut guard = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, _, snap)) = guard.as_ref() {
            if at.elapsed() < MAX_AGE {
                return snap.clone();
            }
        }
        let mut sys = match guard.take() {
            Some((_, sys, _)) => sys,
            None => match System::new() {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!(error = %e, "reading host information");
                    return HostSnapshot::default();
                }
            },
        };
        sys.refresh_cpu_usage();
        sys.refresh_memory();
        let (disk_total, disk_available) = self.disk();
        let snap = HostSnapshot {
            cpus: sys.cpus().len().max(1),
            cpu_percent: sys.global_cpu_usage(),
            memory_total: sys.total_memory(),
            memory_used: sys.used_memory(),
            disk_total,
            disk_available,
        };
        *guard = Some((Instant::now(), sys, snap.clone()));
        snap
    }

    fn disk(&self) -> (u64, u64) {
        let Ok(disks) = Disks::new_with_refreshed_list() else {
            return (0, 0);
        };
        let dir = std::fs::canonicalize(&self.data_dir).unwrap_or_else(|_| self.data_dir.clone());
        disks
            .iter()
            .filter(|d| dir.starts_with(d.mount_point()))
            .max_by_key(|d| d.mount_point().as_os_str().len())
            .map(|d| (d.total_space(), d.available_space()))
            .unwrap_or((0, 0))
    }
}
