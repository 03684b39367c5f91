//! What the portal's page handlers share: the portal layout around a page
//! body, and the answer after a POST.

use maud::Markup;

use crate::ops::OpsError;
use crate::web::error::WebResult;
use crate::web::pages::reply::see_other;
use crate::web::portal_session::PortalUi;
use crate::web::state::AppState;
use crate::web::views::portal as layout;

/// A portal page: `body` inside the portal layout, taking pending flashes.
pub async fn page(s: &AppState, ui: &PortalUi, title: &str, body: Markup) -> Markup {
    layout::page(title, &ui.chrome(s).await, body)
}

/// Back to `to` after a POST, with what happened as a flash: a refusal the
/// user can act on is shown there too; anything else is an error page.
pub async fn back_with_outcome(
    ui: &PortalUi,
    to: &str,
    outcome: Result<String, OpsError>,
) -> WebResult {
    match outcome {
        Ok(text) => ui.flash(true, text).await,
        Err(e) => match e.user_message() {
            Some(m) => ui.flash(false, m).await,
            None => return Err(e.into()),
        },
    }
    Ok(see_other(to))
}
