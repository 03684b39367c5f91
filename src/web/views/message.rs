//! Short pages that say one thing: an error, a refusal, an expired form.

use maud::{html, Markup};

use super::layout;

pub fn page(title: &str, text: &str) -> Markup {
    layout::bare(
        title,
        html! { h1 { (title) } p { (text) } p { a href="/" { "Back to the dashboard" } } },
    )
}

/// The same for a client user: the way back is their portal, not the
/// admin dashboard.
pub fn portal_page(title: &str, text: &str) -> Markup {
    layout::bare(
        title,
        html! { h1 { (title) } p { (text) } p { a href="/portal" { "Back to your portal" } } },
    )
}

pub fn internal_error() -> Markup {
    page(
        "Something went wrong",
        "berth could not finish this request; the details are in its log.",
    )
}

/// A refused form: another site's, or one open too long.
pub fn form_expired() -> Markup {
    layout::bare(
        "Form expired",
        html! {
            h1 { "This form has expired" }
            p { "The page was open too long or was sent from another site. Nothing was changed. "
                a href="/" { "Go back" } ", reload the page and try again." }
        },
    )
}
