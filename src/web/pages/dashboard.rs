//! The dashboard: host load, instances by phase, committed plan limits
//! against host capacity (overcommit), backup health, and what is failing
//! right now.

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::response::IntoResponse;
use maud::{html, Markup};

use super::PageResult;
use crate::web::routes::{Access, Route};
use crate::web::session::Ui;
use crate::web::views::components::{caddy_alert, empty, phase_badge, size};
use crate::web::views::layout::Nav;
use crate::web::AppState;

pub fn routes() -> Vec<Route> {
    vec![Route::get("/", Access::Session, dashboard)]
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

async fn dashboard(State(s): State<AppState>, ui: Ui) -> PageResult {
    let host_state = s.ui.clone();
    let host = tokio::task::spawn_blocking(move || host_state.host.snapshot())
        .await
        .unwrap_or_default();
    let o = s.ops.overview().await?;
    let failed_logins = s.ops.recent_failed_logins().await?;
    let backups = s.ops.backup_status().await?;
    let reconcile_errors = s.stats.errors.load(Ordering::Relaxed);
    let cpus = host.cpus as f64;
    let body = html! {
        h1 { "Dashboard" }
        (caddy_alert(&s.caddy.get()))
        div.grid {
            (meter("Host CPU", host.cpu_percent as f64, 100.0, format!("{} cores", host.cpus)))
            (meter("Host memory", host.memory_used as f64, host.memory_total as f64,
                format!("{} of {}", size(host.memory_used), size(host.memory_total))))
            (meter("Disk (data directory)", (host.disk_total - host.disk_available.min(host.disk_total)) as f64, host.disk_total as f64,
                format!("{} free of {}", size(host.disk_available), size(host.disk_total))))
        }
        h2 { "Committed by plans" }
        p.muted { "Sum of the plan limits of every instance, against what the host has. Above 100% is overcommit: fine for idle sites, risky if all are busy." }
        div.grid {
            (meter("CPU limits", o.cpus_committed, cpus, format!("{:.1} of {} cores", o.cpus_committed, host.cpus)))
            (meter("Memory limits", o.memory_committed as f64, host.memory_total as f64,
                format!("{} of {}", size(o.memory_committed), size(host.memory_total))))
            (meter("Storage quotas", o.storage_committed as f64, host.disk_total as f64,
                format!("{} of {}", size(o.storage_committed), size(host.disk_total))))
        }
        h2 { "Instances" }
        div.grid {
            div.card { div.muted { "Clients" } div.stat { (o.clients) } div.muted { (o.suspended) " suspended" } }
            div.card { div.muted { "Instances" } div.stat { (o.instances) } div.muted { (o.plans) " plans" } }
            div.card {
                div.muted { "By phase" }
                @if o.by_phase.is_empty() { p.muted { "none yet" } }
                @for (phase, n) in &o.by_phase { div { (phase_badge(*phase)) " " (n) } }
            }
        }
        @if o.clients == 0 {
            (empty("No clients yet. Create a plan, then your first client.", Some(("/clients/new", "New client"))))
        }
        h2 { "Backups" }
        (crate::web::views::backups::dashboard_section(&backups))
        h2 { "Recent failures" }
        @if reconcile_errors > 0 {
            p { (reconcile_errors) " reconcile passes failed since start-up; see berth's log." }
        }
        @if o.failing.is_empty() && failed_logins.is_empty() {
            p.muted { "Nothing is failing." }
        }
        @if !o.failing.is_empty() {
            div.table-wrap { table {
                thead { tr { th { "Client" } th { "Instance" } th { "Phase" } th.optional { "Message" } } }
                tbody { @for f in &o.failing { tr {
                    td { a href={ "/clients/" (super::seg(&f.client_slug)) } { (f.client_name) } }
                    td { (f.name) }
                    td { (phase_badge(f.phase)) }
                    td.optional { (f.message) }
                } } }
            } }
        }
        @if !failed_logins.is_empty() {
            h2 { "Failed sign-ins" }
            div.table-wrap { table {
                thead { tr { th { "When (UTC)" } th { "Account" } th { "From" } } }
                tbody { @for e in failed_logins.iter() { tr {
                    td { (e.at) } td { (e.target) } td { (e.ip.as_deref().unwrap_or("-")) }
                } } }
            } }
        }
    };
    Ok(ui
        .page("Dashboard", Nav::Dashboard, body)
        .await
        .into_response())
}
