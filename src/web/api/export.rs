//! A client's GDPR export: the JSON document, or with `?archives=1` a tar
//! bundle of it and the newest backup archive of each instance.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Response;
use axum::Extension;

use crate::audit::Actor;
use crate::web::error::WebError;
use crate::web::json::ApiPath;
use crate::web::route::{Access, Route};
use crate::web::state::AppState;

pub fn routes() -> Vec<Route> {
    vec![Route::get(
        "/api/v1/clients/{slug}/export",
        Access::Token,
        export,
    )]
}

async fn export(
    State(s): State<AppState>,
    Extension(actor): Extension<Actor>,
    ApiPath(slug): ApiPath<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Result<Response, WebError> {
    let archives = match q.get("archives").map(String::as_str) {
        None | Some("0") | Some("false") => false,
        Some("1") | Some("true") => true,
        Some(other) => {
            return Err(WebError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                format!("archives: {other:?} is not 1 or 0"),
            ))
        }
    };
    if archives {
        let bundle = s.ops.export_bundle(&actor, &slug).await?;
        return Ok(crate::web::bundle::download(bundle, &slug));
    }
    let export = s.ops.export_client(&actor, &slug).await?;
    Ok(crate::web::bundle::json(&export))
}
