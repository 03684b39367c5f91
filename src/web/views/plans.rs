//! Plans: the list, the plan form, and the plan's backup policy form shown
//! beneath it on the edit page (saved on its own: it recreates nothing).

use maud::{html, Markup};

use super::components::{
    action_button, csrf_field, empty, field, seg, select, size, FormErrors, Input, REQUIRED, TEXT,
};
use super::layout::{page, Chrome, Nav};
use crate::config::BackupConfig;
use crate::domain::Approval;
use crate::store::PlanRow;
use crate::web::forms::{PlanForm, PolicyForm};

pub fn list(chrome: &Chrome, plans: &[PlanRow]) -> Markup {
    let body = html! {
        h1 { "Plans" }
        p.actions { a.button href="/plans/new" { "New plan" } }
        @if plans.is_empty() {
            (empty("No plans yet. A plan sets the CPU, memory and storage limits of a client's instances.", Some(("/plans/new", "Create the first plan"))))
        } @else {
            div.table-wrap { table {
                thead { tr { th { "Name" } th { "CPU" } th { "Memory" } th.optional { "Storage" } th.optional { "Max instances" } th.optional { "Requests" } th { "In use" } th { "Actions" } } }
                tbody { @for p in plans { tr {
                    td { (p.name) }
                    td { (p.cpus) }
                    td { (size(p.memory)) }
                    td.optional { (p.storage.map(size).unwrap_or_else(|| "-".into())) }
                    td.optional { (p.max_instances.map(|m| m.to_string()).unwrap_or_else(|| "-".into())) }
                    td.optional { (p.approval) }
                    td { (p.instances) }
                    td { div.actions {
                        a href={ "/plans/" (seg(&p.name)) "/edit" } { "Edit" }
                        (action_button(&format!("/plans/{}/delete", seg(&p.name)), "Delete", &chrome.csrf, "secondary"))
                    } }
                } } }
            } }
        }
    };
    page("Plans", Nav::Plans, chrome, body)
}

fn plan_form(csrf: &str, title: &str, action: &str, f: &PlanForm, errors: &FormErrors) -> Markup {
    html! {
        h1 { (title) }
        (errors.render_general())
        form.stack.card method="post" action=(action) {
            (csrf_field(csrf))
            (field("Name", "name", &f.name, REQUIRED, errors))
            (field("CPU cores", "cpus", &f.cpus, Input { hint: Some("per instance, e.g. 0.5"), ..REQUIRED }, errors))
            (field("Memory limit", "memory", &f.memory, Input { hint: Some("e.g. 512MiB or 2GiB"), ..REQUIRED }, errors))
            (field("Memory reservation", "memory_reservation", &f.memory_reservation, Input { hint: Some("optional soft limit"), ..TEXT }, errors))
            (field("Storage quota", "storage", &f.storage, Input { hint: Some("optional, e.g. 10GiB"), ..TEXT }, errors))
            (field("Max instances per client", "max_instances", &f.max_instances, Input { hint: Some("optional"), ..TEXT }, errors))
            (select("New instance requests", "approval", &approval_choices(), &f.approval, errors))
            (field("Blueprints clients may request", "blueprints", &f.blueprints, Input { hint: Some("comma-separated; empty: all installed"), ..TEXT }, errors))
            (field("Image tag", "image_tag", &f.image_tag, Input { hint: Some("optional: the tag its clients' instances run, e.g. 0.6.5; empty: the blueprint's"), ..TEXT }, errors))
            label.check {
                input type="checkbox" name="portal_restore" checked[!f.portal_restore.is_empty()];
                " Client users may restore their own backups"
            }
            div { button type="submit" { "Save plan" } }
        }
    }
}

/// Manual first: a new plan form (nothing selected yet) shows the default.
fn approval_choices() -> Vec<(String, String)> {
    [Approval::Manual, Approval::Auto]
        .iter()
        .map(|a| {
            let text = match a {
                Approval::Auto => "approved at once (auto)",
                Approval::Manual => "wait for my approval (manual)",
            };
            (a.to_string(), text.to_owned())
        })
        .collect()
}

pub fn new_plan(chrome: &Chrome, f: &PlanForm, errors: &FormErrors) -> Markup {
    let body = plan_form(&chrome.csrf, "New plan", "/plans", f, errors);
    page("New plan", Nav::Plans, chrome, body)
}

/// A plan's edit page: the plan form above its backup policy form, each
/// with its own errors.
pub struct PlanEditPage<'a> {
    pub name: &'a str,
    pub plan: (&'a PlanForm, &'a FormErrors),
    pub policy: (&'a PolicyForm, &'a FormErrors),
    /// The global settings an empty policy field inherits.
    pub global: &'a BackupConfig,
}

pub fn edit_plan(chrome: &Chrome, p: &PlanEditPage) -> Markup {
    let action = format!("/plans/{}/edit", seg(p.name));
    let body = html! {
        (plan_form(&chrome.csrf, "Edit plan", &action, p.plan.0, p.plan.1))
        (policy_form(&chrome.csrf, p.name, p.global, p.policy.0, p.policy.1))
    };
    page("Edit plan", Nav::Plans, chrome, body)
}

fn policy_form(
    csrf: &str,
    plan: &str,
    global: &BackupConfig,
    f: &PolicyForm,
    errors: &FormErrors,
) -> Markup {
    let hint = |v: String| format!("empty: the global {v}");
    let num = |label: &str, name: &str, value: &str, global: u32| {
        let h = hint(global.to_string());
        field(
            label,
            name,
            value,
            Input {
                hint: Some(&h),
                ..TEXT
            },
            errors,
        )
    };
    let cron = hint(format!("\u{201c}{}\u{201d}; cron, UTC", global.schedule));
    html! {
        h2 { "Backups" }
        (errors.render_general())
        form.stack.card method="post" action={ "/plans/" (seg(plan)) "/backup-policy" } {
            (csrf_field(csrf))
            (field("Schedule", "schedule", &f.schedule, Input { hint: Some(&cron), ..TEXT }, errors))
            (num("Keep last", "keep_last", &f.keep_last, global.keep_last))
            (num("Keep daily", "keep_daily", &f.keep_daily, global.keep_daily))
            (num("Keep weekly", "keep_weekly", &f.keep_weekly, global.keep_weekly))
            (num("Keep monthly", "keep_monthly", &f.keep_monthly, global.keep_monthly))
            div { button type="submit" { "Save backup policy" } }
        }
    }
}
