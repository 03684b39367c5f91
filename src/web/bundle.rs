//! Streams a GDPR export bundle (a tar, see `backup::bundle`) as a
//! download: a blocking task writes the tar into a small channel and the
//! response body reads from it, so neither the archives nor the tar are
//! ever held whole in memory.

use axum::body::{Body, Bytes};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use crate::ops::ExportBundle;

/// Chunks in flight between the tar writer and the socket.
const CHUNKS: usize = 4;

pub fn download(bundle: ExportBundle, slug: &str) -> Response {
    let (tx, rx) = mpsc::channel::<std::io::Result<Bytes>>(CHUNKS);
    tokio::task::spawn_blocking(move || {
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, ChannelWriter(tx.clone()));
        if let Err(e) = bundle.write_to(&mut out) {
            tracing::warn!(error = %e, "export bundle cut short");
            // The client sees a broken download, not a truncated "complete" tar.
            let _ = tx.blocking_send(Err(e));
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    (
        [
            (header::CONTENT_TYPE, "application/x-tar".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"berth-export-{slug}.tar\""),
            ),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// The JSON document as a download.
pub fn json(export: &crate::ops::ClientExport) -> Response {
    let disposition = format!(
        "attachment; filename=\"berth-export-{}.json\"",
        export.client.slug
    );
    (
        [(header::CONTENT_DISPOSITION, disposition)],
        axum::Json(export),
    )
        .into_response()
}

struct ChannelWriter(mpsc::Sender<std::io::Result<Bytes>>);

impl std::io::Write for ChannelWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .blocking_send(Ok(Bytes::copy_from_slice(buf)))
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "download closed"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
