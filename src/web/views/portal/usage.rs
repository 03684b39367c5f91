//! The portal's usage page: the admin usage charts of each of the client's
//! instances, each against its plan's limits.

use maud::{html, Markup};

use super::instances::instance_url;
use crate::ops::ClientUsage;
use crate::web::views::charts::bytes;
use crate::web::views::components::empty;
use crate::web::views::usage::{instance_charts_at, ranges};

pub fn usage(u: &ClientUsage) -> Markup {
    html! {
        h1 { "Usage" }
        (ranges("/portal/usage", u.range))
        @for w in &u.warnings {
            p.badge.over { "Instance " (w.instance) " uses " (bytes(w.used as f64)) " of its " (bytes(w.quota as f64)) " storage quota." }
        }
        @if let Some(llm) = &u.llm { (crate::web::views::llm::spend_chart(llm, u.from, u.to)) }
        @for i in &u.instances { (instance_charts_at(i, u.range, &instance_url(&i.name))) }
        @if u.instances.is_empty() { (empty("You have no instances yet.", None)) }
    }
}
