//! Clients' instance requests on the provider's side: the queue waiting for
//! a decision (on the dashboard and atop the requests page) and the list of
//! every request with its status.

use maud::{html, Markup};

use super::components::{csrf_field, empty, seg};
use super::layout::{page, Chrome, Nav};
use crate::domain::RequestStatus;
use crate::store::RequestRow;

pub fn request_badge(status: RequestStatus) -> Markup {
    html! { span class={ "badge request-" (status) } { (status) } }
}

/// The waiting requests with approve and reject (reason) forms. `back` is
/// where the decision returns to: "dashboard" or "requests".
pub fn pending_table(csrf: &str, pending: &[RequestRow], back: &str) -> Markup {
    html! {
        div.table-wrap { table id="pending-requests" {
            thead { tr { th { "Client" } th { "Instance" } th.optional { "App" } th.optional { "Asked by" } th.optional { "When (UTC)" } th { "Decide" } } }
            tbody { @for r in pending { tr id={ "request-" (r.id) } {
                td { a href={ "/clients/" (seg(&r.client_slug)) } { (r.client_name) } }
                td { (r.instance_name) }
                td.optional { (r.blueprint) }
                td.optional { (r.requested_by_label) }
                td.optional { (r.created_at) }
                td { div.actions {
                    form.inline method="post" action={ "/requests/" (r.id) "/approve" } {
                        (csrf_field(csrf))
                        input type="hidden" name="back" value=(back);
                        button type="submit" { "Approve" }
                    }
                    form.inline method="post" action={ "/requests/" (r.id) "/reject" } {
                        (csrf_field(csrf))
                        input type="hidden" name="back" value=(back);
                        input type="text" name="reason" required placeholder="reason (the client reads it)" aria-label={ "Reason for rejecting request " (r.id) };
                        button.secondary type="submit" { "Reject" }
                    }
                } }
            } } }
        } }
    }
}

/// Waiting requests the dashboard shows; the rest are on `/requests`, so a
/// backlog cannot make every dashboard load heavier.
const DASHBOARD_REQUESTS: usize = 10;

/// The dashboard's section: only there when something waits.
pub fn dashboard_section(csrf: &str, pending: &[RequestRow]) -> Markup {
    html! {
        @if !pending.is_empty() {
            h2 { "Instance requests waiting for you (" (pending.len()) ")" }
            (pending_table(csrf, &pending[..pending.len().min(DASHBOARD_REQUESTS)], "dashboard"))
            @if pending.len() > DASHBOARD_REQUESTS {
                p { a href="/requests" { "All " (pending.len()) " waiting requests" } }
            }
        }
    }
}

/// What `/requests` shows: the queue, then every request (or one status).
pub struct RequestsPage<'a> {
    pub pending: &'a [RequestRow],
    pub all: &'a [RequestRow],
    pub status: Option<RequestStatus>,
}

pub fn list(chrome: &Chrome, p: &RequestsPage) -> Markup {
    let body = html! {
        h1 { "Instance requests" }
        p.muted { "Client owners ask for new instances from the portal. A plan with approval \u{201c}auto\u{201d} creates them at once; \u{201c}manual\u{201d} waits here." }
        @if !p.pending.is_empty() {
            h2 { "Waiting for a decision" }
            (pending_table(&chrome.csrf, p.pending, "requests"))
        }
        h2 { "All requests" }
        nav.filters aria-label="Filter by status" {
            a href="/requests" aria-current=[p.status.is_none().then_some("page")] { "all" }
            @for s in RequestStatus::ALL {
                " · "
                a href={ "/requests?status=" (s) } aria-current=[(p.status == Some(*s)).then_some("page")] { (s) }
            }
        }
        @if p.all.is_empty() {
            (empty("No requests here yet.", None))
        } @else {
            div.table-wrap { table id="requests" {
                thead { tr { th { "#" } th { "Client" } th { "Instance" } th.optional { "App" } th.optional { "Asked by" } th { "Status" } th.optional { "Why" } th.optional { "Asked (UTC)" } th.optional { "Decided" } } }
                tbody { @for r in p.all { tr {
                    td { (r.id) }
                    td { a href={ "/clients/" (seg(&r.client_slug)) } { (r.client_name) } }
                    td { (r.instance_name) }
                    td.optional { (r.blueprint) }
                    td.optional { (r.requested_by_label) }
                    td { (request_badge(r.status)) }
                    td.optional { (if r.reason.is_empty() { &r.error } else { &r.reason }) }
                    td.optional { (r.created_at) }
                    td.optional { (r.decided_by.as_deref().unwrap_or("-")) " " (r.decided_at.as_deref().unwrap_or("")) }
                } } }
            } }
        }
    };
    page("Instance requests", Nav::Requests, chrome, body)
}
