//! The audit log: filters (actor, client, action, dates), CSV and JSON export.

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;
use maud::{html, Markup};
use serde::Deserialize;

use super::PageResult;
use crate::domain::DomainError;
use crate::ops::OpsError;
use crate::store::{AuditEntry, AuditFilter};
use crate::web::routes::{Access, Route};
use crate::web::session::Ui;
use crate::web::views::components::empty;
use crate::web::views::layout::Nav;
use crate::web::AppState;

const PAGE_LIMIT: u32 = 200;
const EXPORT_LIMIT: u32 = 100_000;

pub fn routes() -> Vec<Route> {
    vec![
        Route::get("/audit", Access::Session, page),
        Route::get("/audit/export", Access::Session, export),
    ]
}

#[derive(Debug, Default, Deserialize)]
pub struct AuditQuery {
    #[serde(default)]
    actor: String,
    #[serde(default)]
    client: String,
    #[serde(default)]
    action: String,
    /// YYYY-MM-DD, inclusive, UTC.
    #[serde(default)]
    from: String,
    /// YYYY-MM-DD, inclusive, UTC.
    #[serde(default)]
    to: String,
    #[serde(default)]
    format: String,
}

fn day(field: &'static str, value: &str, offset_days: i64) -> Result<Option<String>, OpsError> {
    if value.trim().is_empty() {
        return Ok(None);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = time::Date::parse(value.trim(), &format)
        .map_err(|_| DomainError::new(field, "must be a date like 2025-01-31"))?;
    // "to" is inclusive, so its bound is the next midnight: none exists after
    // 9999-12-31, the last date `time` knows.
    let date = date
        .checked_add(time::Duration::days(offset_days))
        .ok_or_else(|| DomainError::new(field, "is past the last date berth can handle"))?;
    Ok(Some(format!(
        "{}T00:00:00Z",
        date.format(&format).unwrap_or_default()
    )))
}

impl AuditQuery {
    fn filter(&self, limit: u32) -> Result<AuditFilter, OpsError> {
        let opt = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        Ok(AuditFilter {
            actor: opt(&self.actor),
            client_slug: opt(&self.client),
            action: opt(&self.action),
            since: day("from", &self.from, 0)?,
            until: day("to", &self.to, 1)?,
            limit,
        })
    }

    fn export_url(&self, format: &str) -> String {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("actor", &self.actor),
            ("client", &self.client),
            ("action", &self.action),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if !v.is_empty() {
                s.append_pair(k, v);
            }
        }
        s.append_pair("format", format);
        format!("/audit/export?{}", s.finish())
    }
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

async fn page(State(s): State<AppState>, ui: Ui, Query(q): Query<AuditQuery>) -> PageResult {
    let (entries, error) = match q.filter(PAGE_LIMIT) {
        Ok(f) => (s.ops.query_audit(f).await?, None),
        Err(OpsError::Invalid(d)) => (Vec::new(), Some(d.to_string())),
        Err(e) => return Err(e.into()),
    };
    let invalid = error.is_some();
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
        @if let Some(e) = &error { div.flash.flash-error role="alert" { (e) } }
        p.actions {
            span.muted { "Export these entries:" }
            a href=(q.export_url("csv")) { "CSV" }
            a href=(q.export_url("json")) { "JSON" }
        }
        @if entries.is_empty() {
            (empty("No audit entries match these filters.", None))
        } @else {
            @if entries.len() as u32 == PAGE_LIMIT { p.muted { "Showing the newest " (PAGE_LIMIT) "; narrow the filters or export to see all." } }
            (entries_table(&entries))
        }
    };
    // A bad filter still shows the page (to fix the filter), as a 422.
    let status = if invalid {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    Ok((status, ui.page("Audit log", Nav::Audit, body).await).into_response())
}

async fn export(State(s): State<AppState>, Query(q): Query<AuditQuery>) -> PageResult {
    let entries = s.ops.query_audit(q.filter(EXPORT_LIMIT)?).await?;
    if q.format == "json" {
        let disposition = [(
            header::CONTENT_DISPOSITION,
            "attachment; filename=\"berth-audit.json\"",
        )];
        return Ok((disposition, Json(entries)).into_response());
    }
    let mut out = String::from("id,at,actor,action,target,client,ip,details\r\n");
    for e in &entries {
        let cells = [
            e.id.to_string(),
            e.at.clone(),
            e.actor.clone(),
            e.action.clone(),
            e.target.clone(),
            e.client_slug.clone().unwrap_or_default(),
            e.ip.clone().unwrap_or_default(),
            e.details.to_string(),
        ];
        let line: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&line.join(","));
        out.push_str("\r\n");
    }
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"berth-audit.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}

/// RFC 4180 quoting; a leading =, +, - or @ gets a quote mark so a
/// spreadsheet never runs a client name as a formula.
fn csv_cell(value: &str) -> String {
    let guarded = if value.starts_with(['=', '+', '-', '@']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    format!("\"{}\"", guarded.replace('"', "\"\""))
}

#[cfg(test)]
mod tests {
    #[test]
    fn csv_cells_are_quoted_and_defused() {
        assert_eq!(super::csv_cell("a\"b"), "\"a\"\"b\"");
        assert_eq!(super::csv_cell("=1+1"), "\"'=1+1\"");
    }

    #[test]
    fn dates_become_utc_bounds() {
        assert_eq!(
            super::day("to", "2025-01-31", 1).unwrap().unwrap(),
            "2025-02-01T00:00:00Z"
        );
        assert!(super::day("from", "yesterday", 0).is_err());
        assert!(super::day("from", "", 0).unwrap().is_none());
    }
}
