//! Clients list (search, sort, pages), client detail with live instance
//! status, and the JSON the status script polls.

use std::cmp::Ordering;

use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::Json;
use maud::{html, Markup};
use serde::{Deserialize, Serialize};

use super::{seg, PageResult};
use crate::config::Config;
use crate::domain::{ClientStatus, DesiredState, Phase};
use crate::store::{AuditFilter, ClientRow, InstanceRow};
use crate::web::routes::{Access, Route};
use crate::web::session::Ui;
use crate::web::views::components::{action_button, empty, phase_badge, size, status_badge};
use crate::web::views::layout::Nav;
use crate::web::AppState;

const PAGE_SIZE: usize = 100;

pub fn routes() -> Vec<Route> {
    const S: Access = Access::Session;
    let mut r = vec![
        Route::get("/clients", S, list),
        Route::get("/clients/{slug}", S, detail),
        Route::get("/clients/{slug}/status", S, status),
    ];
    r.extend(super::client_forms::routes());
    r
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    sort: String,
    #[serde(default)]
    dir: String,
    #[serde(default)]
    page: usize,
}

/// One word for a client's state: suspended, the worst instance phase, or running.
pub fn health(client: &ClientRow, phases: &[Phase]) -> &'static str {
    if client.status == ClientStatus::Suspended {
        return ClientStatus::Suspended.as_str();
    }
    const WORST_FIRST: &[Phase] = &[
        Phase::Error,
        Phase::Unhealthy,
        Phase::Pulling,
        Phase::Creating,
        Phase::Starting,
        Phase::Pending,
        Phase::Stopped,
    ];
    for p in WORST_FIRST {
        if phases.contains(p) {
            return p.as_str();
        }
    }
    if phases.is_empty() {
        "no instances"
    } else {
        "running"
    }
}

/// Rows arrive sorted by name (case-insensitive), then slug, from the store.
fn sort_rows(rows: &mut [(&ClientRow, &'static str)], sort: &str, desc: bool) {
    if sort == "name" {
        if desc {
            rows.reverse();
        }
        return;
    }
    let key = |a: &(&ClientRow, &'static str), b: &(&ClientRow, &'static str)| -> Ordering {
        match sort {
            "plan" => a.0.plan.cmp(&b.0.plan),
            "instances" => a.0.instance_count.cmp(&b.0.instance_count),
            "status" => a.1.cmp(b.1),
            "created" => a.0.created_at.cmp(&b.0.created_at),
            _ => Ordering::Equal,
        }
    };
    // Stable: ties keep the store's name order.
    rows.sort_by(|a, b| if desc { key(b, a) } else { key(a, b) });
}

fn list_url(q: &ListQuery, sort: &str, dir: &str, page: usize) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    if !q.q.is_empty() {
        s.append_pair("q", &q.q);
    }
    s.append_pair("sort", sort).append_pair("dir", dir);
    if page > 0 {
        s.append_pair("page", &page.to_string());
    }
    format!("/clients?{}", s.finish())
}

async fn list(State(s): State<AppState>, ui: Ui, Query(q): Query<ListQuery>) -> PageResult {
    let (clients, phases) = tokio::try_join!(s.ops.clients_snapshot(), s.ops.client_phases())?;
    let total = clients.len();
    let needle = q.q.trim().to_lowercase();
    let mut rows: Vec<(&ClientRow, &'static str)> = clients
        .iter()
        .filter(|c| {
            needle.is_empty()
                || c.name.to_lowercase().contains(&needle)
                || c.slug.contains(&needle)
                || c.email.to_lowercase().contains(&needle)
                || c.plan.to_lowercase().contains(&needle)
        })
        .map(|c| {
            let h = health(c, phases.get(&c.id).map(Vec::as_slice).unwrap_or(&[]));
            (c, h)
        })
        .collect();
    let sort = match q.sort.as_str() {
        "plan" | "instances" | "status" | "created" => q.sort.as_str(),
        _ => "name",
    };
    let desc = q.dir == "desc";
    sort_rows(&mut rows, sort, desc);
    let matched = rows.len();
    let pages = matched.div_ceil(PAGE_SIZE).max(1);
    let page = q.page.min(pages - 1);
    let shown = &rows[(page * PAGE_SIZE).min(matched)..((page + 1) * PAGE_SIZE).min(matched)];
    let header = |key: &str, label: &str, class: Option<&str>| {
        let dir = if sort == key && !desc { "desc" } else { "asc" };
        let arrow = if sort != key {
            ""
        } else if desc {
            " ▼"
        } else {
            " ▲"
        };
        html! { th class=[class] { a href=(list_url(&q, key, dir, 0)) { (label) (arrow) } } }
    };
    let body = html! {
        h1 { "Clients" }
        form.toolbar method="get" action="/clients" role="search" {
            label { "Search" input type="search" name="q" value=(q.q) placeholder="name, slug, email, plan"; }
            input type="hidden" name="sort" value=(sort);
            input type="hidden" name="dir" value=(if desc { "desc" } else { "asc" });
            button.secondary type="submit" { "Search" }
            a.button href="/clients/new" { "New client" }
        }
        @if total == 0 {
            (empty("No clients yet. A client gets its own container, port and domain.", Some(("/clients/new", "Create the first client"))))
        } @else if matched == 0 {
            (empty(&format!("No client matches \u{201c}{}\u{201d}.", q.q), Some(("/clients", "Show all clients"))))
        } @else {
            p.muted { (matched) " of " (total) " clients" }
            div.table-wrap { table {
                thead { tr {
                    (header("name", "Name", None))
                    (header("plan", "Plan", Some("optional")))
                    (header("instances", "Instances", None))
                    (header("status", "Status", None))
                    (header("created", "Created (UTC)", Some("optional")))
                } }
                tbody { @for (c, h) in shown { tr {
                    td { a href={ "/clients/" (seg(&c.slug)) } { (c.name) } div.muted { (c.slug) } }
                    td.optional { (c.plan) }
                    td { (c.instance_count) }
                    td { (status_badge(h)) }
                    td.optional { (c.created_at) }
                } } }
            } }
            @if pages > 1 {
                p.actions {
                    @if page > 0 { a href=(list_url(&q, sort, &q.dir, page - 1)) { "← previous" } }
                    span.muted { "page " (page + 1) " of " (pages) }
                    @if page + 1 < pages { a href=(list_url(&q, sort, &q.dir, page + 1)) { "next →" } }
                }
            }
        }
    };
    Ok(ui.page("Clients", Nav::Clients, body).await.into_response())
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

fn instances_table(s: &AppState, ui: &Ui, slug: &str, list: &[InstanceRow]) -> Markup {
    html! {
        div.table-wrap data-status-url={ "/clients/" (seg(slug)) "/status" } { table {
            thead { tr { th { "Instance" } th { "Phase" } th { "Domain" } th.optional { "Port" } th.optional { "Limits" } th { "Actions" } } }
            tbody { @for i in list { tr data-instance=(i.id) {
                td { (i.name) div.muted { (i.blueprint) } }
                td { (phase_badge(i.phase)) div.muted data-message { (i.message) } }
                td { @for d in &i.domains { a href=(domain_url(s.ops.config(), d)) rel="noopener" { (d) } br; } }
                td.optional { (i.host_port) }
                td.optional { (i.cpus) " CPU, " (size(i.memory)) }
                td { div.actions {
                    @if i.desired == DesiredState::Stopped {
                        (action_button(&format!("/instances/{}/start", i.id), "Start", &ui.csrf, "secondary"))
                    } @else {
                        (action_button(&format!("/instances/{}/stop", i.id), "Stop", &ui.csrf, "secondary"))
                        (action_button(&format!("/instances/{}/restart", i.id), "Restart", &ui.csrf, "secondary"))
                    }
                    a href={ "/instances/" (i.id) "/backups" } { "Backups" }
                    a href={ "/instances/" (i.id) "/remove" } { "Remove…" }
                } }
            } } }
        } }
    }
}

async fn detail(State(s): State<AppState>, ui: Ui, Path(slug): Path<String>) -> PageResult {
    let view = s.ops.get_client(&slug).await?;
    let audit = s
        .ops
        .query_audit(AuditFilter {
            client_slug: Some(view.client.slug.clone()),
            limit: 20,
            ..Default::default()
        })
        .await?;
    let backups = super::backups::client_section(&s, &ui, &view.instances).await?;
    let c = &view.client;
    let base = format!("/clients/{}", seg(&c.slug));
    let body = html! {
        h1 { (c.name) " " (status_badge(c.status.as_str())) }
        div.actions {
            a.button.secondary href={ (base) "/edit" } { "Edit" }
            @if c.status == ClientStatus::Suspended {
                (action_button(&format!("{base}/resume"), "Resume", &ui.csrf, ""))
            } @else {
                (action_button(&format!("{base}/suspend"), "Suspend", &ui.csrf, "secondary"))
            }
            a.button.secondary href={ (base) "/instances/new" } { "Add instance" }
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
        @if view.instances.is_empty() {
            (empty("This client has no instances.", Some((&format!("{base}/instances/new"), "Add an instance"))))
        } @else {
            (instances_table(&s, &ui, &c.slug, &view.instances))
            p.muted { "Phases update by themselves while this page is open. " a href=(base) { "Refresh" } }
            h2 { "Backups" }
            (backups)
        }
        h2 { "Recent changes" }
        @if audit.is_empty() { p.muted { "No audit entries for this client." } } @else {
            (super::audit::entries_table(&audit))
            p { a href={ "/audit?client=" (seg(&c.slug)) } { "Full audit log for this client" } }
        }
    };
    Ok(ui.page(&c.name, Nav::Clients, body).await.into_response())
}

#[derive(Serialize)]
struct InstanceStatus {
    id: i64,
    phase: Phase,
    message: String,
    desired: DesiredState,
    /// Queued and running backups, with bytes done.
    backups: Vec<super::backups::Progress>,
}

async fn status(
    State(s): State<AppState>,
    Path(slug): Path<String>,
) -> PageResult<Json<Vec<InstanceStatus>>> {
    let list = s.ops.list_instances(Some(&slug)).await?;
    let mut out = Vec::with_capacity(list.len());
    for i in list {
        let backups = super::backups::active(&s.ops.list_backups(i.id).await?);
        out.push(InstanceStatus {
            id: i.id,
            phase: i.phase,
            message: i.message,
            desired: i.desired,
            backups,
        });
    }
    Ok(Json(out))
}
