//! A client's portal users on its admin page, and the page that shows a
//! new one-time link once.

use maud::{html, Markup};

use super::components::{action_button, csrf_field, seg};
use super::layout::{page, Chrome, Nav};
use crate::domain::{ClientRole, LinkKind};
use crate::ops::Invitation;
use crate::store::ClientUserRow;

/// The "Portal users" section of a client's page.
pub fn section(csrf: &str, slug: &str, users: &[ClientUserRow]) -> Markup {
    let base = format!("/clients/{}/users", seg(slug));
    html! {
        h2 { "Portal users" }
        @if users.is_empty() {
            p.muted { "Nobody of this client can sign in to the portal yet." }
        } @else {
            div.table-wrap { table {
                thead { tr { th { "Email" } th { "Name" } th { "Role" } th { "State" } th { "Actions" } } }
                tbody { @for u in users { tr {
                    td { (u.email) }
                    td { (u.name) }
                    td { (u.role) }
                    td { @if u.active { "active" } @else { span.muted { "invited" } } }
                    td { div.actions {
                        (action_button(&format!("{base}/{}/link", u.id),
                            if u.active { "New reset link" } else { "New invitation link" }, csrf, "secondary"))
                        (action_button(&format!("{base}/{}/delete", u.id), "Remove", csrf, "danger"))
                    } }
                } } }
            } }
        }
        form.toolbar method="post" action=(base) {
            (csrf_field(csrf))
            label { "Email" input type="email" name="email" required; }
            label { "Name" input type="text" name="name" placeholder="optional"; }
            label { "Role" select name="role" {
                @for r in ClientRole::ALL { option value=(r.as_str()) selected[*r == ClientRole::Member] { (r) } }
            } }
            button type="submit" { "Add portal user" }
        }
    }
}

pub fn link_page(chrome: &Chrome, slug: &str, inv: &Invitation) -> Markup {
    let (title, valid) = match inv.kind {
        LinkKind::Invite => ("Invitation link", "72 hours"),
        LinkKind::Reset => ("Password reset link", "2 hours"),
    };
    let body = html! {
        h1 { (title) " for " (inv.user.email) }
        @if inv.mailed {
            div.flash.flash-ok role="status" { "The link was also mailed to " (inv.user.email) "." }
        }
        @if let Some(w) = &inv.mail_warning {
            div.flash.flash-error role="status" { (w) " Hand the link over yourself." }
        }
        p { "This link is shown only now. It works once, for " (valid) " (until " (inv.expires_at) ")." }
        div.card { code.one-time-link { (inv.link) } }
        p { a href={ "/clients/" (seg(slug)) } { "Back to the client" } }
    };
    page(title, Nav::Clients, chrome, body)
}
