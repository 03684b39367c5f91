//! The portal's activity page: the audit entries about the client, newest
//! first, a page at a time.

use maud::{html, Markup};

use crate::ops::ActivityPage;
use crate::web::views::components::empty;

pub fn activity(p: &ActivityPage) -> Markup {
    html! {
        h1 { "Activity" }
        p.muted { "What was done to your instances and account, by you, your colleagues, your provider and berth itself." }
        @if p.entries.is_empty() {
            (empty("Nothing recorded yet.", None))
        } @else {
            div.table-wrap { table {
                thead { tr { th { "When (UTC)" } th { "Who" } th { "What" } th { "On" } th.optional { "From" } } }
                tbody { @for e in &p.entries { tr {
                    td { (e.at) }
                    td { (e.who) }
                    td { (e.action) }
                    td { (e.target) }
                    td.optional { (e.ip.as_deref().unwrap_or("-")) }
                } } }
            } }
        }
        p.actions {
            @if let Some(before) = p.older { a href={ "/portal/activity?before=" (before) } { "Older entries →" } }
        }
    }
}
