//! The clients list (search, sort, pages) and a client's page with its
//! instances, backups and recent changes.

use std::collections::HashMap;

use maud::{html, Markup};

use super::components::{action_button, empty, phase_badge, seg, size, status_badge};
use super::layout::{page, Chrome, Nav};
use crate::config::Config;
use crate::domain::{ClientStatus, DesiredState};
use crate::ops::InstanceRollout;
use crate::store::{AuditEntry, ClientRow, InstanceRow};
use crate::web::forms::{list_url, ListQuery};

/// One page of the clients list, filtered and sorted by the handler.
pub struct ClientList<'a> {
    pub query: &'a ListQuery,
    /// The sort key in effect ("name" unless the query names another).
    pub sort: &'a str,
    pub desc: bool,
    /// Every client, and those the search matched.
    pub total: usize,
    pub matched: usize,
    pub page: usize,
    pub pages: usize,
    /// This page's rows, each with its one-word health.
    pub shown: &'a [(&'a ClientRow, &'static str)],
}

pub fn list(chrome: &Chrome, l: &ClientList) -> Markup {
    let (q, sort, desc) = (l.query, l.sort, l.desc);
    let header = |key: &str, label: &str, class: Option<&str>| {
        let dir = if sort == key && !desc { "desc" } else { "asc" };
        let arrow = if sort != key {
            ""
        } else if desc {
            " ▼"
        } else {
            " ▲"
        };
        html! { th class=[class] { a href=(list_url(q, key, dir, 0)) { (label) (arrow) } } }
    };
    let body = html! {
        h1 { "Clients" }
        form.toolbar method="get" action="/clients" role="search" {
            label { "Search" input type="search" name="q" value=(q.q) placeholder="name, slug, email, plan"; }
            input type="hidden" name="sort" value=(sort);
            input type="hidden" name="dir" value=(if desc { "desc" } else { "asc" });
            button.secondary type="submit" { "Search" }
            a.button href="/clients/new" { "New client" }
            a href="/deletions" { "Deletions" }
        }
        @if l.total == 0 {
            (empty("No clients yet. A client gets its own container, port and domain.", Some(("/clients/new", "Create the first client"))))
        } @else if l.matched == 0 {
            (empty(&format!("No client matches \u{201c}{}\u{201d}.", q.q), Some(("/clients", "Show all clients"))))
        } @else {
            p.muted { (l.matched) " of " (l.total) " clients" }
            div.table-wrap { table {
                thead { tr {
                    (header("name", "Name", None))
                    (header("plan", "Plan", Some("optional")))
                    (header("instances", "Instances", None))
                    (header("status", "Status", None))
                    (header("created", "Created (UTC)", Some("optional")))
                } }
                tbody { @for (c, h) in l.shown { tr {
                    td { a href={ "/clients/" (seg(&c.slug)) } { (c.name) } div.muted { (c.slug) } }
                    td.optional { (c.plan) }
                    td { (c.instance_count) }
                    td { (status_badge(h)) }
                    td.optional { (c.created_at) }
                } } }
            } }
            @if l.pages > 1 {
                p.actions {
                    @if l.page > 0 { a href=(list_url(q, sort, &q.dir, l.page - 1)) { "← previous" } }
                    span.muted { "page " (l.page + 1) " of " (l.pages) }
                    @if l.page + 1 < l.pages { a href=(list_url(q, sort, &q.dir, l.page + 1)) { "next →" } }
                }
            }
        }
    };
    page("Clients", Nav::Clients, chrome, body)
}

/// Where an instance answers: through Caddy, on its first domain.
pub fn domain_url(config: &Config, domain: &str) -> String {
    match (config.caddy.tls, config.caddy.http_port) {
        (true, _) if config.caddy.https_port == 443 => format!("https://{domain}/"),
        (true, _) => format!("https://{domain}:{}/", config.caddy.https_port),
        (false, 80) => format!("http://{domain}/"),
        (false, port) => format!("http://{domain}:{port}/"),
    }
}

/// "repo:tag · 0123456789ab": what it runs and the image ID it was created
/// from (as `docker images` shortens it), once seen.
pub fn image_line(i: &InstanceRow) -> String {
    match &i.image_id {
        Some(id) => format!(
            "{} · {}",
            i.resolved_image(),
            id.trim_start_matches("sha256:")
                .chars()
                .take(12)
                .collect::<String>()
        ),
        None => i.resolved_image(),
    }
}

/// The registry digest of the image it runs, when berth learnt it.
pub fn digest_line(i: &InstanceRow) -> Option<String> {
    i.image_digest
        .as_deref()
        .map(|d| format!("digest {}", d.rsplit('@').next().unwrap_or(d)))
}

/// `with_admin`: blueprints whose instances have an admin account made by berth.
fn instances_table(
    config: &Config,
    csrf: &str,
    slug: &str,
    list: &[InstanceRow],
    with_admin: &[String],
    rollouts: &HashMap<i64, InstanceRollout>,
) -> Markup {
    let none = InstanceRollout::default();
    html! {
        div.table-wrap data-status-url={ "/clients/" (seg(slug)) "/status" } { table {
            thead { tr { th { "Instance" } th { "Phase" } th { "Domain" } th.optional { "Port" } th.optional { "Limits" } th { "Actions" } } }
            tbody { @for i in list { @let r = rollouts.get(&i.id).unwrap_or(&none); tr data-instance=(i.id) {
                td {
                    (i.name) div.muted { (i.blueprint) } div.muted data-image { (image_line(i)) }
                    @if let Some(d) = digest_line(i) { div.muted data-digest { (d) } }
                    @if let Some((id, step)) = r.current {
                        div data-rollout-step { a href={ "/rollouts/" (id) } { "rollout " (id) } ": " (super::rollouts::step_badge(step)) }
                    }
                }
                td { (phase_badge(i.phase)) div.muted data-message { (i.message) } }
                td { @for d in &i.domains { a href=(domain_url(config, d)) rel="noopener" { (d) } br; } }
                td.optional { (i.host_port) }
                td.optional { (i.cpus) " CPU, " (size(i.memory)) }
                td { div.actions {
                    @if i.desired == DesiredState::Stopped {
                        (action_button(&format!("/instances/{}/start", i.id), "Start", csrf, "secondary"))
                    } @else {
                        (action_button(&format!("/instances/{}/stop", i.id), "Stop", csrf, "secondary"))
                        (action_button(&format!("/instances/{}/restart", i.id), "Restart", csrf, "secondary"))
                    }
                    a href={ "/instances/" (i.id) "/backups" } { "Backups" }
                    @if with_admin.contains(&i.blueprint) {
                        a href={ "/instances/" (i.id) "/admin" } { "Admin account" }
                    }
                    a href={ "/instances/" (i.id) "/logs" } { "Logs" }
                    @if let Some(to) = &r.rollback_to {
                        a href={ "/instances/" (i.id) "/rollback" } data-rollback { "Roll back to " (to) "…" }
                    }
                    a href={ "/instances/" (i.id) "/remove" } { "Remove…" }
                } }
            } } }
        } }
    }
}

/// A client's page; `backups` and `users` (its portal users) are its
/// sections, already rendered; `with_admin` names the blueprints whose
/// instances link to their admin account.
// Each argument is one thing the page shows; a struct of them would only
// rename the list.
#[allow(clippy::too_many_arguments)]
pub fn detail(
    chrome: &Chrome,
    config: &Config,
    c: &ClientRow,
    instances: &[InstanceRow],
    backups: Markup,
    users: Markup,
    audit: &[AuditEntry],
    with_admin: &[String],
    rollouts: &HashMap<i64, InstanceRollout>,
) -> Markup {
    let base = format!("/clients/{}", seg(&c.slug));
    let csrf = chrome.csrf.as_str();
    let body = html! {
        h1 { (c.name) " " (status_badge(c.status.as_str())) }
        div.actions {
            a.button.secondary href={ (base) "/edit" } { "Edit" }
            @if c.status == ClientStatus::Suspended {
                (action_button(&format!("{base}/resume"), "Resume", csrf, ""))
            } @else {
                (action_button(&format!("{base}/suspend"), "Suspend", csrf, "secondary"))
            }
            a.button.secondary href={ (base) "/instances/new" } { "Add instance" }
            a.button.secondary href={ (base) "/export" } download title="GDPR export: everything berth holds about this client, without secrets (JSON)" { "Export data" }
            a href={ (base) "/export.tar" } download title="The export with the newest backup of each instance (tar)" { "Export with archives" }
            a href={ (base) "/delete" } { "Delete client…" }
        }
        div.card { dl.facts {
            dt { "Slug" } dd { (c.slug) }
            dt { "Plan" } dd { (c.plan) }
            dt { "Contact" } dd { (c.email) }
            dt { "Created (UTC)" } dd { (c.created_at) }
            dt { "Notes" } dd { @if c.notes.is_empty() { span.muted { "none" } } @else { (c.notes) } }
        } }
        h2 { "Instances" }
        @if instances.is_empty() {
            (empty("This client has no instances.", Some((&format!("{base}/instances/new"), "Add an instance"))))
        } @else {
            (instances_table(config, csrf, &c.slug, instances, with_admin, rollouts))
            p.muted { "Phases update by themselves while this page is open. " a href=(base) { "Refresh" } }
            h2 { "Backups" }
            (backups)
        }
        (users)
        h2 { "Recent changes" }
        @if audit.is_empty() { p.muted { "No audit entries for this client." } } @else {
            (super::audit::entries_table(audit))
            p { a href={ "/audit?client=" (seg(&c.slug)) } { "Full audit log for this client" } }
        }
    };
    page(&c.name, Nav::Clients, chrome, body)
}
