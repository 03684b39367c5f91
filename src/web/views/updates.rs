//! The updates page: per blueprint, the image and tags berth checks, what
//! the last check found, a "Check now" button, and the instances running an
//! older image ID.

use maud::{html, Markup};

use super::components::{csrf_field, empty, seg};
use super::layout::{page as layout_page, Chrome, Nav};
use crate::ops::{BlueprintImage, CheckView, UpdateReport};

/// Where the rollout branch's "start a rollout" page lives. LEAD: set it to
/// `Some("/rollouts/new")` at merge, once that route is in the table; until
/// then no link is rendered rather than one that answers 404.
const ROLLOUT_PAGE: Option<&str> = Some("/rollouts/new");

pub fn page(chrome: &Chrome, blueprints: &[BlueprintImage], report: &UpdateReport) -> Markup {
    let body = html! {
        h1 { "Updates" }
        p.muted {
            "A check pulls each blueprint's tag (and the tags instances are pinned to) and compares the image ID it resolves to now with the one each instance runs. "
            "It never changes an instance: a rollout does."
        }
        @for b in blueprints {
            section.card data-blueprint=(b.name) {
                h2 { (b.name) " " span.muted { (b.image) } }
                @if b.built_here {
                    p.muted { "Built by berth from the host: there is no registry to check." }
                } @else {
                    (check_form(&chrome.csrf, &b.name))
                    @let checks: Vec<&CheckView> = report.checks.iter().filter(|c| c.blueprint == b.name).collect();
                    @if checks.is_empty() {
                        (empty("Not checked yet.", None))
                    }
                    @for c in checks { (check(c)) }
                }
            }
        }
        @if blueprints.is_empty() { (empty("No blueprints installed.", None)) }
    };
    layout_page("Updates", Nav::Updates, chrome, body)
}

fn check_form(csrf: &str, blueprint: &str) -> Markup {
    html! {
        form.toolbar method="post" action="/updates/check" {
            (csrf_field(csrf))
            input type="hidden" name="blueprint" value=(blueprint);
            label { "Tag " input type="text" name="tag" placeholder="the instances' tags" size="16"; }
            button type="submit" { "Check now" }
        }
    }
}

fn short(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}

fn check(c: &CheckView) -> Markup {
    let tag = c.image.rsplit_once(':').map(|(_, t)| t).unwrap_or("latest");
    html! {
        div.check data-image=(c.image) {
            h3 { (c.image) @if c.named { " " span.muted { "(tag named for a check)" } } }
            p {
                "Checked " time datetime=(c.checked_at) { (c.checked_at) } ": "
                @match &c.image_id {
                    Some(id) => { code title=(id) data-image-id { (short(id)) } }
                    None => { "no image ID known" }
                }
                @if let Some(d) = &c.digest { " · " code data-digest { (d.rsplit('@').next().unwrap_or(d)) } }
            }
            @if let Some(e) = &c.error { p.error role="alert" data-error { "Last check failed: " (e) } }
            @if c.outdated.is_empty() {
                p.muted { "No instance runs an older image." }
            } @else {
                p { strong { (c.outdated.len()) " instance(s) run an older image" } }
                @if let Some(href) = ROLLOUT_PAGE {
                    p { a.button href={ (href) "?blueprint=" (seg(&c.blueprint)) "&tag=" (seg(tag)) } { "Roll out " (tag) } }
                }
                div.table-wrap { table {
                    thead { tr { th { "Instance" } th { "Image" } th { "Running" } th { "Available" } } }
                    tbody { @for o in &c.outdated { tr data-outdated=(o.instance_id) {
                        td { a href={ "/clients/" (seg(&o.client)) } { (o.client) "/" (o.instance) } " "
                             a.muted href={ "/instances/" (o.instance_id) "/logs" } { "logs" } }
                        td { (o.image) }
                        td { code title=(o.image_id) { (short(&o.image_id)) } }
                        td { code title=(o.available_id) { (short(&o.available_id)) } }
                    } } }
                } }
            }
        }
    }
}
