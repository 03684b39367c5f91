//! The audit log: filters (actor, client, action, dates), CSV and JSON export.

use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use axum::Json;

use crate::ops::OpsError;
use crate::web::error::WebResult;
use crate::web::forms::AuditQuery;
use crate::web::route::{Access, Route};
use crate::web::session::Ui;
use crate::web::state::AppState;
use crate::web::views::audit as view;

const PAGE_LIMIT: u32 = 200;
const EXPORT_LIMIT: u32 = 100_000;

pub fn routes() -> Vec<Route> {
    vec![
        Route::get("/audit", Access::Session, page),
        Route::get("/audit/export", Access::Session, export),
    ]
}

async fn page(State(s): State<AppState>, ui: Ui, Query(q): Query<AuditQuery>) -> WebResult {
    let (entries, error) = match q.filter(PAGE_LIMIT) {
        Ok(f) => (s.ops.query_audit(f).await?, None),
        Err(OpsError::Invalid(d)) => (Vec::new(), Some(d.to_string())),
        Err(e) => return Err(e.into()),
    };
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let page = view::page(
        &ui.chrome().await,
        &q,
        &entries,
        error.as_deref(),
        PAGE_LIMIT,
    );
    // A bad filter still shows the page (to fix the filter), as a 422.
    Ok((status, page).into_response())
}

async fn export(State(s): State<AppState>, Query(q): Query<AuditQuery>) -> WebResult {
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
}
