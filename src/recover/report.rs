//! The recovery's report: per instance what came back and how it runs,
//! printed (a table, or JSON with `--json`) and kept in the reports dir;
//! and the progress lines of step 1.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;

use super::converge::{self, Health};
use super::instances::Outcome;
use super::state::StateRestored;
use super::Say;
use crate::config::Config;
use crate::store::InstanceRow;

/// What the run did, per instance; also written to the reports dir.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub target: String,
    pub started_at: String,
    pub finished_at: String,
    /// None when an earlier, interrupted run restored the state.
    pub state: Option<StateRestored>,
    /// Backups whose archives were on the old host's disk, marked lost.
    pub lost_archives: usize,
    pub instances: Vec<InstanceReport>,
    pub restored: usize,
    pub healthy: usize,
    /// Every instance restored and healthy (or stopped as desired).
    pub ok: bool,
    pub report_file: PathBuf,
}

#[derive(Debug, Clone, Serialize)]
pub struct InstanceReport {
    pub id: i64,
    pub client: String,
    pub instance: String,
    pub snapshot_id: Option<String>,
    pub snapshot_time: Option<String>,
    pub restored_bytes: u64,
    pub files: u64,
    /// Restored by an earlier run this one continued.
    pub resumed: bool,
    pub health: Health,
    pub phase: String,
    pub message: String,
}

/// The report from step 2's outcomes and step 3's rows.
pub fn build(
    target: &str,
    started_at: String,
    state: Option<StateRestored>,
    lost: usize,
    restored: usize,
    outcomes: Vec<Outcome>,
    rows: &BTreeMap<i64, InstanceRow>,
) -> Report {
    let mut report = Report {
        target: target.to_owned(),
        started_at,
        finished_at: crate::store::now(),
        state,
        lost_archives: lost,
        instances: Vec::new(),
        restored,
        healthy: 0,
        ok: false,
        report_file: PathBuf::new(),
    };
    for o in outcomes {
        let row = rows.get(&o.instance.id).unwrap_or(&o.instance);
        let health = match &o.restored {
            Some(_) => converge::health(row),
            None => Health::NotRestored,
        };
        let message = match (&o.error, row.message.as_str()) {
            (Some(e), _) => e.clone(),
            (None, m) => m.to_owned(),
        };
        report.instances.push(InstanceReport {
            id: row.id,
            client: row.client_slug.clone(),
            instance: row.name.clone(),
            snapshot_id: o.restored.as_ref().map(|r| r.snapshot_id.clone()),
            snapshot_time: o.restored.as_ref().map(|r| r.snapshot_time.clone()),
            restored_bytes: o.restored.as_ref().map_or(0, |r| r.bytes),
            files: o.restored.as_ref().map_or(0, |r| r.files),
            resumed: o.resumed,
            health,
            phase: row.phase.to_string(),
            message,
        });
    }
    report.instances.sort_by_key(|i| i.id);
    report.healthy = report
        .instances
        .iter()
        .filter(|i| matches!(i.health, Health::Healthy | Health::Stopped))
        .count();
    report.ok = report.healthy == report.instances.len();
    report
}

/// Step 1's lines: what came back and where.
pub fn say_state(say: &Say, config: &Config, st: &StateRestored) {
    say(format!(
        "  database restored to {}",
        config.db_path().display()
    ));
    say(if st.sealer_key {
        format!(
            "  LLM sealer key restored to {}",
            config.llm.secret_file(&config.data_dir).display()
        )
    } else {
        "  no LLM sealer key in the copy (made by an older berth, or no LLM keys yet): \
         sealed LLM keys and first-start passwords may not be readable; rotate them"
            .to_owned()
    });
    if st.caddy_certificates {
        say("  Caddy's certificates restored".to_owned());
    }
    match (&st.old_config, st.config_differs) {
        (Some(p), Some(true)) => say(format!(
            "  the old host's config is in {}: it DIFFERS from the config in use; compare them",
            p.display()
        )),
        (Some(p), Some(false)) => say(format!(
            "  the old host's config is in {}: the same as the config in use",
            p.display()
        )),
        (Some(p), None) => say(format!(
            "  the old host's config is in {} (this run uses no config file)",
            p.display()
        )),
        (None, _) => say("  the copy holds no config file (the old host ran without one)".into()),
    }
}

/// restic's snapshot time ("2026-12-03T08:24:23.836683761Z") to the second, in UTC.
pub fn when(rfc3339: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(rfc3339)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M:%S UTC")
                .to_string()
        })
        .unwrap_or_else(|_| rfc3339.to_owned())
}

/// `<reports dir>/recover-<time>.json`; its path goes into the report.
pub fn write(config: &Config, report: &mut Report) -> Result<(), String> {
    let dir = config.reports_dir();
    std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    report.report_file = dir.join(format!("recover-{stamp}.json"));
    let bytes = serde_json::to_vec_pretty(report).map_err(|e| e.to_string())?;
    std::fs::write(&report.report_file, bytes)
        .map_err(|e| format!("writing {}: {e}", report.report_file.display()))
}
