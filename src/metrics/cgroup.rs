//! A container's counters read straight from its cgroup and network
//! namespace: a few small files per container, microseconds each, where the
//! Docker stats API needs ~1 s per call. Supports cgroup v1 (cgroupfs or
//! systemd driver) and v2; the layout is detected once.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::docker::ContainerCounters;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// Finds and reads container cgroups; remembers each container's directory
/// and init pid so a sweep does no searching.
#[derive(Debug)]
pub struct Cgroups {
    root: PathBuf,
    proc_root: PathBuf,
    version: Version,
    /// container id → path below the (v1: per-controller) root.
    dirs: HashMap<String, PathBuf>,
}

impl Cgroups {
    /// Detects the layout under `root` (normally `/sys/fs/cgroup`).
    pub fn detect(root: &Path, proc_root: &Path) -> Self {
        let version = if root.join("cgroup.controllers").exists() {
            Version::V2
        } else {
            Version::V1
        };
        Self {
            root: root.to_owned(),
            proc_root: proc_root.to_owned(),
            version,
            dirs: HashMap::new(),
        }
    }

    pub fn version(&self) -> Version {
        self.version
    }

    /// Forgets containers not in `live`, so recreated ones are looked up anew.
    pub fn retain(&mut self, live: &[&str]) {
        self.dirs.retain(|id, _| live.contains(&id.as_str()));
    }

    fn dir(&mut self, id: &str) -> Option<PathBuf> {
        if let Some(d) = self.dirs.get(id) {
            return Some(d.clone());
        }
        let probe = match self.version {
            Version::V1 => self.root.join("cpuacct"),
            Version::V2 => self.root.clone(),
        };
        let found = [
            PathBuf::from("docker").join(id),
            PathBuf::from("system.slice").join(format!("docker-{id}.scope")),
        ]
        .into_iter()
        .find(|rel| probe.join(rel).is_dir())?;
        self.dirs.insert(id.to_owned(), found.clone());
        Some(found)
    }

    /// Reads every counter, `None` when the cgroup is missing (container not
    /// running, or a layout berth does not know) and the caller should ask
    /// the engine instead. Network counters need `pid`, the container's
    /// init process; without it they stay 0.
    pub fn read(&mut self, id: &str, pid: Option<u32>) -> Option<ContainerCounters> {
        let rel = self.dir(id)?;
        let counters = match self.version {
            Version::V1 => self.read_v1(&rel),
            Version::V2 => read_v2(&self.root.join(&rel)),
        };
        let Some(mut c) = counters else {
            self.dirs.remove(id);
            return None;
        };
        if let Some((rx, tx)) = pid.and_then(|p| self.net(id, p)) {
            c.rx = rx;
            c.tx = tx;
        }
        Some(c)
    }

    fn read_v1(&self, rel: &Path) -> Option<ContainerCounters> {
        let file = |ctrl: &str, name: &str| read(&self.root.join(ctrl).join(rel).join(name));
        let usage: u64 = file("memory", "memory.usage_in_bytes")?
            .trim()
            .parse()
            .ok()?;
        let stat = file("memory", "memory.stat").unwrap_or_default();
        let inactive = keyed(&stat, "total_inactive_file").unwrap_or(0);
        let (blk_read, blk_write) = file("blkio", "blkio.throttle.io_service_bytes")
            .map(|t| blkio_v1(&t))
            .unwrap_or_default();
        Some(ContainerCounters {
            cpu_ns: file("cpuacct", "cpuacct.usage")?.trim().parse().ok()?,
            mem: usage.saturating_sub(inactive),
            oom_kills: file("memory", "memory.oom_control")
                .and_then(|t| keyed(&t, "oom_kill"))
                .unwrap_or(0),
            mem_hits: number(file("memory", "memory.failcnt")),
            pids: number(file("pids", "pids.current")),
            blk_read,
            blk_write,
            rx: 0,
            tx: 0,
        })
    }

    /// rx/tx bytes of every interface but `lo` in the pid's namespace, after
    /// checking the pid still belongs to the container (pids are reused).
    fn net(&self, id: &str, pid: u32) -> Option<(u64, u64)> {
        let proc = self.proc_root.join(pid.to_string());
        if !read(&proc.join("cgroup"))?.contains(id) {
            return None;
        }
        Some(net_dev(&read(&proc.join("net/dev"))?))
    }

    /// Whether `pid` still runs inside container `id`.
    pub fn pid_belongs(&self, id: &str, pid: u32) -> bool {
        read(&self.proc_root.join(pid.to_string()).join("cgroup")).is_some_and(|t| t.contains(id))
    }
}

fn read_v2(dir: &Path) -> Option<ContainerCounters> {
    let file = |name: &str| read(&dir.join(name));
    let cpu_us = keyed(&file("cpu.stat")?, "usage_usec")?;
    let current: u64 = file("memory.current")?.trim().parse().ok()?;
    let stat = file("memory.stat").unwrap_or_default();
    let events = file("memory.events").unwrap_or_default();
    let (blk_read, blk_write) = file("io.stat").map(|t| io_v2(&t)).unwrap_or_default();
    Some(ContainerCounters {
        cpu_ns: cpu_us * 1000,
        mem: current.saturating_sub(keyed(&stat, "inactive_file").unwrap_or(0)),
        oom_kills: keyed(&events, "oom_kill").unwrap_or(0),
        mem_hits: keyed(&events, "max").unwrap_or(0),
        pids: number(file("pids.current")),
        blk_read,
        blk_write,
        rx: 0,
        tx: 0,
    })
}

fn read(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

fn number(text: Option<String>) -> u64 {
    text.and_then(|t| t.trim().parse().ok()).unwrap_or(0)
}

/// The value of `key` in "key value" lines (memory.stat, cpu.stat, memory.events).
pub fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let (k, v) = l.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// Sums "MAJ:MIN Read N" / "MAJ:MIN Write N" lines of v1 blkio.
pub fn blkio_v1(text: &str) -> (u64, u64) {
    let (mut r, mut w) = (0, 0);
    for l in text.lines() {
        let mut f = l.split_whitespace();
        let (Some(_dev), Some(op), Some(v)) = (f.next(), f.next(), f.next()) else {
            continue;
        };
        let v: u64 = v.parse().unwrap_or(0);
        match op {
            "Read" => r += v,
            "Write" => w += v,
            _ => {}
        }
    }
    (r, w)
}

/// Sums rbytes= and wbytes= over the devices of v2 io.stat.
pub fn io_v2(text: &str) -> (u64, u64) {
    let (mut r, mut w) = (0, 0);
    for field in text.split_whitespace() {
        if let Some(v) = field.strip_prefix("rbytes=") {
            r += v.parse::<u64>().unwrap_or(0);
        } else if let Some(v) = field.strip_prefix("wbytes=") {
            w += v.parse::<u64>().unwrap_or(0);
        }
    }
    (r, w)
}

/// rx and tx bytes over all interfaces but loopback, from /proc/<pid>/net/dev.
pub fn net_dev(text: &str) -> (u64, u64) {
    let (mut rx, mut tx) = (0, 0);
    for l in text.lines().skip(2) {
        let Some((iface, rest)) = l.split_once(':') else {
            continue;
        };
        if iface.trim() == "lo" {
            continue;
        }
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|v| v.parse().unwrap_or(0))
            .collect();
        if f.len() >= 9 {
            rx += f[0];
            tx += f[8];
        }
    }
    (rx, tx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_kernel_formats() {
        let dev = "Inter-|   Receive                                                |  Transmit\n face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed\n    lo:     100       1    0    0    0     0          0         0      100       1    0    0    0     0       0          0\n  eth0:    2048      10    0    0    0     0          0         0      512       5    0    0    0     0       0          0\n";
        assert_eq!(net_dev(dev), (2048, 512));
        assert_eq!(
            blkio_v1("8:0 Read 4096\n8:0 Write 100\n8:0 Sync 5\n8:0 Total 4196\nTotal 4196\n"),
            (4096, 100)
        );
        assert_eq!(
            io_v2("8:0 rbytes=10 wbytes=20 rios=1 wios=2\n253:0 rbytes=5 wbytes=0 rios=1 wios=0\n"),
            (15, 20)
        );
        assert_eq!(
            keyed("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill"),
            Some(3)
        );
        assert_eq!(
            keyed("low 0\nhigh 0\nmax 7\noom 2\noom_kill 2\n", "max"),
            Some(7)
        );
        assert_eq!(
            keyed("usage_usec 1500\nuser_usec 1000\n", "usage_usec"),
            Some(1500)
        );
    }

    #[test]
    fn reads_a_v2_tree_and_a_v1_tree() {
        let root = tempfile::tempdir().unwrap();
        let proc = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("cgroup.controllers"), "cpu memory").unwrap();
        let dir = root.path().join("system.slice/docker-abc.scope");
        std::fs::create_dir_all(&dir).unwrap();
        for (f, t) in [
            ("cpu.stat", "usage_usec 2000000\n"),
            ("memory.current", "1000\n"),
            ("memory.stat", "anon 800\ninactive_file 200\n"),
            ("memory.events", "max 4\noom_kill 1\n"),
            ("pids.current", "3\n"),
        ] {
            std::fs::write(dir.join(f), t).unwrap();
        }
        let mut cg = Cgroups::detect(root.path(), proc.path());
        assert_eq!(cg.version(), Version::V2);
        let c = cg.read("abc", None).unwrap();
        assert_eq!(
            (c.cpu_ns, c.mem, c.oom_kills, c.mem_hits, c.pids),
            (2_000_000_000, 800, 1, 4, 3)
        );
        assert!(cg.read("other", None).is_none());

        let v1 = tempfile::tempdir().unwrap();
        for (ctrl, f, t) in [
            ("cpuacct", "cpuacct.usage", "5000\n"),
            ("memory", "memory.usage_in_bytes", "4096\n"),
            ("memory", "memory.stat", "cache 0\ntotal_inactive_file 96\n"),
            (
                "memory",
                "memory.oom_control",
                "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
            ),
            ("pids", "pids.current", "1\n"),
        ] {
            let d = v1.path().join(ctrl).join("docker/xyz");
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join(f), t).unwrap();
        }
        let pdir = proc.path().join("42/net");
        std::fs::create_dir_all(&pdir).unwrap();
        std::fs::write(proc.path().join("42/cgroup"), "4:memory:/docker/xyz\n").unwrap();
        std::fs::write(
            pdir.join("dev"),
            "h\nh\n eth0: 7 0 0 0 0 0 0 0 9 0 0 0 0 0 0 0\n",
        )
        .unwrap();
        let mut cg = Cgroups::detect(v1.path(), proc.path());
        assert_eq!(cg.version(), Version::V1);
        let c = cg.read("xyz", Some(42)).unwrap();
        assert_eq!(
            (c.cpu_ns, c.mem, c.oom_kills, c.pids, c.rx, c.tx),
            (5000, 4000, 2, 1, 7, 9)
        );
        assert!(!cg.pid_belongs("other", 42));
    }
}
