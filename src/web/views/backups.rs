//! Backup tables: one row per backup with its figures and actions, shared
//! by the client page (newest few) and an instance's history page.

use maud::{html, Markup};

use super::components::{seg, size, status_badge};
use super::layout::{page, Chrome, Nav};
use crate::domain::BackupStatus;
use crate::store::{BackupRow, InstanceRow};
use crate::web::urls::history_url;

/// Backups per instance on the client page; the rest are on the history page.
const NEWEST: usize = 3;

/// Where a row's action sends the browser back to: the client page or the history.
#[derive(Clone, Copy)]
pub enum Back {
    Client,
    History,
}

impl Back {
    fn as_str(self) -> &'static str {
        match self {
            Back::Client => "client",
            Back::History => "history",
        }
    }
}

fn millis(ms: Option<u64>) -> String {
    match ms {
        None => "-".into(),
        Some(ms) if ms < 10_000 => format!("{:.1} s", ms as f64 / 1000.0),
        Some(ms) => format!("{} s", ms / 1000),
    }
}

/// Bytes done while running, for the table and the status JSON.
pub fn progress(b: &BackupRow) -> String {
    match (b.status, b.bytes_total) {
        (BackupStatus::Queued, _) => "waiting".into(),
        (BackupStatus::Running, Some(total)) if total > 0 => format!(
            "{} of {} ({:.0}%)",
            size(b.bytes_done),
            size(total),
            b.bytes_done as f64 / total as f64 * 100.0
        ),
        (BackupStatus::Running, _) => format!("{} done", size(b.bytes_done)),
        _ => String::new(),
    }
}

fn verification(b: &BackupRow) -> Markup {
    html! {
        @match b.verify_state {
            None => span.muted { "not verified" },
            Some(state) => {
                span class={ "badge verify-" (state) } { (state) }
                @if let Some(at) = &b.verified_at { div.muted { (at) } }
                @if !b.verify_message.is_empty() { div.muted { (b.verify_message) } }
            }
        }
    }
}

/// A one-button form that also says which page to come back to.
fn back_button(action: &str, label: &str, csrf: &str, back: Back) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            (super::components::csrf_field(csrf))
            input type="hidden" name="back" value=(back.as_str());
            button.secondary type="submit" { (label) }
        }
    }
}

/// "Back up now" for an instance.
pub fn backup_button(instance_id: i64, csrf: &str, back: Back) -> Markup {
    back_button(
        &format!("/instances/{instance_id}/backups"),
        "Back up now",
        csrf,
        back,
    )
}

pub fn table(list: &[BackupRow], csrf: &str, back: Back) -> Markup {
    html! {
        div.table-wrap { table {
            thead { tr {
                th { "Status" } th { "Started (UTC)" } th { "Duration" } th { "Size" }
                th.optional { "Ratio" } th.optional { "SHA-256" } th { "Verified" }
                th.optional { "Paused" } th { "Actions" }
            } }
            tbody { @for b in list { tr data-backup=(b.id) {
                td {
                    (status_badge(b.status.as_str()))
                    div.muted data-progress { (progress(b)) }
                    @if !b.message.is_empty() { div.muted { (b.message) } }
                }
                td { (b.started_at.as_deref().unwrap_or(&b.created_at)) div.muted { (b.trigger) } }
                td { (millis(b.duration_ms)) }
                td { (b.size.map(size).unwrap_or_else(|| "-".into())) }
                td.optional { (b.ratio().map(|r| format!("{:.0}%", r * 100.0)).unwrap_or_else(|| "-".into())) }
                td.optional { @if let Some(h) = &b.sha256 { code title=(h) data-sha256=(h) { (h.get(..12).unwrap_or(h)) } } @else { "-" } }
                td { (verification(b)) }
                td.optional { (millis(b.freeze_ms)) div.muted { (b.consistency) } }
                td { div.actions {
                    @if b.status == BackupStatus::Ok {
                        a href={ "/backups/" (b.id) "/download" } download { "Download" }
                        (back_button(&format!("/backups/{}/verify", b.id), "Verify", csrf, back))
                        a href={ "/backups/" (b.id) "/restore" } { "Restore…" }
                    }
                } }
            } } }
        } }
    }
}

/// An instance without backups: say so, and offer the first one.
pub fn none_yet(instance_id: i64, csrf: &str, back: Back) -> Markup {
    html! {
        div.empty {
            p { "No backups of this instance yet." }
            (backup_button(instance_id, csrf, back))
        }
    }
}

/// The client page's backups: per instance the newest few and its actions.
pub fn client_section(parts: &[(&InstanceRow, Vec<BackupRow>)], csrf: &str) -> Markup {
    html! {
        @for (i, rows) in parts {
            h3 { (i.name) " " a.muted href=(history_url(i.id)) { "all backups (" (rows.len()) ")" }
                 " " a.muted href={ "/instances/" (i.id) "/offsite" } { "offsite snapshots" } }
            @if rows.is_empty() {
                (none_yet(i.id, csrf, Back::Client))
            } @else {
                div.actions { (backup_button(i.id, csrf, Back::Client)) }
                (table(&rows[..rows.len().min(NEWEST)], csrf, Back::Client))
            }
        }
    }
}

/// Every backup of one instance, newest first.
pub fn history(chrome: &Chrome, inst: &InstanceRow, rows: &[BackupRow]) -> Markup {
    let (id, csrf) = (inst.id, chrome.csrf.as_str());
    let title = format!("Backups of {}/{}", inst.client_slug, inst.name);
    let client_url = format!("/clients/{}", seg(&inst.client_slug));
    let body = html! {
        h1 { (title) }
        div.actions {
            (backup_button(id, csrf, Back::History))
            a href={ "/instances/" (id) "/offsite" } { "Offsite snapshots" }
            a href=(client_url) { "Back to " (inst.client_slug) }
        }
        @if rows.is_empty() {
            (none_yet(id, csrf, Back::History))
        } @else {
            p.muted { (rows.len()) " backups, newest first" }
            div data-status-url={ (client_url) "/status" } {
                (table(rows, csrf, Back::History))
            }
        }
    };
    page(&title, Nav::Clients, chrome, body)
}
