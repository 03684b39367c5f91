use std::collections::BTreeMap;

use maud::{html, Markup};

use crate::domain::Phase;
use crate::ops::OpsError;

/// The hidden form field carrying the CSRF token (checked by `web::csrf`).
pub const CSRF_FIELD: &str = "_csrf";

pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name=(CSRF_FIELD) value=(token); }
}

pub use crate::web::urls::seg;

pub fn phase_badge(phase: Phase) -> Markup {
    html! { span class={ "badge phase-" (phase) } { (phase) } }
}

pub fn status_badge(status: &str) -> Markup {
    html! { span class={ "badge status-" (status) } { (status) } }
}

/// An empty list: says what it is and what to do next.
pub fn empty(text: &str, action: Option<(&str, &str)>) -> Markup {
    html! {
        div.empty {
            p { (text) }
            @if let Some((href, label)) = action { a.button href=(href) { (label) } }
        }
    }
}

/// A one-button form for an action on a row (start, stop, revoke...).
pub fn action_button(action: &str, label: &str, csrf: &str, class: &str) -> Markup {
    html! {
        form.inline method="post" action=(action) {
            (csrf_field(csrf))
            button type="submit" class=(class) { (label) }
        }
    }
}

pub fn size(bytes: u64) -> String {
    crate::domain::ByteSize(bytes).to_string()
}

/// Errors of a submitted form: per field (shown beside it) and general.
#[derive(Debug, Default)]
pub struct FormErrors {
    pub fields: BTreeMap<&'static str, String>,
    pub general: Option<String>,
}

impl FormErrors {
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// Bad input becomes a form error; anything else stays an error.
    pub fn from_ops(e: OpsError) -> Result<Self, OpsError> {
        let mut out = Self::default();
        match e {
            OpsError::Invalid(d) => {
                out.fields.insert(d.field, d.problem);
            }
            OpsError::Refused(m) | OpsError::Conflict(m) => out.general = Some(m),
            other => return Err(other),
        }
        Ok(out)
    }

    pub fn general(message: impl Into<String>) -> Self {
        Self {
            general: Some(message.into()),
            ..Self::default()
        }
    }

    pub fn render_general(&self) -> Markup {
        html! {
            @if let Some(m) = &self.general { div.flash.flash-error role="alert" { (m) } }
        }
    }
}

/// What an input looks like: type and whether it is required.
#[derive(Clone, Copy)]
pub struct Input<'a> {
    pub kind: &'a str,
    pub required: bool,
    pub hint: Option<&'a str>,
}

pub const TEXT: Input = Input {
    kind: "text",
    required: false,
    hint: None,
};
pub const REQUIRED: Input = Input {
    kind: "text",
    required: true,
    hint: None,
};

/// A labelled input with its error right beside it.
pub fn field(label: &str, name: &str, value: &str, input: Input, errors: &FormErrors) -> Markup {
    let error = errors.field(name);
    let id = format!("f-{name}");
    html! {
        label for=(id) class=[error.map(|_| "invalid")] {
            (label)
            @if let Some(h) = input.hint { span.hint { (h) } }
            input id=(id) type=(input.kind) name=(name) value=(value) required[input.required]
                aria-invalid=[error.map(|_| "true")];
            @if let Some(e) = error { span.field-error { (e) } }
        }
    }
}

pub fn select(
    label: &str,
    name: &str,
    options: &[(String, String)],
    selected: &str,
    errors: &FormErrors,
) -> Markup {
    let error = errors.field(name);
    let id = format!("f-{name}");
    html! {
        label for=(id) class=[error.map(|_| "invalid")] {
            (label)
            select id=(id) name=(name) {
                @for (value, text) in options {
                    option value=(value) selected[value == selected] { (text) }
                }
            }
            @if let Some(e) = error { span.field-error { (e) } }
        }
    }
}

/// The dashboard's alarm for a managed Caddy that is not serving: without
/// it no instance is reachable, so it goes above everything else.
pub fn caddy_alert(caddy: &crate::caddy::CaddyState) -> Markup {
    html! {
        @if caddy.managed && !caddy.up {
            @if let Some(why) = &caddy.last_error {
                div.flash.flash-error role="alert" id="caddy-alert" {
                    strong { "Caddy is not running" }
                    " (" (caddy.failures) " failed start" @if caddy.failures != 1 { "s" } "): " (why)
                    @if let Some(at) = &caddy.last_error_at { span.muted { " at " (at) " UTC" } }
                }
            }
        }
    }
}

#[cfg(test)]
mod caddy_alert_tests {
    use super::caddy_alert;
    use crate::caddy::CaddyState;

    #[test]
    fn shows_why_a_managed_caddy_is_down_and_nothing_otherwise() {
        let failing = CaddyState {
            managed: true,
            up: false,
            failures: 3,
            last_error: Some("exited (exit status: 1): Error: <bind> in use".into()),
            last_error_at: Some("2026-12-01T23:00:00Z".into()),
        };
        let html = caddy_alert(&failing).into_string();
        assert!(html.contains("Caddy is not running"), "{html}");
        assert!(html.contains("3 failed starts"), "{html}");
        assert!(html.contains("Error: &lt;bind&gt; in use"), "{html}");
        let up = CaddyState {
            up: true,
            ..failing.clone()
        };
        assert_eq!(caddy_alert(&up).into_string(), "");
        let external = CaddyState::default();
        assert_eq!(caddy_alert(&external).into_string(), "");
    }
}
