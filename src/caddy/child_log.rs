//! The managed Caddy's output, forwarded into berth's log at the level Caddy
//! gave each line, with its last error kept for the health report.

use std::sync::{Arc, Mutex};

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncRead, BufReader};

/// Caddy logs one JSON object per line; keep its level so its errors show up
/// in berth's log and its chatter stays at debug. A line that is not JSON is
/// Caddy's own last word before exiting ("Error: reading config file ..."),
/// so it is an error too. Error lines are remembered in `last_error`.
///
/// This must drain the pipe until Caddy closes it: Caddy is a Go program, and
/// a write to a closed stdout/stderr pipe kills it with SIGPIPE. Hence bytes
/// and lossy UTF-8 rather than `lines()`, which gives up on invalid UTF-8.
pub(super) async fn forward_logs(
    pipe: impl AsyncRead + Unpin,
    last_error: Arc<Mutex<Option<String>>>,
) {
    let mut reader = BufReader::new(pipe);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim_end();
        if line.is_empty() {
            continue;
        }
        match classify(line) {
            ChildLine::Error { logger, message } => {
                if logger.is_empty() {
                    tracing::error!(target: "berth::caddy::child", "{line}");
                } else {
                    tracing::error!(target: "berth::caddy::child", %logger, "{line}");
                }
                *last_error.lock().unwrap_or_else(|e| e.into_inner()) = Some(message);
            }
            ChildLine::Warn { logger } => {
                tracing::warn!(target: "berth::caddy::child", %logger, "{line}")
            }
            ChildLine::Other { logger, message } => {
                tracing::debug!(target: "berth::caddy::child", %logger, "{message}")
            }
        }
    }
}

#[derive(Debug, PartialEq)]
enum ChildLine {
    Error { logger: String, message: String },
    Warn { logger: String },
    Other { logger: String, message: String },
}

fn classify(line: &str) -> ChildLine {
    let Ok(parsed) = serde_json::from_str::<Value>(line) else {
        return ChildLine::Error {
            logger: String::new(),
            message: line.to_owned(),
        };
    };
    let field = |k: &str| parsed.get(k).and_then(Value::as_str).map(str::to_owned);
    let logger = field("logger").unwrap_or_default();
    // Per-request lines (`http.log.error` for a 502 of a tenant that is
    // starting or down, `http.log.access`) are tenant traffic, not Caddy's
    // health: an ERROR each would flood berth's log and the health report.
    if logger.starts_with("http.log") {
        return ChildLine::Other {
            logger,
            message: field("msg").unwrap_or_else(|| line.to_owned()),
        };
    }
    match field("level").as_deref() {
        Some("error" | "fatal" | "panic" | "dpanic") => {
            let message = match (field("msg"), field("error")) {
                (Some(m), Some(e)) => format!("{m}: {e}"),
                (Some(m), None) => m,
                (None, Some(e)) => e,
                (None, None) => line.to_owned(),
            };
            ChildLine::Error { logger, message }
        }
        Some("warn") => ChildLine::Warn { logger },
        _ => ChildLine::Other {
            logger,
            message: field("msg").unwrap_or_else(|| line.to_owned()),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_an_error_and_json_keeps_its_level() {
        assert_eq!(
            classify("Error: reading config file: open x: no such file"),
            ChildLine::Error {
                logger: String::new(),
                message: "Error: reading config file: open x: no such file".into()
            }
        );
        assert_eq!(
            classify(
                r#"{"level":"error","logger":"http","msg":"listen","error":"bind: address already in use"}"#
            ),
            ChildLine::Error {
                logger: "http".into(),
                message: "listen: bind: address already in use".into()
            }
        );
        assert_eq!(
            classify(
                r#"{"level":"error","logger":"http.log.error","msg":"dial tcp 127.0.0.1:8001: connect: connection refused","status":502}"#
            ),
            ChildLine::Other {
                logger: "http.log.error".into(),
                message: "dial tcp 127.0.0.1:8001: connect: connection refused".into()
            },
            "a tenant's 502 is traffic, not a Caddy failure"
        );
        assert_eq!(
            classify(r#"{"level":"warn","logger":"tls","msg":"x"}"#),
            ChildLine::Warn {
                logger: "tls".into()
            }
        );
        assert_eq!(
            classify(r#"{"level":"info","msg":"serving"}"#),
            ChildLine::Other {
                logger: String::new(),
                message: "serving".into()
            }
        );
    }
}
