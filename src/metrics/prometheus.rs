//! `/metrics` in Prometheus' text exposition format (version 0.0.4).
//! Instance counters are the cgroup's own, so they reset when a container
//! is recreated; Prometheus' `rate()` handles that.

use std::fmt::Write;

use super::live::{LiveInstance, LiveSnapshot};
use crate::domain::ReconcileCounts;

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

type Value = fn(&LiveInstance) -> Option<f64>;

const INSTANCE_METRICS: &[(&str, &str, &str, Value)] = &[
    (
        "berth_instance_up",
        "gauge",
        "1 while the instance's container runs.",
        |i| Some(if i.counters.is_some() { 1.0 } else { 0.0 }),
    ),
    (
        "berth_instance_cpu_seconds_total",
        "counter",
        "CPU time used by the container.",
        |i| i.counters.map(|c| c.cpu_ns as f64 / 1e9),
    ),
    (
        "berth_instance_memory_bytes",
        "gauge",
        "Memory in use (working set).",
        |i| i.counters.map(|c| c.mem as f64),
    ),
    (
        "berth_instance_memory_limit_bytes",
        "gauge",
        "The plan's memory limit.",
        |i| Some(i.mem_limit as f64),
    ),
    (
        "berth_instance_oom_kills_total",
        "counter",
        "Processes killed at the memory limit.",
        |i| i.counters.map(|c| c.oom_kills as f64),
    ),
    (
        "berth_instance_network_rx_bytes_total",
        "counter",
        "Bytes received.",
        |i| i.counters.map(|c| c.rx as f64),
    ),
    (
        "berth_instance_network_tx_bytes_total",
        "counter",
        "Bytes sent.",
        |i| i.counters.map(|c| c.tx as f64),
    ),
    (
        "berth_instance_disk_bytes",
        "gauge",
        "Size of the data directory at its last walk.",
        |i| Some(i.disk as f64),
    ),
];

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Backup freshness per instance: (client, instance, seconds since the newest
/// good backup, None when it never had one).
pub type BackupAges = [(String, String, Option<f64>)];

/// Appends backup ages: the age gauge for instances that have a good backup,
/// and a count of those that never had one (an age would have to be made up).
pub fn render_backup_ages(out: &mut String, ages: &BackupAges) {
    let name = "berth_instance_backup_age_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} Seconds since the newest successful backup.\n# TYPE {name} gauge"
    );
    for (client, instance, age) in ages {
        if let Some(age) = age {
            let _ = writeln!(
                out,
                "{name}{{client=\"{}\",instance=\"{}\"}} {age}",
                escape(client),
                escape(instance)
            );
        }
    }
    let never = ages.iter().filter(|(_, _, a)| a.is_none()).count();
    let name = "berth_instances_without_backup";
    let _ = writeln!(out, "# HELP {name} Instances that never had a successful backup.\n# TYPE {name} gauge\n{name} {never}");
}

/// One offsite target's maintenance for `/metrics`: (name, last successful
/// forget, prune, check, test-restore as Unix seconds, kinds whose newest
/// run failed).
pub type MaintenanceGauge = (String, [Option<i64>; 4], u64);

/// Appends per-target times of the last successful forget, prune, check
/// and test-restore (absent until one succeeded), and how many of those
/// kinds failed their newest run.
pub fn render_offsite_maintenance(out: &mut String, targets: &[MaintenanceGauge]) {
    if targets.is_empty() {
        return;
    }
    for (i, (kind, what)) in [
        ("forget", "offsite forget"),
        ("prune", "offsite prune"),
        ("check", "offsite repository check"),
        ("test_restore", "offsite test-restore"),
    ]
    .into_iter()
    .enumerate()
    {
        let name = format!("berth_offsite_last_{kind}_timestamp_seconds");
        let _ = writeln!(
            out,
            "# HELP {name} When the newest successful {what} finished (Unix time).\n# TYPE {name} gauge"
        );
        for (target, at, _) in targets {
            if let Some(v) = at[i] {
                let _ = writeln!(out, "{name}{{target=\"{}\"}} {v}", escape(target));
            }
        }
    }
    let name = "berth_offsite_maintenance_failing";
    let _ = writeln!(
        out,
        "# HELP {name} Kinds of offsite maintenance (forget, prune, check, test-restore) whose newest run failed.\n# TYPE {name} gauge"
    );
    for (target, _, failing) in targets {
        let _ = writeln!(out, "{name}{{target=\"{}\"}} {failing}", escape(target));
    }
}

/// One offsite target for `/metrics`: (name, newest good copy as Unix
/// seconds or None, bytes added by good copies in all, failed copies).
pub type OffsiteGauge = (String, Option<i64>, u64, u64);

/// Appends per-target offsite freshness and volume; nothing without targets.
pub fn render_offsite(out: &mut String, targets: &[OffsiteGauge]) {
    if targets.is_empty() {
        return;
    }
    type Series = (
        &'static str,
        &'static str,
        &'static str,
        fn(&OffsiteGauge) -> Option<f64>,
    );
    let series: [Series; 3] = [
        (
            "berth_offsite_last_success_timestamp_seconds",
            "gauge",
            "When the newest successful offsite copy finished (Unix time).",
            |t| t.1.map(|v| v as f64),
        ),
        (
            "berth_offsite_bytes_added_total",
            "counter",
            "Bytes successful offsite copies stored after dedup and compression.",
            |t| Some(t.2 as f64),
        ),
        (
            "berth_offsite_copies_failed_total",
            "counter",
            "Offsite copies that failed.",
            |t| Some(t.3 as f64),
        ),
    ];
    for (name, kind, help, value) in series {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for t in targets {
            if let Some(v) = value(t) {
                let _ = writeln!(out, "{name}{{target=\"{}\"}} {v}", escape(&t.0));
            }
        }
    }
}

/// Appends each client's LLM spend this month (or over the key's life where
/// the provider has no monthly figure) and its limit; nothing without keys.
pub fn render_llm(out: &mut String, gauges: &[(String, f64, Option<f64>)]) {
    if gauges.is_empty() {
        return;
    }
    let name = "berth_llm_spend_usd";
    let _ = writeln!(
        out,
        "# HELP {name} LLM spend of the client's key this month, USD.\n# TYPE {name} gauge"
    );
    for (client, spend, _) in gauges {
        let _ = writeln!(out, "{name}{{client=\"{}\"}} {spend}", escape(client));
    }
    let name = "berth_llm_limit_usd";
    let _ = writeln!(
        out,
        "# HELP {name} The client's LLM budget, USD (absent: no limit).\n# TYPE {name} gauge"
    );
    for (client, _, limit) in gauges {
        if let Some(limit) = limit {
            let _ = writeln!(out, "{name}{{client=\"{}\"}} {limit}", escape(client));
        }
    }
}

pub fn render(live: &LiveSnapshot, stats: &ReconcileCounts) -> String {
    let mut out = String::with_capacity(256 + live.instances.len() * 700);
    for (name, kind, help, value) in INSTANCE_METRICS {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
        for i in &live.instances {
            if let Some(v) = value(i) {
                let _ = writeln!(
                    out,
                    "{name}{{client=\"{}\",instance=\"{}\"}} {v}",
                    escape(&i.client),
                    escape(&i.instance)
                );
            }
        }
    }
    let own: [(&str, &str, &str, f64); 9] = [
        (
            "berth_reconcile_passes_total",
            "counter",
            "Reconciler passes.",
            stats.passes as f64,
        ),
        (
            "berth_reconcile_errors_total",
            "counter",
            "Reconciler passes that failed.",
            stats.errors as f64,
        ),
        (
            "berth_reconcile_actions_total",
            "counter",
            "Actions the reconciler applied.",
            stats.actions as f64,
        ),
        (
            "berth_caddy_loads_total",
            "counter",
            "Caddy config loads.",
            stats.caddy_loads as f64,
        ),
        (
            "berth_caddy_errors_total",
            "counter",
            "Failed Caddy config loads.",
            stats.caddy_errors as f64,
        ),
        (
            "berth_sampler_sweeps_total",
            "counter",
            "Usage sampling sweeps.",
            live.sweeps as f64,
        ),
        (
            "berth_sampler_errors_total",
            "counter",
            "Usage sampling sweeps that failed.",
            live.sweep_errors as f64,
        ),
        (
            "berth_sampler_sweep_seconds_total",
            "counter",
            "Wall time spent sampling.",
            live.sweep_secs_total,
        ),
        (
            "berth_sampler_last_sweep_seconds",
            "gauge",
            "Wall time of the last sweep.",
            live.last_sweep_secs,
        ),
    ];
    for (name, kind, help, v) in own {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}"
        );
    }
    out
}

#[cfg(test)]
#[path = "prometheus_tests.rs"]
mod tests;
