//! Clients list (search, sort, pages), client detail with live instance
//! status, and the JSON the status script polls.

use std::cmp::Ordering;

use axum::extract::{Path, Query, State};
use axum::response::IntoResponse;
use axum::Json;
use serde::Serialize;

use crate::domain::{ClientStatus, DesiredState, Phase};
use crate::store::{AuditFilter, ClientRow};
use crate::web::error::WebResult;
use crate::web::forms::ListQuery;
use crate::web::route::{Access, Route};
use crate::web::session::Ui;
use crate::web::state::AppState;
use crate::web::views::clients as view;

const PAGE_SIZE: usize = 100;

pub fn routes() -> Vec<Route> {
    const S: Access = Access::Session;
    vec![
        Route::get("/clients", S, list),
        Route::get("/clients/{slug}", S, detail),
        Route::get("/clients/{slug}/status", S, status),
    ]
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

async fn list(State(s): State<AppState>, ui: Ui, Query(q): Query<ListQuery>) -> WebResult {
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
    let list = view::ClientList {
        query: &q,
        sort,
        desc,
        total,
        matched,
        page,
        pages,
        shown,
    };
    Ok(view::list(&ui.chrome().await, &list).into_response())
}

async fn detail(State(s): State<AppState>, ui: Ui, Path(slug): Path<String>) -> WebResult {
    let found = s.ops.get_client(&slug).await?;
    let audit = s
        .ops
        .query_audit(AuditFilter {
            client_slug: Some(found.client.slug.clone()),
            limit: 20,
            ..Default::default()
        })
        .await?;
    let backups = super::backups::client_section(&s, &ui.csrf, &found.instances).await?;
    let portal_users = s.ops.list_client_users(&found.client.slug).await?;
    let mut users =
        crate::web::views::client_users::section(&ui.csrf, &found.client.slug, &portal_users);
    let llm = s.ops.llm_status(&found.client.slug).await?;
    if llm.provider.is_some() || !llm.keys.is_empty() {
        // After the portal users, before the audit: one more section.
        users = maud::html! { (users) (crate::web::views::llm::client_section(&ui.csrf, &llm)) };
    }
    let ids = found.instances.iter().map(|i| i.id).collect();
    let rollouts = s.ops.instance_rollouts(ids).await?;
    let page = view::detail(
        &ui.chrome().await,
        s.ops.config(),
        &found.client,
        &found.instances,
        backups,
        users,
        &audit,
        &s.ops.blueprints_with_admin(),
        &rollouts,
    );
    Ok(page.into_response())
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
) -> WebResult<Json<Vec<InstanceStatus>>> {
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
