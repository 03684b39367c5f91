//! The portal's requests page: the request form for an owner (or why no
//! request fits the plan right now) and the client's requests with a
//! status that status.js keeps current.

use maud::{html, Markup};

use super::{page, PortalChrome};
use crate::ops::{PortalRequest, RequestOptions};
use crate::web::views::components::{csrf_field, empty};
use crate::web::views::requests::request_badge;

fn form(csrf: &str, o: &RequestOptions) -> Markup {
    let limit = match o.max_instances {
        Some(max) => format!(
            "Your plan {} allows {max} instance(s): you have {}",
            o.plan, o.instances
        ),
        None => format!(
            "Your plan {} has no instance limit; you have {}",
            o.plan, o.instances
        ),
    };
    let waiting = match o.pending {
        0 => String::new(),
        n => format!(" and {n} request(s) waiting"),
    };
    html! {
        h2 { "Request a new instance" }
        p.muted { (limit) (waiting) "." }
        @if let Some(why) = &o.refusal {
            div.flash.flash-error role="status" id="request-refused" { (why) }
        } @else {
            p.muted {
                @if o.auto { "It is created right away." } @else { "Your provider approves it first; you see its status below." }
            }
            form.toolbar method="post" action="/portal/requests" {
                (csrf_field(csrf))
                label { "Name" span.hint { "a-z, 0-9 and -" }
                    input type="text" name="name" required maxlength="20" pattern="[a-z0-9-]+"; }
                label { "App"
                    select name="blueprint" {
                        @for (name, about) in &o.blueprints {
                            option value=(name) { (name) @if !about.is_empty() { " — " (about) } }
                        }
                    }
                }
                button type="submit" { "Request" }
            }
        }
    }
}

pub fn list(
    chrome: &PortalChrome,
    requests: &[PortalRequest],
    options: Option<&RequestOptions>,
) -> Markup {
    let csrf = chrome
        .who
        .as_ref()
        .map(|w| w.csrf.as_str())
        .unwrap_or_default();
    page(
        "Requests",
        chrome,
        html! {
            h1 { "Instance requests" }
            @if let Some(o) = options { (form(csrf, o)) }
            h2 { "Your requests" }
            @if requests.is_empty() {
                (empty("No instance was requested yet.", None))
            } @else {
                div.table-wrap data-requests-url="/portal/requests/status" { table id="requests" {
                    thead { tr { th { "Instance" } th.optional { "App" } th.optional { "Asked by" } th.optional { "Asked (UTC)" } th { "Status" } } }
                    tbody { @for r in requests { tr data-request=(r.id) {
                        td { (r.instance_name) }
                        td.optional { (r.blueprint) }
                        td.optional { (r.requested_by) }
                        td.optional { (r.created_at) }
                        td { (request_badge(r.status)) div.muted data-why { (r.why) } }
                    } } }
                } }
            }
        },
    )
}
