//! Sign-in and first-run setup: pages outside the signed-in layout.

use maud::{html, Markup};

use super::components::{csrf_field, field, FormErrors, Input, REQUIRED};
use super::layout;

const PASSWORD: Input = Input {
    kind: "password",
    required: true,
    hint: None,
};

pub fn login(csrf: &str, name: &str, errors: &FormErrors) -> Markup {
    layout::bare(
        "Sign in",
        html! {
            h1 { "Sign in to berth" }
            (errors.render_general())
            form.stack.card method="post" action="/login" {
                (csrf_field(csrf))
                (field("Name", "name", name, REQUIRED, errors))
                (field("Password", "password", "", PASSWORD, errors))
                div { button type="submit" { "Sign in" } }
            }
        },
    )
}

/// `local`: browsing from the server itself, where no setup code is needed.
pub fn setup(csrf: &str, local: bool, name: &str, errors: &FormErrors) -> Markup {
    layout::bare(
        "First-run setup",
        html! {
            h1 { "Create the first admin account" }
            p.muted { "No account exists yet. The account you create here can add others later." }
            (errors.render_general())
            form.stack.card method="post" action="/setup" {
                (csrf_field(csrf))
                (field("Name", "name", name, REQUIRED, errors))
                (field("Password", "password", "", Input { hint: Some("at least 10 characters"), ..PASSWORD }, errors))
                @if !local {
                    (field("Setup code", "code", "", Input { hint: Some("printed in berth's log at start-up; needed when not browsing from the server itself"), ..REQUIRED }, errors))
                }
                div { button type="submit" { "Create account and sign in" } }
            }
        },
    )
}
