//! LLM keys in the admin UI and the portal: a client's key (status,
//! budget, spend, rotate, budget override), the spend-vs-budget chart of
//! the usage pages, and the dashboard's spenders and credits. Never the
//! key itself: views get only its label and OpenRouter-style hint.

use maud::{html, Markup};

use super::charts::{chart, Chart, Limit, Series, Unit, BLUE_};
use super::components::{action_button, csrf_field, seg};
use crate::domain::llm::LlmBudget;
use crate::domain::SpendWarning;
use crate::ops::{LlmKeyView, LlmOverview, LlmUsage};

pub fn usd(v: f64) -> String {
    format!("{v:.2} USD")
}

pub fn budget_text(b: &LlmBudget) -> String {
    match (b.limit_usd, b.limit_reset) {
        (None, _) => "no limit".into(),
        (Some(l), Some(r)) => format!("{} {}", usd(l), r.as_str()),
        (Some(l), None) => format!("{} for the key's lifetime", usd(l)),
    }
}

pub fn warning_badge(w: Option<SpendWarning>) -> Markup {
    html! {
        @match w {
            Some(SpendWarning::LimitReached) => span.badge.status-failed data-llm-warning="limit_reached" { "at its limit" },
            Some(SpendWarning::NearLimit) => span.badge.status-queued data-llm-warning="near_limit" { "over 80 % of its limit" },
            None => "",
        }
    }
}

/// The "LLM key" section of a client's page.
pub fn client_section(csrf: &str, v: &LlmKeyView) -> Markup {
    let base = format!("/clients/{}/llm", seg(&v.client));
    let spent = v
        .limit_remaining_usd
        .zip(v.budget.limit_usd)
        .map(|(left, limit)| limit - left)
        .or(v.usage_monthly_usd)
        .or(v.usage_usd);
    html! {
        h2 id="llm" { "LLM key" }
        div.card { dl.facts {
            dt { "Status" } dd {
                (v.status.map_or("none yet", |s| s.as_str())) " "
                span.muted { "(" (v.sync) ")" }
                @if v.rotating { " " span.badge { "rotating" } }
            }
            dt { "Key" } dd {
                (v.label.as_deref().unwrap_or("-"))
                @if let Some(h) = &v.key_hint { " " code { (h) } }
            }
            dt { "Budget" } dd { (budget_text(&v.budget)) " " span.muted { "(" (v.budget_source) ")" } }
            dt { "Spent this period" } dd {
                (spent.map_or("not polled yet".into(), usd)) " " (warning_badge(v.warning))
            }
            dt { "Last polled (UTC)" } dd { (v.polled_at.as_deref().unwrap_or("never")) }
            @if let Some(e) = &v.error {
                dt { "Last error" } dd { (e) @if let Some(at) = &v.retry_at { " " span.muted { "(retry at " (at) ")" } } }
            }
        } }
        @if v.provider.is_some() && v.sync != "off" {
            div.actions {
                (action_button(&format!("{base}/rotate"), "Rotate key", csrf, "secondary"))
                a href={ "/usage/clients/" (seg(&v.client)) } { "Spend chart" }
            }
        }
        form method="post" action={ (base) "/budget" } {
            (csrf_field(csrf))
            fieldset {
                legend { "Budget override" }
                label { "Limit (USD)" input type="number" name="limit_usd" min="0" step="0.01" value=[v.budget.limit_usd]; }
                label { "Resets"
                    select name="limit_reset" {
                        @for r in ["monthly", "weekly", "daily", "none"] {
                            option value=(r) selected[v.budget.limit_reset.map_or("none", |x| x.as_str()) == r] { (r) }
                        }
                    }
                }
                label { input type="checkbox" name="use_plan" value="true"; " Use the plan's budget" }
                button.secondary type="submit" { "Save budget" }
            }
        }
    }
}

/// Spent against budget over a usage range, as text and a chart.
pub fn spend_chart(llm: &LlmUsage, from: i64, to: i64) -> Markup {
    let points: Vec<(i64, f64)> = llm
        .spend
        .iter()
        .filter_map(|p| {
            let t =
                time::OffsetDateTime::parse(&p.at, &time::format_description::well_known::Rfc3339)
                    .ok()?;
            Some((
                t.unix_timestamp(),
                p.usage_monthly_usd.unwrap_or(p.usage_usd),
            ))
        })
        .collect();
    let limit = llm.budget.limit_usd.map(|l| format!("budget {}", usd(l)));
    html! {
        h2 { "LLM spend" }
        p data-llm-spend {
            "Spent this period: " (llm.spent_usd.map_or("not polled yet".into(), usd))
            " of " (budget_text(&llm.budget)) " " (warning_badge(llm.warning))
        }
        div.charts {
            (chart(&Chart { title: "LLM spend this period (USD)", unit: Unit::Usd, from, to,
                series: vec![Series { label: "spent", color: BLUE_, points, area: true }],
                limits: limit.as_deref().map(|l| Limit { label: l, value: llm.budget.limit_usd.unwrap_or(0.0) }).into_iter().collect() }))
        }
    }
}

/// The dashboard's LLM section: credits left, keys near or over their
/// limit, the top spenders.
pub fn dashboard_section(o: &LlmOverview) -> Markup {
    html! {
        h2 id="llm" { "LLM spend" }
        div.grid {
            div.card {
                div.muted { "Provider credits left" }
                div.stat data-llm-credits { (o.credits_left.map_or("-".into(), usd)) }
                div.muted { @if o.account.last_error.is_empty() { "polled " (o.account.polled_at.as_deref().unwrap_or("never")) } @else { (o.account.last_error) } }
            }
            div.card { div.muted { "Spent this month" } div.stat { (usd(o.spend_usd)) } div.muted { (o.failing) " keys failing" } }
            div.card { div.muted { "Keys near or at their limit" } div.stat { (o.near_limit.len()) } }
        }
        @if !o.near_limit.is_empty() {
            div.table-wrap { table data-llm-near {
                thead { tr { th { "Client" } th.num { "Spent" } th.num { "Limit" } th { "" } } }
                tbody { @for s in &o.near_limit { tr.warn {
                    td { a href={ "/clients/" (seg(&s.client)) "#llm" } { (s.client) } }
                    td.num { (usd(s.usage_monthly_usd)) } td.num { (s.limit_usd.map_or("-".into(), usd)) }
                    td { (warning_badge(s.warning)) }
                } } }
            } }
        }
        @if !o.top.is_empty() {
            h3 { "Top spenders this month" }
            div.table-wrap { table data-llm-top {
                thead { tr { th { "Client" } th.num { "Spent" } th.num { "Limit" } } }
                tbody { @for s in &o.top { tr {
                    td { a href={ "/usage/clients/" (seg(&s.client)) } { (s.client) } }
                    td.num { (usd(s.usage_monthly_usd)) } td.num { (s.limit_usd.map_or("-".into(), usd)) }
                } } }
            } }
        }
    }
}
