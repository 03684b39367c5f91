//! Host CPU, memory, disk (the filesystem holding berth's data) and load.

use std::path::PathBuf;

use sysinfo::{Disks, System};

use crate::store::metrics::HostSample;

pub struct HostProbe {
    sys: Option<System>,
    data_dir: PathBuf,
}

impl HostProbe {
    pub fn new(data_dir: PathBuf) -> Self {
        let mut sys = System::new().ok();
        if let Some(s) = sys.as_mut() {
            // CPU usage is a difference: prime it so the first sample means something.
            s.refresh_cpu_usage();
        }
        Self { sys, data_dir }
    }

    /// Blocking (reads /proc and statfs): call from `spawn_blocking`.
    pub fn sample(&mut self, ts: i64) -> HostSample {
        let mut h = HostSample {
            ts,
            ..HostSample::default()
        };
        if let Some(sys) = self.sys.as_mut() {
            sys.refresh_cpu_usage();
            sys.refresh_memory();
            h.cpus = sys.cpus().len() as u32;
            h.cpu_used = f64::from(sys.global_cpu_usage()) / 100.0 * f64::from(h.cpus);
            h.mem_total = sys.total_memory();
            h.mem_used = sys.used_memory();
        }
        h.load1 = System::load_average().map(|l| l.one).unwrap_or(0.0);
        let dir = std::fs::canonicalize(&self.data_dir).unwrap_or_else(|_| self.data_dir.clone());
        if let Ok(disks) = Disks::new_with_refreshed_list() {
            // The disk whose mount point is the longest prefix of the data dir.
            if let Some(d) = disks
                .iter()
                .filter(|d| dir.starts_with(d.mount_point()))
                .max_by_key(|d| d.mount_point().as_os_str().len())
            {
                h.disk_total = d.total_space();
                h.disk_used = d.total_space().saturating_sub(d.available_space());
            }
        }
        h
    }
}
