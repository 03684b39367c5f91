//! The portal's pages before sign-in: sign in, choose a password from a
//! one-time link (or learn that the link is spent), ask for a reset link.

use maud::{html, Markup};

use super::{page, PortalChrome};
use crate::domain::LinkKind;
use crate::ops::LinkCheck;
use crate::web::views::components::{csrf_field, field, FormErrors, Input, REQUIRED};

const PASSWORD: Input = Input {
    kind: "password",
    required: true,
    hint: None,
};

/// `ended`: the previous session was just ended (removed, suspended, or
/// the password changed elsewhere).
pub fn login(
    chrome: &PortalChrome,
    csrf: &str,
    email: &str,
    ended: bool,
    errors: &FormErrors,
) -> Markup {
    page(
        "Sign in",
        chrome,
        html! {
            h1 { "Sign in to your portal" }
            @if ended {
                div.flash.flash-error role="status" { "Your session has ended. Please sign in again." }
            }
            (errors.render_general())
            form.stack.card method="post" action="/portal/login" {
                (csrf_field(csrf))
                (field("Email", "email", email, Input { kind: "email", ..REQUIRED }, errors))
                (field("Password", "password", "", PASSWORD, errors))
                div { button type="submit" { "Sign in" } }
            }
            p { a href="/portal/forgot" { "Forgot your password?" } }
        },
    )
}

/// Choosing a password from a valid link; `action` is the link's own path.
pub fn set_password(
    chrome: &PortalChrome,
    csrf: &str,
    kind: LinkKind,
    email: &str,
    action: &str,
    errors: &FormErrors,
) -> Markup {
    let title = match kind {
        LinkKind::Invite => "Welcome: choose your password",
        LinkKind::Reset => "Choose a new password",
    };
    page(
        title,
        chrome,
        html! {
            h1 { (title) }
            p.muted { "For " (email) }
            (errors.render_general())
            form.stack.card method="post" action=(action) {
                (csrf_field(csrf))
                (field("Password", "password", "", Input { hint: Some("at least 10 characters"), ..PASSWORD }, errors))
                (field("Password again", "confirm", "", PASSWORD, errors))
                div { button type="submit" { "Save password and sign in" } }
            }
        },
    )
}

/// A link that cannot be used (any more), said plainly.
pub fn dead_link(chrome: &PortalChrome, state: &LinkCheck) -> Markup {
    let (title, text) = match state {
        LinkCheck::Used => (
            "This link was already used",
            "Each link works once. If you set your password with it, sign in; otherwise ask for a new link.",
        ),
        LinkCheck::Expired => (
            "This link has expired",
            "Invitation links work for 72 hours and reset links for 2 hours. Ask for a new one.",
        ),
        _ => (
            "This link is not valid",
            "It may be mistyped, or a newer link replaced it. Ask for a new one.",
        ),
    };
    page(
        title,
        chrome,
        html! {
            h1 { (title) }
            p { (text) }
            p { a href="/portal/login" { "Sign in" } " · " a href="/portal/forgot" { "Ask for a new link" } }
        },
    )
}

/// `mail_on`: whether berth can mail links at all; if not, the provider
/// hands them out.
pub fn forgot(chrome: &PortalChrome, csrf: &str, mail_on: bool) -> Markup {
    page(
        "Forgot your password",
        chrome,
        html! {
            h1 { "Forgot your password?" }
            @if mail_on {
                p { "Enter your email. If it belongs to a portal account, a link to choose a new password is mailed to it." }
                form.stack.card method="post" action="/portal/forgot" {
                    (csrf_field(csrf))
                    (field("Email", "email", "", Input { kind: "email", ..REQUIRED }, &FormErrors::default()))
                    div { button type="submit" { "Mail me a link" } }
                }
            } @else {
                p { "Please ask your provider for a new link: they can make one for you." }
            }
            p { a href="/portal/login" { "Back to sign in" } }
        },
    )
}

/// The same answer whatever the email was.
pub fn forgot_sent(chrome: &PortalChrome) -> Markup {
    page(
        "Check your mail",
        chrome,
        html! {
            h1 { "Check your mail" }
            p { "If this email belongs to a portal account, a link is on its way. It works for 2 hours." }
            p { a href="/portal/login" { "Back to sign in" } }
        },
    )
}
