//! A plan's backup policy (schedule and retention), edited on the plan's
//! edit page as a form of its own: saving it does not recreate instances.

use axum::extract::{Path, State};
use axum::Form;

use super::plans::edit_page;
use super::reply::{see_other, unprocessable};
use crate::web::error::WebResult;
use crate::web::forms::PolicyForm;
use crate::web::route::{Access, Route};
use crate::web::session::Ui;
use crate::web::state::AppState;
use crate::web::views::components::{seg, FormErrors};

pub fn routes() -> Vec<Route> {
    vec![Route::post(
        "/plans/{name}/backup-policy",
        Access::Session,
        save,
    )]
}

async fn save(
    State(s): State<AppState>,
    ui: Ui,
    Path(name): Path<String>,
    Form(f): Form<PolicyForm>,
) -> WebResult {
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
            let page = edit_page(&s, &ui, &name, None, Some((&f, errors))).await?;
            Ok(unprocessable(page))
        }
    }
}
