//! The text exposition berth renders for /metrics.

use super::*;
use crate::docker::ContainerCounters;

#[test]
fn renders_offsite_targets() {
    let mut out = String::new();
    render_offsite(
        &mut out,
        &[
            ("box".into(), Some(1_700_000_000), 42, 1),
            ("s3".into(), None, 0, 0),
        ],
    );
    assert!(
        out.contains("berth_offsite_last_success_timestamp_seconds{target=\"box\"} 1700000000\n"),
        "{out}"
    );
    assert!(
        !out.contains("berth_offsite_last_success_timestamp_seconds{target=\"s3\"}"),
        "{out}"
    );
    assert!(
        out.contains("berth_offsite_bytes_added_total{target=\"box\"} 42\n"),
        "{out}"
    );
    assert!(
        out.contains("berth_offsite_copies_failed_total{target=\"box\"} 1\n"),
        "{out}"
    );
    let mut none = String::new();
    render_offsite(&mut none, &[]);
    assert!(none.is_empty());
}

#[test]
fn renders_offsite_maintenance_times_once_they_exist() {
    let mut out = String::new();
    render_offsite_maintenance(
        &mut out,
        &[("box".into(), [None, Some(5), Some(1_700_000_000), None], 1)],
    );
    assert!(
        out.contains("berth_offsite_last_check_timestamp_seconds{target=\"box\"} 1700000000\n"),
        "{out}"
    );
    assert!(out.contains("berth_offsite_last_prune_timestamp_seconds{target=\"box\"} 5\n"));
    assert!(!out.contains("berth_offsite_last_test_restore_timestamp_seconds{"));
    assert!(out.contains("# TYPE berth_offsite_last_test_restore_timestamp_seconds gauge"));
    assert!(out.contains("berth_offsite_maintenance_failing{target=\"box\"} 1\n"));
    let mut none = String::new();
    render_offsite_maintenance(&mut none, &[]);
    assert!(none.is_empty());
}

#[test]
fn renders_backup_ages() {
    let mut out = String::new();
    let ages = vec![
        ("acme".to_string(), "main".to_string(), Some(60.0)),
        ("new".to_string(), "main".to_string(), None),
    ];
    render_backup_ages(&mut out, &ages);
    assert!(out.contains("berth_instance_backup_age_seconds{client=\"acme\",instance=\"main\"} 60"));
    assert!(!out.contains("client=\"new\""));
    assert!(out.contains("berth_instances_without_backup 1"));
}

#[test]
fn renders_labelled_series() {
    let live = LiveSnapshot {
        instances: vec![
            LiveInstance {
                instance_id: 1,
                client: "acme".into(),
                instance: "main".into(),
                counters: Some(ContainerCounters {
                    cpu_ns: 2_500_000_000,
                    mem: 1024,
                    rx: 7,
                    ..Default::default()
                }),
                disk: 4096,
                mem_limit: 1 << 20,
            },
            LiveInstance {
                instance_id: 2,
                client: "b\"x".into(),
                instance: "web".into(),
                ..Default::default()
            },
        ],
        sweeps: 3,
        ..Default::default()
    };
    let text = render(&live, &ReconcileCounts::default());
    assert!(
        text.contains("berth_instance_cpu_seconds_total{client=\"acme\",instance=\"main\"} 2.5\n"),
        "{text}"
    );
    assert!(
        text.contains("berth_instance_up{client=\"b\\\"x\",instance=\"web\"} 0\n"),
        "{text}"
    );
    assert!(
        !text.contains("berth_instance_memory_bytes{client=\"b"),
        "{text}"
    );
    assert!(text.contains("berth_sampler_sweeps_total 3\n"));
    assert!(text
        .contains("# TYPE berth_reconcile_passes_total counter\nberth_reconcile_passes_total 0\n"));
}
