//! The admin's view of one instance's recent container output.

use maud::{html, Markup};

use super::components::{phase_badge, seg};
use super::layout::{page, Chrome, Nav};
use crate::ops::LogTail;
use crate::store::InstanceRow;

/// The last `tail` lines, oldest first; the refresh link asks again (a
/// plain reload keeps `tail`).
pub fn page_for(chrome: &Chrome, i: &InstanceRow, tail: usize, logs: &LogTail) -> Markup {
    let title = format!("Logs of {}/{}", i.client_slug, i.name);
    let body = html! {
        h1 { (title) }
        p.muted { (super::clients::image_line(i)) }
        @if let Some(d) = super::clients::digest_line(i) { p.muted data-digest { (d) } }
        p {
            (phase_badge(i.phase)) " "
            span.muted data-message { (i.message) }
        }
        p.actions {
            a.button href={ "/instances/" (i.id) "/logs?tail=" (tail) } { "Refresh" }
            @for n in [100usize, 500, 2000] {
                @if n != tail { a href={ "/instances/" (i.id) "/logs?tail=" (n) } { "Last " (n) } }
            }
            a href={ "/clients/" (seg(&i.client_slug)) } { "Back to the client" }
        }
        p.muted { "The last " (tail) " lines the container wrote (stdout and stderr), oldest first." }
        @if let Some(note) = &logs.note { p.muted { (note) } }
        @if !logs.lines.is_empty() {
            pre.logs { @for l in &logs.lines { (l) "\n" } }
        }
    };
    page(&title, Nav::Clients, chrome, body)
}
