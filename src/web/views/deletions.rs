//! Confirmed deletes: one while its job runs, its report once done, and
//! the list of every deletion berth keeps as the provider's record.

use maud::{html, Markup};

use super::components::{empty, size};
use super::layout::{page, Chrome, Nav};
use crate::domain::{DeletionStatus, Disposition};
use crate::ops::{DeletionJob, DeletionReport};

pub fn progress(chrome: &Chrome, job: &DeletionJob) -> Markup {
    let what = if job.client_deleted {
        format!("client {}", job.client_name)
    } else {
        format!("an instance of {}", job.client_name)
    };
    let body = html! {
        @match job.status {
            DeletionStatus::Failed => {
                h1 { "Deleting " (what) " failed" }
                div.flash.flash-error role="alert" { (job.error) }
                p { "The containers are gone and the rows are kept; confirm the delete again to finish it." }
            }
            DeletionStatus::Pending => {
                h1 { "Deleting " (what) "…" }
                p role="status" { "Waiting for the containers, networks and routes to be removed. This page reloads until the report is ready." }
            }
            DeletionStatus::Running | DeletionStatus::Done => {
                h1 { "Deleting " (what) "…" }
                p role="status" { "Removing data and backups. This page reloads until the report is ready." }
            }
        }
        p { a.button href="/clients" { "Back to clients" } }
    };
    page("Deleting", Nav::Clients, chrome, body)
}

/// What a delete removed: every category with its count and size. After an
/// erasure it names the client only by id and pseudonym.
pub fn report(chrome: &Chrome, id: i64, r: &DeletionReport) -> Markup {
    let body = html! {
        @if r.client_deleted {
            h1 { "Deletion " (id) ": client #" (r.client_id) " erased" }
        } @else {
            h1 { "Deletion " (id) ": instance removed from " (r.client_name) }
        }
        div.flash.flash-ok role="status" {
            "Done by " (r.deleted_by) " at " (r.deleted_at) " (UTC). A copy is kept at " code { (r.report_file) } "."
        }
        p { a.button href={ "/deletions/" (id) "/report.json" } download { "Download the report (JSON)" } }
        div.table-wrap { table {
            thead { tr { th { "What" } th { "Done" } th { "Count" } th { "Size" } } }
            tbody { @for c in &r.categories { tr {
                td { (c.name) }
                td { @match c.disposition { Disposition::Erased => "erased", Disposition::Pseudonymised => "pseudonymised", Disposition::Queued => "queued (offsite forget + prune)" } }
                td { (c.count) }
                td { @if let Some(b) = c.bytes { (size(b)) } }
            } } }
        } }
        @if !r.instances.is_empty() {
            h2 { "Instances" }
            ul { @for i in &r.instances {
                li { (i.name) " (#" (i.id) "): " (size(i.data_bytes)) " in " (i.data_files) " files" }
            } }
        }
        @if let Some(p) = &r.subject_proof {
            p.muted { "Subject proof (SHA-256 of salt:slug:email): " code { (p.sha256) } " salt " code { (p.salt) } }
        }
        @if !r.billing_kept.is_empty() {
            p { (r.billing_kept.len()) " month(s) of usage kept without names for the provider's books (in the JSON report)." }
        }
        p { a.button href="/deletions" { "All deletions" } " " a.button href="/clients" { "Back to clients" } }
    };
    page("Deletion report", Nav::Clients, chrome, body)
}

pub fn list(chrome: &Chrome, jobs: &[DeletionJob]) -> Markup {
    let body = html! {
        h1 { "Deletions" }
        p.muted { "Every confirmed delete and its report. Erased clients appear by id only." }
        @if jobs.is_empty() {
            (empty("Nothing has been deleted yet.", None))
        } @else {
            div.table-wrap { table {
                thead { tr { th { "#" } th { "What" } th { "Status" } th { "By" } th { "Requested" } } }
                tbody { @for j in jobs { tr {
                    td { a href={ "/deletions/" (j.id) } { (j.id) } }
                    td { @if j.client_deleted { "client #" (j.client_id) } @else { "instance(s) of " (j.client) } }
                    td { (j.status.as_str()) }
                    td { (j.requested_by) }
                    td { (j.created_at) }
                } } }
            } }
        }
    };
    page("Deletions", Nav::Clients, chrome, body)
}
