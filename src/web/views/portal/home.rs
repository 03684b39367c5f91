//! The portal's home: the client's instances with their state and address.

use maud::{html, Markup};

use super::{page, PortalChrome};
use crate::config::Config;
use crate::ops::PortalInstance;
use crate::web::views::clients::domain_url;
use crate::web::views::components::{empty, phase_badge, size};

pub fn home(chrome: &PortalChrome, config: &Config, instances: &[PortalInstance]) -> Markup {
    page(
        "Instances",
        chrome,
        html! {
            h1 { "Your instances" }
            @if instances.is_empty() {
                (empty("You have no instances yet.", None))
            } @else {
                div.table-wrap { table {
                    thead { tr { th { "Instance" } th { "Status" } th { "Address" } th.optional { "Limits" } } }
                    tbody { @for i in instances { tr data-instance=(i.id) {
                        td { (i.name) }
                        td { (phase_badge(i.phase)) @if !i.message.is_empty() { div.muted { (i.message) } } }
                        td { @for d in &i.domains { a href=(domain_url(config, d)) rel="noopener" { (d) } br; } }
                        td.optional { (i.cpus) " CPU, " (size(i.memory)) }
                    } } }
                } }
            }
        },
    )
}
