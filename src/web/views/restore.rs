//! Restoring a backup: into its own instance (confirmed by typing
//! "<client>/<instance>", as it replaces the data) or into a new instance.

use maud::{html, Markup};

use super::components::{csrf_field, field, size, FormErrors, Input, REQUIRED};
use super::layout::{self, Chrome, Nav};
use crate::domain::RestoreMode;
use crate::store::BackupRow;
use crate::web::forms::RestoreForm;

/// Both ways of restoring `b`; `errors` land on the form `f.mode` names.
pub fn page(chrome: &Chrome, b: &BackupRow, f: &RestoreForm, errors: &FormErrors) -> Markup {
    let expected = format!("{}/{}", b.client_slug, b.instance_name);
    let action = format!("/backups/{}/restore", b.id);
    let none = FormErrors::default();
    let (in_place, clone) = if f.mode() == RestoreMode::Clone {
        (&none, errors)
    } else {
        (errors, &none)
    };
    let body = html! {
        h1 { "Restore backup " (b.id) }
        (errors.render_general())
        div.card { p {
            "Backup of " strong { (expected) } " taken " (b.started_at.as_deref().unwrap_or(&b.created_at)) " UTC, "
            (b.size.map(size).unwrap_or_default()) ", sha256 " code { (b.sha256.as_deref().unwrap_or("-")) } "."
        } }
        @if b.instance_id.is_some() {
            h2 { "Into " (expected) }
            form.stack.card method="post" action=(action) {
                (csrf_field(&chrome.csrf))
                input type="hidden" name="mode" value="in_place";
                p { "The instance is stopped and its data replaced by this backup. The current data is kept until the restored instance is healthy, and put back if it is not." }
                (field(&format!("Type {expected} to confirm"), "confirm", "", REQUIRED, in_place))
                div { button.danger type="submit" { "Replace the data" } }
            }
        }
        h2 { "Into a new instance" }
        form.stack.card method="post" action=(action) {
            (csrf_field(&chrome.csrf))
            input type="hidden" name="mode" value="clone";
            p { "A new instance of " (b.client_slug) " with the same app, started with this backup's data." }
            (field("New instance name", "instance", &f.instance, Input { hint: Some("a-z, 0-9, '-'"), ..REQUIRED }, clone))
            div { button type="submit" { "Restore as a new instance" } }
        }
    };
    layout::page("Restore", Nav::Clients, chrome, body)
}
