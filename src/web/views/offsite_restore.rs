//! Restoring from offsite: an instance's snapshots per target, the
//! confirmation (in place, typing "<client>/<instance>", or as a new
//! instance), one restore's progress, and a target's recent copies and
//! restores.

use maud::{html, Markup};

use super::components::{csrf_field, field, seg, size, status_badge, FormErrors, Input, REQUIRED};
use super::layout::{page, Chrome, Nav};
use crate::domain::RestoreMode;
use crate::offsite::Snapshot;
use crate::ops::{OffsiteRestoreProgress, OffsiteRestoreStage, TargetSnapshots};
use crate::store::offsite::{CopyRow, OffsiteRestoreRow};
use crate::store::InstanceRow;
use crate::web::forms::RestoreForm;
use crate::web::urls::history_url;

/// Where one snapshot's confirmation lives.
pub fn confirm_url(instance_id: i64, target: &str, snapshot: &str) -> String {
    format!(
        "/instances/{instance_id}/offsite/{}/{}",
        seg(target),
        seg(snapshot)
    )
}

fn snapshot_facts(s: &Snapshot) -> Markup {
    html! {
        td { (s.time.get(..19).unwrap_or(&s.time).replace('T', " ")) }
        td { @match s.tag("backup") { Some(b) => { "backup " (b) } None => { span.muted { "-" } } } }
        td { (s.content().map(|(_, b)| size(b)).unwrap_or_else(|| "-".into())) }
        td { code title=(s.id) { (s.short_id) } }
    }
}

/// Per configured target, the instance's snapshots newest first, each
/// with "Restore…"; a target that cannot be read shows restic's words.
pub fn snapshots(chrome: &Chrome, inst: &InstanceRow, targets: &[TargetSnapshots]) -> Markup {
    let title = format!("Offsite snapshots of {}/{}", inst.client_slug, inst.name);
    let body = html! {
        h1 { (title) }
        div.actions {
            a href=(history_url(inst.id)) { "Local backups" }
            a href={ "/clients/" (seg(&inst.client_slug)) } { "Back to " (inst.client_slug) }
        }
        @if targets.is_empty() {
            div.empty { p { "No offsite targets are configured ([[offsite]] in the config)." } }
        }
        @for t in targets {
            h2 { "Target " a href={ "/offsite/" (seg(&t.target)) } { (t.target) } }
            @match &t.snapshots {
                Err(e) => {
                    div.flash.flash-error role="alert" data-target-error=(t.target) {
                        "Cannot list the snapshots on " (t.target) ": " (e)
                    }
                }
                Ok(list) if list.is_empty() => {
                    div.empty { p { "No copies of this instance on " (t.target) " yet." } }
                }
                Ok(list) => {
                    div.table-wrap { table data-target=(t.target) {
                        thead { tr { th { "Taken (UTC)" } th { "Local backup" } th { "Size" } th { "Snapshot" } th { "Actions" } } }
                        tbody { @for s in list { tr data-snapshot=(s.id) {
                            (snapshot_facts(s))
                            td { a href=(confirm_url(inst.id, &t.target, &s.id)) { "Restore…" } }
                        } } }
                    } }
                }
            }
        }
    };
    page(&title, Nav::Clients, chrome, body)
}

/// Both ways of restoring snapshot `s`; `errors` land on the form `f.mode` names.
pub fn confirm(
    chrome: &Chrome,
    inst: &InstanceRow,
    target: &str,
    s: &Snapshot,
    f: &RestoreForm,
    errors: &FormErrors,
) -> Markup {
    let expected = format!("{}/{}", inst.client_slug, inst.name);
    let action = confirm_url(inst.id, target, &s.id);
    let none = FormErrors::default();
    let (in_place, clone) = if f.mode() == RestoreMode::Clone {
        (&none, errors)
    } else {
        (errors, &none)
    };
    let body = html! {
        h1 { "Restore from " (target) }
        (errors.render_general())
        div.card { table { tbody { tr {
            (snapshot_facts(s))
        } } } }
        p { "The snapshot is downloaded into a local backup first; the live data is not touched until that is complete." }
        h2 { "Into " (expected) }
        form.stack.card method="post" action=(action) {
            (csrf_field(&chrome.csrf))
            input type="hidden" name="mode" value="in_place";
            p { "The instance is stopped and its data replaced by this snapshot. The current data is kept until the restored instance is healthy, and put back if it is not." }
            (field(&format!("Type {expected} to confirm"), "confirm", "", REQUIRED, in_place))
            div { button.danger type="submit" { "Replace the data" } }
        }
        h2 { "Into a new instance" }
        form.stack.card method="post" action=(action) {
            (csrf_field(&chrome.csrf))
            input type="hidden" name="mode" value="clone";
            p { "A new instance of " (inst.client_slug) " with the same app and settings, started with this snapshot's data. The plan's instance limit applies." }
            (field("New instance name", "instance", &f.instance, Input { hint: Some("a-z, 0-9, '-'"), ..REQUIRED }, clone))
            div { button type="submit" { "Restore as a new instance" } }
        }
    };
    page("Restore from offsite", Nav::Clients, chrome, body)
}

fn stage_badge(stage: OffsiteRestoreStage) -> Markup {
    let class = match stage {
        OffsiteRestoreStage::Done => "ok",
        OffsiteRestoreStage::Failed => "failed",
        _ => "running",
    };
    html! { span class={ "badge status-" (class) } data-stage=(stage.as_str()) { (stage.as_str()) } }
}

/// One offsite restore: downloading → restoring locally → done or failed.
pub fn progress(chrome: &Chrome, p: &OffsiteRestoreProgress) -> Markup {
    let r = &p.row;
    let title = format!("Offsite restore {}", r.id);
    let into = p.into.as_deref().unwrap_or("a deleted instance");
    let client = into.split('/').next().unwrap_or_default();
    let body = html! {
        h1 { (title) " " (stage_badge(p.stage)) }
        @match p.stage {
            OffsiteRestoreStage::Failed => { div.flash.flash-error role="alert" data-detail { (p.detail) } }
            OffsiteRestoreStage::Done => { div.flash.flash-ok role="status" data-detail { "Restored into " (into) ". " (p.detail) } }
            _ => { p role="status" data-detail { (p.detail) } }
        }
        div.card { dl.facts {
            dt { "Snapshot" } dd { code { (r.snapshot_id.get(..8).unwrap_or(&r.snapshot_id)) } " on " (r.target) }
            dt { "Holds" } dd { (if r.source.is_empty() { "-" } else { r.source.as_str() }) }
            dt { "Into" } dd { (into) @if r.mode == RestoreMode::Clone { " (new instance)" } }
            dt { "Queued (UTC)" } dd { (r.created_at) }
            dt { "Downloaded (UTC)" } dd { (r.finished_at.as_deref().unwrap_or("not yet")) }
            dt { "Local restore" } dd { @match &p.local {
                Some(l) => { (l.id) " " (status_badge(l.status.as_str())) }
                None => { span.muted { "not yet" } }
            } }
        } }
        @if !p.stage.is_finished() {
            p.muted { "This page reloads itself until the restore finishes." }
        }
        div.actions {
            @if p.into.is_some() { a href=(history_url(r.instance_id)) { "Backups of " (into) } }
            @if !client.is_empty() && p.into.is_some() { a href={ "/clients/" (seg(client)) } { "Back to " (client) } }
        }
    };
    page(&title, Nav::Clients, chrome, body)
}

/// A target's recent copies and restores.
pub fn target(
    chrome: &Chrome,
    name: &str,
    copies: &[CopyRow],
    restores: &[OffsiteRestoreRow],
) -> Markup {
    let title = format!("Offsite target {name}");
    let body = html! {
        h1 { (title) }
        h2 { "Recent copies" }
        @if copies.is_empty() { div.empty { p { "No copies yet." } } } @else {
            div.table-wrap { table { thead { tr { th { "Copy" } th { "Of" } th { "Status" } th { "Snapshot" } th { "Added" } th { "Finished (UTC)" } } }
                tbody { @for c in copies { tr {
                    td { (c.id) }
                    td { @if c.instance_name.is_empty() { "berth state" } @else { (c.client_slug) "/" (c.instance_name) } }
                    td { (status_badge(c.status.as_str())) @if !c.message.is_empty() { div.muted { (c.message) } } }
                    td { code { (c.snapshot_id.as_deref().and_then(|s| s.get(..8)).unwrap_or("-")) } }
                    td { (c.bytes_added.map(size).unwrap_or_else(|| "-".into())) }
                    td { (c.finished_at.as_deref().unwrap_or("-")) }
                } } }
            } }
        }
        h2 { "Recent restores" }
        @if restores.is_empty() { div.empty { p { "No restores from this target yet." } } } @else {
            div.table-wrap { table { thead { tr { th { "Restore" } th { "Holds" } th { "Status" } th { "Queued (UTC)" } } }
                tbody { @for r in restores { tr {
                    td { a href={ "/offsite-restores/" (r.id) } { (r.id) } }
                    td { (r.source) @if r.mode == RestoreMode::Clone { " (as a new instance)" } }
                    td { (status_badge(r.status.as_str())) }
                    td { (r.created_at) }
                } } }
            } }
        }
    };
    page(&title, Nav::Dashboard, chrome, body)
}
