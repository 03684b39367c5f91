//! Backups: queue, list, show, download, verify, restore; status for the
//! dashboard; a plan's backup policy; manifest import.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};

use crate::audit::Actor;
use crate::domain::Trigger;
use crate::ops::{views, BackupHealth, BackupView, ImportReport, RestoreInput};
use crate::store::{BackupPolicy, RestoreRow};
use crate::web::error::WebError;
use crate::web::json::{ApiJson, ApiPath};
use crate::web::route::{Access, Route};
use crate::web::state::AppState;

pub fn routes() -> Vec<Route> {
    const T: Access = Access::Token;
    vec![
        Route::get("/api/v1/instances/{id}/backups", T, list),
        Route::post("/api/v1/instances/{id}/backups", T, create),
        Route::get("/api/v1/backups/status", T, status),
        Route::post("/api/v1/backups/import-manifests", T, import),
        Route::get("/api/v1/backups/{id}", T, show),
        Route::get("/api/v1/backups/{id}/download", T, download),
        Route::post("/api/v1/backups/{id}/verify", T, verify),
        Route::post("/api/v1/backups/{id}/restore", T, restore),
        Route::get("/api/v1/restores/{id}", T, show_restore),
        Route::get("/api/v1/plans/{name}/backup-policy", T, policy),
        Route::put("/api/v1/plans/{name}/backup-policy", T, set_policy),
        // The admin UI's download link: same handler, a signed-in session.
        Route::get("/backups/{id}/download", Access::Session, download),
    ]
}

async fn create(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    ApiPath(id): ApiPath<i64>,
) -> Result<(StatusCode, Json<BackupView>), WebError> {
    Ok((
        StatusCode::ACCEPTED,
        Json(s.ops.request_backup(&a, id, Trigger::Api).await?.into()),
    ))
}

async fn list(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<Vec<BackupView>>, WebError> {
    Ok(Json(views(s.ops.list_backups(id).await?)))
}

async fn show(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<BackupView>, WebError> {
    Ok(Json(s.ops.get_backup(id).await?.into()))
}

async fn status(State(s): State<AppState>) -> Result<Json<Vec<BackupHealth>>, WebError> {
    Ok(Json(s.ops.backup_status().await?))
}

async fn verify(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    ApiPath(id): ApiPath<i64>,
) -> Result<(StatusCode, Json<BackupView>), WebError> {
    Ok((
        StatusCode::ACCEPTED,
        Json(s.ops.request_verify(&a, id).await?.into()),
    ))
}

/// The body is optional: none restores in place, `{"into": "name"}` clones.
async fn restore(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    ApiPath(id): ApiPath<i64>,
    body: Bytes,
) -> Result<(StatusCode, Json<RestoreRow>), WebError> {
    let input: RestoreInput = if body.iter().all(u8::is_ascii_whitespace) {
        RestoreInput::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|e| WebError::new(StatusCode::UNPROCESSABLE_ENTITY, e.to_string()))?
    };
    Ok((
        StatusCode::ACCEPTED,
        Json(s.ops.request_restore(&a, id, input).await?),
    ))
}

async fn show_restore(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Json<RestoreRow>, WebError> {
    Ok(Json(s.ops.get_restore(id).await?))
}

async fn import(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
) -> Result<Json<ImportReport>, WebError> {
    Ok(Json(s.ops.import_manifests(&a).await?))
}

async fn policy(
    State(s): State<AppState>,
    ApiPath(name): ApiPath<String>,
) -> Result<Json<BackupPolicy>, WebError> {
    Ok(Json(s.ops.get_backup_policy(&name).await?))
}

async fn set_policy(
    State(s): State<AppState>,
    Extension(a): Extension<Actor>,
    ApiPath(name): ApiPath<String>,
    ApiJson(p): ApiJson<BackupPolicy>,
) -> Result<Json<BackupPolicy>, WebError> {
    Ok(Json(s.ops.set_backup_policy(&a, &name, p).await?))
}

/// Streams the archive; API tokens are admin credentials.
async fn download(
    State(s): State<AppState>,
    ApiPath(id): ApiPath<i64>,
) -> Result<Response, WebError> {
    archive_response(id, &s.ops.backup_file(id).await?).await
}

/// Backup `id`'s archive at `path` as a download (also the portal's).
pub(in crate::web) async fn archive_response(
    id: i64,
    path: &std::path::Path,
) -> Result<Response, WebError> {
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|e| WebError::new(StatusCode::NOT_FOUND, format!("archive unreadable: {e}")))?;
    let len = file.metadata().await.map(|m| m.len()).unwrap_or(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stream = futures_util::stream::unfold(file, |mut file| async move {
        use tokio::io::AsyncReadExt;
        let mut buf = vec![0u8; 256 * 1024];
        match file.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(Bytes::from(buf)), file))
            }
            Err(e) => Some((Err(e), file)),
        }
    });
    Ok((
        [
            (header::CONTENT_TYPE, "application/zstd".to_owned()),
            (header::CONTENT_LENGTH, len.to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"backup-{id}-{name}\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}
