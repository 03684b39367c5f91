//! Admin accounts: the list with password resets, and the add form.

use maud::{html, Markup};

use super::components::{action_button, csrf_field, field, seg, FormErrors, Input, REQUIRED};
use super::layout::{self, Chrome, Nav};
use crate::store::UserRow;

const PASSWORD: Input = Input {
    kind: "password",
    required: true,
    hint: Some("at least 10 characters"),
};

/// Every account, and the add form (`name`, `errors`: as last sent).
pub fn page(chrome: &Chrome, users: &[UserRow], name: &str, errors: &FormErrors) -> Markup {
    let body = html! {
        h1 { "Users" }
        p.muted { "Every user is an administrator. Resetting a password signs that user out everywhere." }
        div.table-wrap { table {
            thead { tr { th { "Name" } th.optional { "Created (UTC)" } th { "Reset password" } th { "" } } }
            tbody { @for u in users { tr {
                td { (u.name) @if u.name == chrome.user { " " span.muted { "(you)" } } }
                td.optional { (u.created_at) }
                td {
                    form.actions method="post" action={ "/users/" (seg(&u.name)) "/password" } {
                        (csrf_field(&chrome.csrf))
                        input type="password" name="password" required aria-label={ "New password for " (u.name) } autocomplete="new-password";
                        button.secondary type="submit" { "Set" }
                    }
                }
                td { @if u.name != chrome.user && users.len() > 1 {
                    (action_button(&format!("/users/{}/delete", seg(&u.name)), "Delete", &chrome.csrf, "secondary"))
                } }
            } } }
        } }
        h2 { "Add a user" }
        (errors.render_general())
        form.stack.card method="post" action="/users" {
            (csrf_field(&chrome.csrf))
            (field("Name", "name", name, REQUIRED, errors))
            (field("Password", "password", "", PASSWORD, errors))
            div { button type="submit" { "Create user" } }
        }
    };
    layout::page("Users", Nav::Users, chrome, body)
}
