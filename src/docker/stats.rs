//! Read-only numbers for the usage sampler: a container's init pid and a
//! one-shot stats call (the fallback when cgroup files cannot be read; the
//! engine waits for its 1 s sampling tick, so callers run these concurrently).

use bollard::query_parameters::{InspectContainerOptions, StatsOptionsBuilder};
use futures_util::StreamExt;

use super::client::classify;
use super::{Docker, DockerError};

/// Cumulative counters of one container at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ContainerCounters {
    pub cpu_ns: u64,
    /// Working set: usage less inactive file cache, as `docker stats` shows.
    pub mem: u64,
    pub oom_kills: u64,
    pub mem_hits: u64,
    pub pids: u64,
    pub blk_read: u64,
    pub blk_write: u64,
    pub rx: u64,
    pub tx: u64,
}

impl Docker {
    /// The container's init process id while it runs.
    pub async fn init_pid(&self, id: &str) -> Result<Option<u32>, DockerError> {
        let info = self
            .inner
            .inspect_container(id, None::<InspectContainerOptions>)
            .await
            .map_err(|e| classify(e, || format!("container {id}")))?;
        Ok(info
            .state
            .and_then(|s| s.pid)
            .filter(|p| *p > 0)
            .and_then(|p| u32::try_from(p).ok()))
    }

    /// One stats reading through the engine (~1 s).
    pub async fn stats_once(&self, id: &str) -> Result<ContainerCounters, DockerError> {
        let opts = StatsOptionsBuilder::new()
            .stream(false)
            .one_shot(true)
            .build();
        let mut stream = self.inner.stats(id, Some(opts));
        let s = match stream.next().await {
            Some(r) => r.map_err(|e| classify(e, || format!("container {id}")))?,
            None => return Err(DockerError::NotFound(format!("stats of container {id}"))),
        };
        let mem = s.memory_stats.as_ref();
        let stat = |k: &str| {
            mem.and_then(|m| m.stats.as_ref())
                .and_then(|st| st.get(k).copied())
        };
        let inactive = stat("total_inactive_file")
            .or_else(|| stat("inactive_file"))
            .unwrap_or(0);
        let usage = mem.and_then(|m| m.usage).unwrap_or(0);
        let (mut rx, mut tx) = (0, 0);
        for n in s.networks.iter().flat_map(|m| m.values()) {
            rx += n.rx_bytes.unwrap_or(0);
            tx += n.tx_bytes.unwrap_or(0);
        }
        let (mut blk_read, mut blk_write) = (0, 0);
        let io = s
            .blkio_stats
            .and_then(|b| b.io_service_bytes_recursive)
            .unwrap_or_default();
        for e in io {
            match e.op.as_deref().map(str::to_ascii_lowercase).as_deref() {
                Some("read") => blk_read += e.value.unwrap_or(0),
                Some("write") => blk_write += e.value.unwrap_or(0),
                _ => {}
            }
        }
        Ok(ContainerCounters {
            cpu_ns: s
                .cpu_stats
                .and_then(|c| c.cpu_usage)
                .and_then(|u| u.total_usage)
                .unwrap_or(0),
            mem: usage.saturating_sub(inactive),
            // The stats API reports no OOM kill count; v1 failcnt is the closest.
            oom_kills: 0,
            mem_hits: mem.and_then(|m| m.failcnt).unwrap_or(0),
            pids: s.pids_stats.and_then(|p| p.current).unwrap_or(0),
            blk_read,
            blk_write,
            rx,
            tx,
        })
    }
}
