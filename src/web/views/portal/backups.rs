//! The portal's backups page (each instance's backups, download, restore
//! when the plan allows it) and the restore confirmation.

use maud::{html, Markup};

use crate::ops::{PortalBackup, PortalBackups};
use crate::web::views::components::{
    csrf_field, empty, field, size, status_badge, FormErrors, REQUIRED,
};

fn figures(b: &PortalBackup) -> String {
    match (b.size, b.files) {
        (Some(s), Some(f)) => format!("{}, {f} files", size(s)),
        (Some(s), None) => size(s),
        _ => "-".into(),
    }
}

fn row(b: &PortalBackup, restore: bool) -> Markup {
    html! {
        tr data-backup=(b.id) {
            td { (b.created_at) div.muted { (b.trigger) } }
            td { (status_badge(b.status.as_str())) @if !b.message.is_empty() { div.muted { (b.message) } } }
            td.optional { (figures(b)) }
            td.optional {
                @match b.verify_state {
                    Some(v) => span class={ "badge verify-" (v) } { (v) },
                    None => span.muted { "not verified" },
                }
            }
            td { div.actions {
                @if b.downloadable {
                    a href={ "/portal/backups/" (b.id) "/download" } download { "Download" }
                    @if restore { a href={ "/portal/backups/" (b.id) "/restore" } { "Restore…" } }
                }
            } }
        }
    }
}

pub fn list(b: &PortalBackups) -> Markup {
    let restore = b.restore_allowed;
    html! {
        h1 { "Backups" }
        @if !restore { p.muted { "To restore a backup, ask your provider." } }
        @if b.instances.is_empty() { (empty("You have no instances yet.", None)) }
        @for ib in &b.instances {
            h2 { (ib.instance.name) }
            @if ib.backups.is_empty() {
                p.muted { "No backups yet." }
            } @else {
                div.table-wrap { table {
                    thead { tr { th { "Made (UTC)" } th { "Status" } th.optional { "Size" } th.optional { "Verified" } th { "" } } }
                    tbody { @for x in &ib.backups { (row(x, restore)) } }
                } }
            }
        }
    }
}

/// Restoring replaces the instance's data: the user types its name.
pub fn restore_form(
    csrf: &str,
    backup: &PortalBackup,
    instance: &str,
    errors: &FormErrors,
) -> Markup {
    html! {
        h1 { "Restore backup " (backup.id) }
        p { "This replaces all current data of " strong { (instance) } " with the backup made "
            (backup.created_at) ". The instance is stopped while it is restored. Changes since then are lost." }
        (errors.render_general())
        form method="post" action={ "/portal/backups/" (backup.id) "/restore" } {
            (csrf_field(csrf))
            (field(&format!("Type {instance} to confirm"), "confirm", "", REQUIRED, errors))
            button.danger type="submit" { "Restore" }
            " " a href="/portal/backups" { "Cancel" }
        }
    }
}
