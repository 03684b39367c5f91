//! Rollouts: the list, the form that starts one, and one rollout live, per
//! wave and instance; plus the confirmation of a manual rollback.

use maud::{html, Markup};

use super::components::{action_button, csrf_field, empty, field, select, FormErrors, TEXT};
use super::layout::{page, Chrome, Nav};
use crate::domain::{RolloutKind, RolloutStatus, StepState};
use crate::ops::{RolloutCandidate, RolloutStepView, RolloutView};

/// A step's state in the words of the page.
pub fn step_words(s: StepState) -> &'static str {
    match s {
        StepState::Pending => "queued",
        StepState::BackingUp => "backing up",
        // One state in the store: the container is recreated on the new
        // image, then its health check decides.
        StepState::Updating => "recreating / checking health",
        StepState::Succeeded => "updated",
        StepState::RollingBack => "rolling back",
        StepState::RolledBack => "rolled back",
        StepState::Failed => "failed",
        StepState::Skipped => "skipped (cancelled)",
    }
}

pub fn step_badge(s: StepState) -> Markup {
    html! { span class={ "badge step-" (s.as_str()) } data-step=(s.as_str()) { (step_words(s)) } }
}

fn status_badge(s: RolloutStatus) -> Markup {
    html! { span class={ "badge status-" (s.as_str()) } data-rollout-status=(s.as_str()) { (s.as_str()) } }
}

/// "n/m": steps finished of all.
fn progress(r: &RolloutView) -> String {
    let done = r.steps.iter().filter(|s| s.state.is_final()).count();
    format!("{done}/{}", r.steps.len())
}

/// "repo:tag · 0123456789ab", as the instances table shows an image.
fn image(reference: Option<&str>, id: Option<&str>) -> String {
    let short = id.map(|i| {
        i.trim_start_matches("sha256:")
            .chars()
            .take(12)
            .collect::<String>()
    });
    match (reference, short) {
        (Some(r), Some(s)) => format!("{r} · {s}"),
        (Some(r), None) => r.to_owned(),
        (None, Some(s)) => s,
        (None, None) => "?".to_owned(),
    }
}

pub fn list(chrome: &Chrome, rollouts: &[RolloutView]) -> Markup {
    let body = html! {
        h1 { "Rollouts" }
        div.actions { a.button href="/rollouts/new" { "New rollout" } }
        p.muted { "Each instance is backed up before its update and rolled back, image and data, when the new version does not come up healthy." }
        @if rollouts.is_empty() {
            (empty("No rollouts yet.", Some(("/rollouts/new", "Start a rollout"))))
        } @else {
            div.table-wrap { table {
                thead { tr { th { "Rollout" } th { "Status" } th { "Blueprint" } th { "Tag" } th { "Progress" } th { "Started (UTC)" } th { "By" } } }
                tbody { @for r in rollouts { tr data-rollout=(r.id) {
                    td { a href={ "/rollouts/" (r.id) } { "#" (r.id) } @if r.kind == RolloutKind::Rollback { " " span.muted { "rollback" } } }
                    td { (status_badge(r.status)) }
                    td { (r.blueprint) }
                    td { @match &r.tag { Some(t) => (t), None => span.muted { "own tags" } } }
                    td { (progress(r)) }
                    td { (r.created_at) }
                    td { (r.actor) }
                } } }
            } }
        }
    };
    page("Rollouts", Nav::Rollouts, chrome, body)
}

/// What the new-rollout form was filled with.
#[derive(Debug, Default)]
pub struct RolloutForm {
    pub blueprint: String,
    pub tag: String,
    /// Checked instance ids; `None`: all (the form's first showing).
    pub instances: Option<Vec<i64>>,
    pub waves: String,
    pub keep_going: bool,
}

pub fn new_form(
    chrome: &Chrome,
    blueprints: &[(String, String)],
    candidates: &[RolloutCandidate],
    f: &RolloutForm,
    errors: &FormErrors,
) -> Markup {
    let none = FormErrors::default();
    let checked = |id: i64| f.instances.as_ref().is_none_or(|l| l.contains(&id));
    let body = html! {
        h1 { "New rollout" }
        // Choosing another blueprint lists its instances: a GET of this page.
        form.inline method="get" action="/rollouts/new" {
            (select("Blueprint", "blueprint", blueprints, &f.blueprint, &none))
            button.secondary type="submit" { "Show its instances" }
        }
        (errors.render_general())
        form method="post" action="/rollouts" {
            (csrf_field(&chrome.csrf))
            input type="hidden" name="blueprint" value=(f.blueprint);
            (field("Tag", "tag", &f.tag, crate::web::views::components::Input {
                hint: Some("empty: each instance's own tag, pulled afresh"), ..TEXT }, errors))
            fieldset {
                legend { "Instances of " (f.blueprint) }
                @if candidates.is_empty() { p.muted { "This blueprint has no instances." } }
                @for c in candidates {
                    label.check {
                        input type="checkbox" name="instance" value=(c.id) checked[checked(c.id)];
                        " " (c.label) " " span.muted { (c.image) }
                    }
                }
                @if let Some(e) = errors.field("instances") { span.field-error { (e) } }
            }
            (field("Waves", "waves", &f.waves, crate::web::views::components::Input {
                hint: Some("instances per wave, e.g. 1,5,all: a canary first"), ..TEXT }, errors))
            label.check {
                input type="checkbox" name="keep_going" value="on" checked[f.keep_going];
                " Keep going after a failed instance (otherwise the rollout halts)"
            }
            button type="submit" disabled[candidates.is_empty()] { "Start rollout" }
        }
    };
    page("New rollout", Nav::Rollouts, chrome, body)
}

pub fn detail(chrome: &Chrome, r: &RolloutView) -> Markup {
    let csrf = chrome.csrf.as_str();
    let mut waves: Vec<u32> = r.steps.iter().map(|s| s.wave).collect();
    waves.dedup();
    let title = match r.kind {
        RolloutKind::Update => format!("Rollout #{}", r.id),
        RolloutKind::Rollback => format!("Rollback #{}", r.id),
    };
    let body = html! {
        h1 { (title) " " (status_badge(r.status)) }
        div.actions {
            @if matches!(r.status, RolloutStatus::Pulling | RolloutStatus::Running) {
                (action_button(&format!("/rollouts/{}/halt", r.id), "Halt", csrf, "secondary"))
            }
            @if r.status == RolloutStatus::Halted {
                (action_button(&format!("/rollouts/{}/resume", r.id), "Resume", csrf, ""))
                (action_button(&format!("/rollouts/{}/cancel", r.id), "Cancel the rest", csrf, "danger"))
            }
            a href="/rollouts" { "All rollouts" }
        }
        @if !r.message.is_empty() { p data-rollout-message { (r.message) } }
        div.card { dl.facts {
            dt { "Blueprint" } dd { (r.blueprint) }
            dt { "Tag" } dd { @match &r.tag { Some(t) => (t), None => span.muted { "each instance's own" } } }
            dt { "Waves" } dd { (r.waves) @if r.keep_going { " (keeps going after a failure)" } }
            dt { "Progress" } dd data-progress { (progress(r)) }
            dt { "Started (UTC)" } dd { (r.created_at) " by " (r.actor) }
            dt { "Finished (UTC)" } dd { (r.finished_at.as_deref().unwrap_or("not yet")) }
        } }
        @for w in waves {
            h2 { "Wave " (w) @if r.current_wave == Some(w) { " " span.badge { "now" } } }
            div.table-wrap { table {
                thead { tr { th { "Instance" } th { "Step" } th { "Image" } th { "Backup" } th { "Message" } } }
                tbody { @for s in r.steps.iter().filter(|s| s.wave == w) { (step_row(s)) } }
            } }
        }
        @if !r.status.is_finished() && r.status != RolloutStatus::Halted {
            p.muted { "This page reloads itself until the rollout finishes." }
        }
    };
    page(&title, Nav::Rollouts, chrome, body)
}

fn step_row(s: &RolloutStepView) -> Markup {
    let client = s.instance.split('/').next().unwrap_or_default();
    html! {
        tr data-step-instance=(s.instance_id) {
            td { a href={ "/clients/" (crate::web::urls::seg(client)) } { (s.instance) } }
            td { (step_badge(s.state)) }
            td {
                (image(s.from_image.as_deref(), s.from_image_id.as_deref()))
                " → " (image(Some(&s.to_image), s.to_image_id.as_deref()))
            }
            td { @if let Some(b) = s.backup_id {
                a href={ "/instances/" (s.instance_id) "/backups" } { "backup " (b) }
            } }
            td { (s.message) }
        }
    }
}

/// The confirmation before a manual rollback.
pub fn rollback_confirm(chrome: &Chrome, id: i64, label: &str, to: &str) -> Markup {
    let client = label.split('/').next().unwrap_or_default();
    let body = html! {
        h1 { "Roll back " (label) }
        p { "The instance goes back to " code { (to) } " with the data of the backup taken just before its last update. "
            "Whatever changed in its data since that backup is replaced." }
        form method="post" action={ "/instances/" (id) "/rollback" } {
            (csrf_field(&chrome.csrf))
            button type="submit" { "Roll back to " (to) }
            " " a href={ "/clients/" (crate::web::urls::seg(client)) } { "Cancel" }
        }
    };
    page("Roll back", Nav::Clients, chrome, body)
}
