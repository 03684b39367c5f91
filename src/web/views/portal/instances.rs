//! The portal's home (the client's instances and plan) and one instance's
//! page (status, address, actions, recent logs).

use maud::{html, Markup};

use crate::config::Config;
use crate::domain::DesiredState;
use crate::ops::{LogTail, PortalHome, PortalInstance, PortalPlan, LOG_LINES};
use crate::web::views::clients::domain_url;
use crate::web::views::components::{action_button, empty, phase_badge, seg, size};

/// Where an instance's page is.
pub fn instance_url(name: &str) -> String {
    format!("/portal/instances/{}", seg(name))
}

fn limits(cpus: f64, memory: u64, storage: Option<u64>) -> String {
    let storage = storage.map_or("no storage quota".to_owned(), |s| {
        format!("{} storage", size(s))
    });
    format!("{cpus} CPU, {} memory, {storage}", size(memory))
}

fn plan_box(plan: &PortalPlan, count: usize) -> Markup {
    html! {
        section.plan {
            h2 { "Your plan: " (plan.name) }
            p { "Each instance: " (limits(plan.cpus, plan.memory, plan.storage)) "." }
            p {
                @match plan.max_instances {
                    Some(max) => { (count) " of " (max) " instance(s) in use." }
                    None => { (count) " instance(s); the plan sets no maximum." }
                }
            }
        }
    }
}

fn actions(i: &PortalInstance, csrf: &str) -> Markup {
    let base = instance_url(&i.name);
    html! {
        div.actions {
            @if i.desired == DesiredState::Stopped {
                (action_button(&format!("{base}/start"), "Start", csrf, "secondary"))
            } @else {
                (action_button(&format!("{base}/stop"), "Stop", csrf, "secondary"))
                (action_button(&format!("{base}/restart"), "Restart", csrf, "secondary"))
            }
        }
    }
}

fn addresses(config: &Config, i: &PortalInstance) -> Markup {
    html! { @for d in &i.domains { a href=(domain_url(config, d)) rel="noopener" { (d) } br; } }
}

/// The home page's body: the live instance list (the status script keeps
/// the phases current), the plan, and for an owner the GDPR export.
pub fn home(config: &Config, csrf: &str, h: &PortalHome, owner: bool) -> Markup {
    html! {
        h1 { "Instances of " (h.client_name) }
        @if h.instances.is_empty() {
            (empty("You have no instances yet.", None))
        } @else {
            div.table-wrap data-status-url="/portal/status" { table {
                thead { tr { th { "Instance" } th { "Status" } th { "Address" } th { "Actions" } } }
                tbody { @for i in &h.instances { tr data-instance=(i.id) {
                    td { a href=(instance_url(&i.name)) { (i.name) } div.muted { (i.blueprint) } }
                    td { (phase_badge(i.phase)) div.muted data-message { (i.message) } }
                    td { (addresses(config, i)) }
                    td { (actions(i, csrf)) }
                } } }
            } }
        }
        (plan_box(&h.plan, h.instances.len()))
        @if owner {
            p { a href="/portal/export" download { "Download all data we hold about you (JSON)" } }
        }
    }
}

/// One instance's page body.
/// `has_admin`: berth made the app's admin account (the owner may see its password once).
pub fn instance(
    config: &Config,
    csrf: &str,
    i: &PortalInstance,
    logs: &LogTail,
    has_admin: bool,
) -> Markup {
    html! {
        h1 { "Instance " (i.name) }
        div.table-wrap data-status-url="/portal/status" { table {
            tbody {
                tr data-instance=(i.id) {
                    th { "Status" }
                    td {
                        (phase_badge(i.phase))
                        @if i.restarting { " " span.muted { "restart requested" } }
                        div.muted data-message { (i.message) }
                    }
                }
                tr { th { "Address" } td { (addresses(config, i)) } }
                tr { th { "App" } td { (i.blueprint) } }
                tr { th { "Limits" } td { (limits(i.cpus, i.memory, i.storage)) } }
                tr { th { "Created (UTC)" } td { (i.created_at) } }
            }
        } }
        (actions(i, csrf))
        p.actions {
            a href="/portal/usage" { "Usage" }
            a href="/portal/backups" { "Backups" }
            @if has_admin { a href={ (instance_url(&i.name)) "/admin" } { "Admin account" } }
        }
        h2 { "Recent output" }
        p.muted { "The last " (LOG_LINES) " lines the app wrote, oldest first; reload for newer ones." }
        @if let Some(note) = &logs.note { p.muted { (note) } }
        @if !logs.lines.is_empty() {
            pre.logs { @for l in &logs.lines { (l) "\n" } }
        }
    }
}
