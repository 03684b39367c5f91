//! The audit log: filters, export links and the entries table (also on a
//! client's page).

use maud::{html, Markup};

use super::components::empty;
use super::layout::{page as layout_page, Chrome, Nav};
use crate::store::AuditEntry;
use crate::web::forms::AuditQuery;

/// `error`: why the filter was not applied; `limit`: the most entries shown.
pub fn page(
    chrome: &Chrome,
    q: &AuditQuery,
    entries: &[AuditEntry],
    error: Option<&str>,
    limit: u32,
) -> Markup {
    let body = html! {
        h1 { "Audit log" }
        form.toolbar method="get" action="/audit" {
            label { "Actor" input name="actor" value=(q.actor) placeholder="user:alice, token:ci, cli"; }
            label { "Client" input name="client" value=(q.client) placeholder="slug"; }
            label { "Action" input name="action" value=(q.action) placeholder="client.create"; }
            label { "From" input type="date" name="from" value=(q.from); }
            label { "To" input type="date" name="to" value=(q.to); }
            button.secondary type="submit" { "Filter" }
            a href="/audit" { "Clear" }
        }
        @if let Some(e) = error { div.flash.flash-error role="alert" { (e) } }
        p.actions {
            span.muted { "Export these entries:" }
            a href=(q.export_url("csv")) { "CSV" }
            a href=(q.export_url("json")) { "JSON" }
        }
        @if entries.is_empty() {
            (empty("No audit entries match these filters.", None))
        } @else {
            @if entries.len() as u32 == limit { p.muted { "Showing the newest " (limit) "; narrow the filters or export to see all." } }
            (entries_table(entries))
        }
    };
    layout_page("Audit log", Nav::Audit, chrome, body)
}

pub fn entries_table(entries: &[AuditEntry]) -> Markup {
    html! {
        div.table-wrap { table {
            thead { tr { th { "When (UTC)" } th { "Actor" } th { "Action" } th { "Target" } th.optional { "From" } th.optional { "Details" } } }
            tbody { @for e in entries { tr {
                td { (e.at) }
                td { (e.actor) }
                td { (e.action) }
                td { (e.target) }
                td.optional { (e.ip.as_deref().unwrap_or("-")) }
                td.optional { code { (details(e)) } }
            } } }
        } }
    }
}

fn details(e: &AuditEntry) -> String {
    let text = e.details.to_string();
    if text == "{}" {
        return String::new();
    }
    match text.char_indices().nth(160) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text,
    }
}
