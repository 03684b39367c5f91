//! API tokens: the list, the create form and a new token shown once.

use maud::{html, Markup};

use super::components::{action_button, csrf_field, empty, field, seg, FormErrors, REQUIRED};
use super::layout::{self, Chrome, Nav};
use crate::store::TokenRow;

/// `created`: a token just made, (name, token), shown this once.
pub fn page(
    chrome: &Chrome,
    tokens: &[TokenRow],
    created: Option<(&str, &str)>,
    name: &str,
    errors: &FormErrors,
) -> Markup {
    let body = html! {
        h1 { "API tokens" }
        p.muted { "A token lets scripts use the JSON API at /api/v1 (header " code { "Authorization: Bearer <token>" } ")." }
        @if let Some((name, token)) = created {
            div.card role="status" {
                p { strong { "Token " (name) " created." } " Copy it now: it is not shown again." }
                code.secret { (token) }
            }
        }
        (errors.render_general())
        form.toolbar method="post" action="/tokens" {
            (csrf_field(&chrome.csrf))
            (field("New token name", "name", name, REQUIRED, errors))
            button type="submit" { "Create token" }
        }
        @if tokens.is_empty() {
            (empty("No API tokens. Create one for each script or tool that uses the API.", None))
        } @else {
            div.table-wrap { table {
                thead { tr { th { "Name" } th.optional { "Created (UTC)" } th { "Last used" } th { "" } } }
                tbody { @for t in tokens { tr {
                    td { (t.name) }
                    td.optional { (t.created_at) }
                    td { (t.last_used_at.as_deref().unwrap_or("never")) }
                    td { (action_button(&format!("/tokens/{}/revoke", seg(&t.name)), "Revoke", &chrome.csrf, "secondary")) }
                } } }
            } }
        }
    };
    layout::page("API tokens", Nav::Tokens, chrome, body)
}
