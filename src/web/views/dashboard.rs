//! The dashboard: host load, instances by phase, committed plan limits
//! against host capacity (overcommit), backup health, and what is failing
//! right now.

use std::sync::Arc;

use maud::{html, Markup};

use super::components::{caddy_alert, empty, phase_badge, seg, size};
use super::layout::{page, Chrome, Nav};
use crate::caddy::CaddyState;
use crate::ops::BackupSummary;
use crate::store::metrics::HostSample;
use crate::store::overview::Overview;
use crate::store::{AuditEntry, RequestRow};

/// Everything the dashboard shows, read by its handler.
pub struct Dashboard {
    pub host: HostSample,
    pub caddy: CaddyState,
    pub overview: Arc<Overview>,
    pub failed_logins: Arc<Vec<AuditEntry>>,
    pub backups: BackupSummary,
    /// Reconcile passes that failed since start-up.
    pub reconcile_errors: u64,
    /// Clients' instance requests waiting for a decision.
    pub pending_requests: Arc<Vec<RequestRow>>,
    /// LLM spend and credits, when a provider is configured.
    pub llm: Option<crate::ops::LlmOverview>,
    /// Each `[[offsite]]` target's last copy; empty without targets.
    pub offsite: Vec<crate::ops::OffsiteStatus>,
}

/// Per offsite target: the newest good copy, its age, what copies added,
/// and the last failure's words when the newest copy failed.
fn offsite_section(targets: &[crate::ops::OffsiteStatus]) -> Markup {
    html! {
        div.table-wrap { table id="offsite" {
            thead { tr { th { "Target" } th { "Last good copy (UTC)" } th { "Age" } th.optional { "Added in all" } th { "Last copy" } th.optional { "Verified (UTC)" } } }
            tbody { @for t in targets { tr {
                td { a href={ "/offsite/" (super::components::seg(&t.name)) } { (t.name) } div.muted { (t.repository) } }
                td { @if let Some(at) = &t.summary.last_success { (at) } @else { span.muted { "never" } } }
                td { @if let Some(age) = t.age_seconds { (format!("{:.0} h", age / 3600.0)) } @else { "-" } }
                td.optional { (size(t.summary.bytes_added_total)) }
                td { @match &t.last_copy {
                    Some(c) if c.status == crate::domain::BackupStatus::Failed => {
                        span.badge.status-failed { "failed" } " " (c.message)
                    }
                    Some(c) => { (c.status.as_str()) }
                    None => { span.muted { "none yet" } }
                } }
                td.optional { (maintenance_cell(&t.maintenance)) }
            } } }
        } }
    }
}

/// When the repository was last checked, test-restored and pruned; a
/// kind whose newest run failed says so.
fn maintenance_cell(m: &crate::store::offsite_runs::Maintenance) -> Markup {
    use crate::domain::OffsiteRunKind as K;
    let rows = [
        ("check", K::Check, &m.last_check),
        ("test-restore", K::TestRestore, &m.last_test_restore),
        ("prune", K::Prune, &m.last_prune),
    ];
    html! {
        @for (label, kind, at) in rows {
            div {
                (label) ": "
                @if let Some(at) = at { (at) } @else { span.muted { "never" } }
                @if m.failing.contains(&kind) { " " span.badge.status-failed { "failed" } }
            }
        }
    }
}

fn meter(label: &str, used: f64, total: f64, text: String) -> Markup {
    let pct = if total > 0.0 {
        used / total * 100.0
    } else {
        0.0
    };
    html! {
        div.card {
            div.muted { (label) }
            div.stat { (format!("{pct:.0}%")) }
            // <meter>, not a styled div: the CSP forbids inline styles.
            meter min="0" max="100" low="70" high="90" optimum="0" value=(format!("{:.0}", pct.min(100.0))) { (format!("{pct:.0}%")) }
            div.muted { (text) }
        }
    }
}

/// How many instances lack a recent good backup (never backed up, or stale:
/// the schedule may have stopped), and the first of them; the rest behind a
/// link, so the page stays small with a thousand instances.
fn backup_section(b: &BackupSummary) -> Markup {
    html! {
        div.grid {
            div.card {
                div.muted { "Instances without a recent backup" }
                div.stat id="backups-missing" { (b.missing) }
                div.muted { (b.never) " never backed up, " (b.missing - b.never) " stale, of " (b.instances) }
            }
        }
        @if b.missing == 0 {
            p.muted { "Every instance has a recent good backup." }
        } @else {
            div.table-wrap { table {
                thead { tr { th { "Instance" } th { "Last good backup (UTC)" } th.optional { "Last failure (UTC)" } } }
                tbody { @for b in &b.shown { tr {
                    td { a href={ "/instances/" (b.instance_id) "/backups" } { (b.client) "/" (b.instance) } }
                    td { @if let Some(at) = &b.last_ok_at { (at) " " span.badge.status-failed { "stale" } } @else { span.muted { "never" } } }
                    td.optional { (b.last_failed_at.as_deref().unwrap_or("-")) }
                } } }
            } }
            @if b.shown.len() < b.missing {
                p { a href="/?backups=all" { "Show all " (b.missing) " instances without a recent backup" } }
            }
        }
    }
}

pub fn dashboard(chrome: &Chrome, d: &Dashboard) -> Markup {
    let host = &d.host;
    let cpus = f64::from(host.cpus);
    let cpu_percent = if host.cpus > 0 {
        host.cpu_used / cpus * 100.0
    } else {
        0.0
    };
    let disk_available = host.disk_total.saturating_sub(host.disk_used);
    let body = html! {
        h1 { "Dashboard" }
        (caddy_alert(&d.caddy))
        (super::requests::dashboard_section(&chrome.csrf, &d.pending_requests))
        div.grid {
            (meter("Host CPU", cpu_percent, 100.0, format!("{} cores", host.cpus)))
            (meter("Host memory", host.mem_used as f64, host.mem_total as f64,
                format!("{} of {}", size(host.mem_used), size(host.mem_total))))
            (meter("Disk (data directory)", host.disk_used.min(host.disk_total) as f64, host.disk_total as f64,
                format!("{} free of {}", size(disk_available), size(host.disk_total))))
        }
        h2 { "Committed by plans" }
        p.muted { "Sum of the plan limits of every instance, against what the host has. Above 100% is overcommit: fine for idle sites, risky if all are busy." }
        div.grid {
            (meter("CPU limits", d.overview.cpus_committed, cpus, format!("{:.1} of {} cores", d.overview.cpus_committed, host.cpus)))
            (meter("Memory limits", d.overview.memory_committed as f64, host.mem_total as f64,
                format!("{} of {}", size(d.overview.memory_committed), size(host.mem_total))))
            (meter("Storage quotas", d.overview.storage_committed as f64, host.disk_total as f64,
                format!("{} of {}", size(d.overview.storage_committed), size(host.disk_total))))
        }
        h2 { "Instances" }
        div.grid {
            div.card { div.muted { "Clients" } div.stat { (d.overview.clients) } div.muted { (d.overview.suspended) " suspended" } }
            div.card { div.muted { "Instances" } div.stat { (d.overview.instances) } div.muted { (d.overview.plans) " plans" } }
            div.card {
                div.muted { "By phase" }
                @if d.overview.by_phase.is_empty() { p.muted { "none yet" } }
                @for (phase, n) in &d.overview.by_phase { div { (phase_badge(*phase)) " " (n) } }
            }
        }
        @if d.overview.clients == 0 {
            (empty("No clients yet. Create a plan, then your first client.", Some(("/clients/new", "New client"))))
        }
        @if let Some(llm) = &d.llm { (super::llm::dashboard_section(llm)) }
        h2 { "Backups" }
        (backup_section(&d.backups))
        @if !d.offsite.is_empty() {
            h2 { "Offsite copies" }
            (offsite_section(&d.offsite))
        }
        h2 { "Recent failures" }
        @if d.reconcile_errors > 0 {
            p { (d.reconcile_errors) " reconcile passes failed since start-up; see berth's log." }
        }
        @if d.overview.failing.is_empty() && d.failed_logins.is_empty() {
            p.muted { "Nothing is failing." }
        }
        @if !d.overview.failing.is_empty() {
            div.table-wrap { table {
                thead { tr { th { "Client" } th { "Instance" } th { "Phase" } th.optional { "Message" } } }
                tbody { @for f in &d.overview.failing { tr {
                    td { a href={ "/clients/" (seg(&f.client_slug)) } { (f.client_name) } }
                    td { (f.name) }
                    td { (phase_badge(f.phase)) }
                    td.optional { (f.message) }
                } } }
            } }
        }
        @if !d.failed_logins.is_empty() {
            h2 { "Failed sign-ins" }
            div.table-wrap { table {
                thead { tr { th { "When (UTC)" } th { "Account" } th { "From" } } }
                tbody { @for e in d.failed_logins.iter() { tr {
                    td { (e.at) } td { (e.target) } td { (e.ip.as_deref().unwrap_or("-")) }
                } } }
            } }
        }
    };
    page("Dashboard", Nav::Dashboard, chrome, body)
}
