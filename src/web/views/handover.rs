//! The "reveal once" pages of an instance's pre-created admin account: the
//! account's state and a button, then (after the POST) the password, shown
//! this one time. Shared by the admin UI and the portal.

use maud::{html, Markup};

use super::components::action_button;
use crate::ops::{AdminAccountView, AdminCredentials};

/// Before the reveal: who the account is, whether the app has made it, and
/// the one-time button (a POST with the CSRF token) when still unseen.
pub fn account(action: &str, csrf: &str, a: &AdminAccountView, revealed: bool) -> Markup {
    html! {
        section.card {
            h2 { "Admin account" }
            p { "The app creates this account at its first start; sign-up is disabled, so nobody else can claim the instance." }
            dl {
                dt { "Email" } dd { (a.email) }
                dt { "Account" } dd {
                    @if a.created { "created by the app" } @else { "created at the app's first healthy start" }
                }
            }
            @if revealed {
                p.muted { "The password was shown once and is not shown again. The app's own password change or reset is the way to a new one." }
            } @else {
                p { "The password is shown once: copy it into a password manager, or hand it to whoever takes the instance over." }
                (action_button(action, "Show the password once", csrf, "button"))
            }
        }
    }
}

/// After the reveal.
pub fn credentials(c: &AdminCredentials) -> Markup {
    html! {
        section.card {
            h2 { "Admin account" }
            p { "Shown this one time. It is not stored in the page or the audit log." }
            dl {
                @if !c.url.is_empty() {
                    dt { "Sign in at" } dd { a href=(c.url) { (c.url) } }
                }
                dt { "Email" } dd { code { (c.email) } }
                dt { "Password" } dd { code.secret { (c.password) } }
            }
        }
    }
}
