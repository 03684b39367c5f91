//! The stylesheet and the status script, compiled in. URLs carry a content
//! hash (see `layout::asset_version`), so they may be cached for a year.

use axum::extract::{Path, Query};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::web::route::{Access, Route};
use crate::web::views::layout::{asset_version, CSS, JS};

pub fn routes() -> Vec<Route> {
    vec![Route::get("/assets/{file}", Access::Public, asset)]
}

#[derive(Deserialize)]
struct Version {
    v: Option<String>,
}

async fn asset(Path(file): Path<String>, Query(q): Query<Version>) -> Response {
    let (body, kind) = match file.as_str() {
        "berth.css" => (CSS, "text/css; charset=utf-8"),
        "status.js" => (JS, "text/javascript; charset=utf-8"),
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let cache = if q.v.as_deref() == Some(asset_version()) {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=300"
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, cache),
            (header::ETAG, asset_version()),
        ],
        body,
    )
        .into_response()
}
