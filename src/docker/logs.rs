//! The last lines a container wrote (stdout and stderr), read-only, for the
//! client portal's log view, the admin's and `berth instance logs -f`.

use std::collections::VecDeque;

use bollard::query_parameters::LogsOptionsBuilder;
use futures_util::{Stream, StreamExt};

use super::client::classify;
use super::{Docker, DockerError};

/// A line longer than this is cut: the engine splits a long line into
/// 16 KiB frames, and a page of 500 such frames would be 8 MiB.
const MAX_LINE_BYTES: usize = 2048;

impl Docker {
    /// Up to `lines` of the newest output lines, oldest first, each at most
    /// [`MAX_LINE_BYTES`] (raw bytes: escape sequences and all).
    pub async fn tail_logs(&self, id: &str, lines: usize) -> Result<Vec<Vec<u8>>, DockerError> {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .tail(&lines.to_string())
            .build();
        let mut stream = self.inner.logs(id, Some(options));
        let mut kept: VecDeque<Vec<u8>> = VecDeque::with_capacity(lines.min(1024));
        while let Some(frame) = stream.next().await {
            let frame = frame.map_err(|e| classify(e, || format!("container {id}")))?;
            let bytes: &[u8] = frame.as_ref();
            if kept.len() == lines {
                kept.pop_front();
            }
            kept.push_back(bytes[..bytes.len().min(MAX_LINE_BYTES)].to_vec());
        }
        Ok(kept.into())
    }

    /// The last `lines` output lines, then every new one as it is written,
    /// until the container stops or the caller drops the stream. Each line
    /// is cut at [`MAX_LINE_BYTES`] like [`Docker::tail_logs`].
    pub fn follow_logs(
        &self,
        id: &str,
        lines: usize,
    ) -> impl Stream<Item = Result<Vec<u8>, DockerError>> + Send + 'static {
        let options = LogsOptionsBuilder::new()
            .stdout(true)
            .stderr(true)
            .follow(true)
            .tail(&lines.to_string())
            .build();
        let id = id.to_owned();
        self.inner
            .logs(&id.clone(), Some(options))
            .map(move |frame| {
                let frame = frame.map_err(|e| classify(e, || format!("container {id}")))?;
                let bytes: &[u8] = frame.as_ref();
                Ok(bytes[..bytes.len().min(MAX_LINE_BYTES)].to_vec())
            })
    }
}
