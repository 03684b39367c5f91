//! A plan's backup policy (schedule and retention), edited on the plan's
//! edit page as a form of its own: saving it does not recreate instances.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Form;
use maud::{html, Markup};
use serde::Deserialize;

use super::plans::{form_body, PlanForm};
use super::{see_other, seg, PageResult};
use crate::config::BackupConfig;
use crate::domain::DomainError;
use crate::ops::OpsError;
use crate::store::BackupPolicy;
use crate::web::routes::{Access, Route};
use crate::web::session::Ui;
use crate::web::views::components::{csrf_field, field, FormErrors, Input, TEXT};
use crate::web::views::layout::Nav;
use crate::web::AppState;

pub fn routes() -> Vec<Route> {
    vec![Route::post(
        "/plans/{name}/backup-policy",
        Access::Session,
        save,
    )]
}

/// Every field optional: empty inherits the global setting.
#[derive(Debug, Default, Deserialize)]
pub struct PolicyForm {
    #[serde(default)]
    schedule: String,
    #[serde(default)]
    keep_last: String,
    #[serde(default)]
    keep_daily: String,
    #[serde(default)]
    keep_weekly: String,
    #[serde(default)]
    keep_monthly: String,
}

impl PolicyForm {
    pub fn from_policy(p: &BackupPolicy) -> Self {
        let n = |v: Option<u32>| v.map(|v| v.to_string()).unwrap_or_default();
        Self {
            schedule: p.schedule.clone().unwrap_or_default(),
            keep_last: n(p.keep_last),
            keep_daily: n(p.keep_daily),
            keep_weekly: n(p.keep_weekly),
            keep_monthly: n(p.keep_monthly),
        }
    }

    fn parse(&self) -> Result<BackupPolicy, OpsError> {
        let n = |field: &'static str, v: &str| -> Result<Option<u32>, OpsError> {
            match v.trim() {
                "" => Ok(None),
                v => Ok(Some(v.parse::<u32>().map_err(|_| {
                    DomainError::new(field, "must be a whole number, or empty to inherit")
                })?)),
            }
        };
        Ok(BackupPolicy {
            schedule: Some(self.schedule.trim().to_owned()).filter(|s| !s.is_empty()),
            keep_last: n("keep_last", &self.keep_last)?,
            keep_daily: n("keep_daily", &self.keep_daily)?,
            keep_weekly: n("keep_weekly", &self.keep_weekly)?,
            keep_monthly: n("keep_monthly", &self.keep_monthly)?,
        })
    }
}

pub fn policy_form(
    ui: &Ui,
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
            (csrf_field(&ui.csrf))
            (field("Schedule", "schedule", &f.schedule, Input { hint: Some(&cron), ..TEXT }, errors))
            (num("Keep last", "keep_last", &f.keep_last, global.keep_last))
            (num("Keep daily", "keep_daily", &f.keep_daily, global.keep_daily))
            (num("Keep weekly", "keep_weekly", &f.keep_weekly, global.keep_weekly))
            (num("Keep monthly", "keep_monthly", &f.keep_monthly, global.keep_monthly))
            div { button type="submit" { "Save backup policy" } }
        }
    }
}

async fn save(
    State(s): State<AppState>,
    ui: Ui,
    Path(name): Path<String>,
    Form(f): Form<PolicyForm>,
) -> PageResult {
    let result = match f.parse() {
        Ok(p) => s.ops.set_backup_policy(&ui.actor(), &name, p).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => {
            ui.flash(true, format!("Backup policy of plan {name} saved."))
                .await;
            Ok(see_other(&format!("/plans/{}/edit", seg(&name))))
        }
        Err(e) => {
            let errors = FormErrors::from_ops(e)?;
            let plan = s.ops.get_plan(&name).await?;
            let action = format!("/plans/{}/edit", seg(&name));
            let none = FormErrors::default();
            let body = html! {
                (form_body(&ui, "Edit plan", &action, &PlanForm::from_row(&plan), &none))
                (policy_form(&ui, &name, &s.ops.config().backup, &f, &errors))
            };
            Ok((
                StatusCode::UNPROCESSABLE_ENTITY,
                ui.page("Edit plan", Nav::Plans, body).await,
            )
                .into_response())
        }
    }
}
