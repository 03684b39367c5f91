//! Client and instance forms: new and edit client, add instance, and the
//! "type the name back" confirmation of a delete (its report is in
//! `deletions.rs`).

use maud::{html, Markup};

use super::components::{csrf_field, empty, field, seg, select, FormErrors, Input, REQUIRED, TEXT};
use super::layout::{page, Chrome, Nav};
use crate::web::forms::{ClientForm, InstanceForm};

/// What the client form offers to choose from: (value, label) pairs.
pub struct ClientChoices {
    pub plans: Vec<(String, String)>,
    pub blueprints: Vec<(String, String)>,
    pub base_domain: String,
}

fn notes_field(value: &str, errors: &FormErrors) -> Markup {
    html! {
        label for="f-notes" class=[errors.field("notes").map(|_| "invalid")] {
            "Notes" span.hint { "for you; not shown to the client" }
            textarea id="f-notes" name="notes" rows="3" { (value) }
            @if let Some(e) = errors.field("notes") { span.field-error { (e) } }
        }
    }
}

/// The new-client form (`new`: with app and domain) or the edit form.
pub fn client_form(
    chrome: &Chrome,
    (title, action, new): (&str, &str, bool),
    choices: &ClientChoices,
    f: &ClientForm,
    errors: &FormErrors,
) -> Markup {
    let body = html! {
        h1 { (title) }
        @if choices.plans.is_empty() {
            (empty("A client needs a plan (its CPU and memory limits). Create a plan first.", Some(("/plans/new", "New plan"))))
        } @else {
            (errors.render_general())
            form.stack.card method="post" action=(action) {
                (csrf_field(&chrome.csrf))
                (field("Name", "name", &f.name, REQUIRED, errors))
                (field("Contact email", "email", &f.email, Input { kind: "email", ..REQUIRED }, errors))
                (select("Plan", "plan", &choices.plans, &f.plan, errors))
                @if new {
                    (select("App (blueprint)", "blueprint", &choices.blueprints, &f.blueprint, errors))
                    (field("Domain", "domain", &f.domain, Input { hint: Some(&format!("optional; default <slug>.{}", choices.base_domain)), ..TEXT }, errors))
                }
                (notes_field(&f.notes, errors))
                div { button type="submit" { (if new { "Create client" } else { "Save" }) } }
            }
        }
    };
    page(title, Nav::Clients, chrome, body)
}

pub fn instance_form(
    chrome: &Chrome,
    slug: &str,
    (blueprints, base_domain): (&[(String, String)], &str),
    f: &InstanceForm,
    errors: &FormErrors,
) -> Markup {
    let body = html! {
        h1 { "Add an instance to " (slug) }
        (errors.render_general())
        form.stack.card method="post" action={ "/clients/" (seg(slug)) "/instances" } {
            (csrf_field(&chrome.csrf))
            (field("Instance name", "instance", &f.name, Input { hint: Some("e.g. staging; a-z, 0-9, '-'"), ..REQUIRED }, errors))
            (select("App (blueprint)", "blueprint", blueprints, &f.blueprint, errors))
            (field("Domain", "domain", &f.domain, Input { hint: Some(&format!("optional; default {slug}-<name>.{}", base_domain)), ..TEXT }, errors))
            div { button type="submit" { "Add instance" } }
        }
    };
    page("Add instance", Nav::Clients, chrome, body)
}

/// "Type the name back" confirmation shared by client and instance deletes.
fn confirm(
    title: &str,
    warning: Markup,
    expected: &str,
    action: &str,
    csrf: &str,
    error: Option<&str>,
) -> Markup {
    let mut errors = FormErrors::default();
    if let Some(e) = error {
        errors.fields.insert("confirm", e.to_owned());
    }
    html! {
        h1 { (title) }
        div.card { (warning) }
        form.stack.card method="post" action=(action) {
            (csrf_field(csrf))
            (field(&format!("Type {expected} to confirm"), "confirm", "", Input { hint: None, ..REQUIRED }, &errors))
            div { button.danger type="submit" { "Delete permanently" } }
        }
    }
}

/// `error`: why the last attempt deleted nothing.
pub fn delete_client(
    chrome: &Chrome,
    slug: &str,
    name: &str,
    instances: usize,
    error: Option<&str>,
) -> Markup {
    let warning = html! {
        p { "This deletes " strong { (name) } " with its " (instances) " instance(s): containers, networks, routes, all data and all backups. It cannot be undone." }
    };
    let action = format!("/clients/{}/delete", seg(slug));
    let body = confirm("Delete client", warning, slug, &action, &chrome.csrf, error);
    page("Delete client", Nav::Clients, chrome, body)
}

/// `expected`: "<client>/<instance>", typed back to confirm.
pub fn remove_instance(chrome: &Chrome, id: i64, expected: &str, error: Option<&str>) -> Markup {
    let warning = html! { p { "This removes instance " strong { (expected) } " with its container, route and all its data and backups." } };
    let action = format!("/instances/{id}/remove");
    let body = confirm(
        "Remove instance",
        warning,
        expected,
        &action,
        &chrome.csrf,
        error,
    );
    page("Remove instance", Nav::Clients, chrome, body)
}
