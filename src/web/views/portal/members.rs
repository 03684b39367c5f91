//! The portal's users page and the page that shows a member's new
//! invitation link once.

use maud::{html, Markup};

use super::{page, PortalChrome};
use crate::ops::Invitation;
use crate::store::ClientUserRow;
use crate::web::views::components::{action_button, csrf_field};

pub fn list(chrome: &PortalChrome, users: &[ClientUserRow], me: i64) -> Markup {
    let owner = chrome.who.as_ref().is_some_and(|w| w.is_owner);
    let csrf = chrome
        .who
        .as_ref()
        .map(|w| w.csrf.as_str())
        .unwrap_or_default();
    page(
        "Users",
        chrome,
        html! {
            h1 { "Users" }
            div.table-wrap { table {
                thead { tr { th { "Email" } th { "Name" } th { "Role" } th { "State" } @if owner { th { "Actions" } } } }
                tbody { @for u in users { tr {
                    td { (u.email) }
                    td { (u.name) @if u.id == me { " (you)" } }
                    td { (u.role) }
                    td { @if u.active { "active" } @else { span.muted { "invited" } } }
                    @if owner { td {
                        (action_button(&format!("/portal/members/{}/delete", u.id), "Remove", csrf, "danger"))
                    } }
                } } }
            } }
            @if owner {
                h2 { "Invite a member" }
                form.toolbar method="post" action="/portal/members" {
                    (csrf_field(csrf))
                    label { "Email" input type="email" name="email" required; }
                    label { "Name" input type="text" name="name" placeholder="optional"; }
                    button type="submit" { "Invite" }
                }
            }
        },
    )
}

pub fn invited(chrome: &PortalChrome, inv: &Invitation) -> Markup {
    page(
        "Member invited",
        chrome,
        html! {
            h1 { "Invitation for " (inv.user.email) }
            @if inv.mailed {
                div.flash.flash-ok role="status" { "The link was mailed to " (inv.user.email) "." }
            }
            @if let Some(w) = &inv.mail_warning {
                div.flash.flash-error role="status" { (w) " Hand the link over yourself." }
            }
            p { "This link is shown only now. It works once, for 72 hours (until " (inv.expires_at) ")." }
            div.card { code.one-time-link { (inv.link) } }
            p { a href="/portal/members" { "Back to users" } }
        },
    )
}
