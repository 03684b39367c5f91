//! An instance's recent output for its client: the last lines from the
//! Docker adapter, cleaned for a browser that belongs to someone else than
//! the host's operator (no terminal escapes, no host paths, bounded size).
//!
//! The one read `ops` makes of Docker: the output exists nowhere else, and
//! reading it changes nothing the reconciler owns.

use std::path::PathBuf;

use serde::Serialize;

use super::portal::owned;
use super::{Ops, OpsError};
use crate::config::Config;
use crate::store::PortalIdentity;

/// How many lines the portal shows.
pub const LOG_LINES: usize = 500;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct LogTail {
    /// Oldest first.
    pub lines: Vec<String>,
    /// Why there are no lines, when there are none for a reason.
    pub note: Option<String>,
}

impl LogTail {
    fn note(text: &str) -> Self {
        Self {
            lines: Vec::new(),
            note: Some(text.to_owned()),
        }
    }
}

/// The host directories a client must not learn, each with what it reads
/// as instead; the longest first, so a path inside another is replaced whole.
pub(crate) struct HostPaths(Vec<(String, &'static str)>);

impl HostPaths {
    pub(crate) fn new(config: &Config) -> Self {
        let mut list: Vec<(PathBuf, &'static str)> = vec![
            (config.instances_dir(), "<instances>"),
            (config.backup_dir(), "<backups>"),
            (config.data_dir.clone(), "<berth>"),
        ];
        list.sort_by_key(|(p, _)| std::cmp::Reverse(p.as_os_str().len()));
        Self(
            list.into_iter()
                .map(|(p, label)| (p.to_string_lossy().trim_end_matches('/').to_owned(), label))
                .filter(|(p, _)| !p.is_empty())
                .collect(),
        )
    }

    /// `text` with every host directory replaced by its label.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for (path, label) in &self.0 {
            if out.contains(path.as_str()) {
                out = out.replace(path.as_str(), label);
            }
        }
        out
    }
}

/// One raw output frame as a line of text: escape sequences and control
/// characters removed (a tenant's colours, cursor moves or a forged
/// "clear screen" stay in its terminal), then host paths replaced.
pub(crate) fn clean_line(raw: &[u8], paths: &HostPaths) -> String {
    let stripped = anstream::adapter::strip_bytes(raw).into_vec();
    let text: String = String::from_utf8_lossy(&stripped)
        .chars()
        .filter(|c| *c == '\t' || !c.is_control())
        .collect();
    paths.scrub(&text)
}

impl Ops {
    /// The last [`LOG_LINES`] lines of one of the client's instances.
    /// Engine trouble is a note on the page, not a failed page.
    pub async fn portal_logs(&self, me: &PortalIdentity, name: &str) -> Result<LogTail, OpsError> {
        let (me2, name2) = (me.clone(), name.to_owned());
        let row = self
            .store
            .read(move |conn| Ok(owned(conn, &me2, &name2)))
            .await??;
        let Some(docker) = &self.docker else {
            return Ok(LogTail::note(
                "Logs are read by the berth service; this process has no Docker connection.",
            ));
        };
        let Some(container) = row.container_id.as_deref() else {
            return Ok(LogTail::note("The instance has no container yet."));
        };
        let frames = match docker.tail_logs(container, LOG_LINES).await {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(instance = row.id, error = %e, "reading an instance's logs");
                return Ok(LogTail::note(
                    "The logs could not be read just now; try again shortly.",
                ));
            }
        };
        let paths = HostPaths::new(&self.config);
        let lines: Vec<String> = frames.iter().map(|f| clean_line(f, &paths)).collect();
        let note = lines.is_empty().then(|| "No output yet.".to_owned());
        Ok(LogTail { lines, note })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> HostPaths {
        let mut config = crate::config::Config::default();
        config.data_dir = "/var/lib/berth".into();
        config.backup_dir = Some("/srv/backups/".into());
        HostPaths::new(&config)
    }

    #[test]
    fn escapes_and_control_characters_are_removed() {
        let raw = b"\x1b[31mred\x1b[0m and \x1b]0;title\x07plain\x1b[2J\r\n";
        assert_eq!(clean_line(raw, &paths()), "red and plain");
        assert_eq!(clean_line(b"a\tb\x08c", &paths()), "a\tbc");
    }

    #[test]
    fn host_paths_are_replaced_longest_first() {
        let p = paths();
        assert_eq!(
            p.scrub("open /var/lib/berth/instances/acme/main/db: denied"),
            "open <instances>/acme/main/db: denied"
        );
        assert_eq!(
            p.scrub("wrote /srv/backups/acme/x.tar"),
            "wrote <backups>/acme/x.tar"
        );
        assert_eq!(
            p.scrub("db at /var/lib/berth/berth.db"),
            "db at <berth>/berth.db"
        );
        assert_eq!(
            p.scrub("/app/backend/data is fine"),
            "/app/backend/data is fine"
        );
    }

    #[test]
    fn invalid_bytes_are_dropped_and_text_kept() {
        assert_eq!(
            clean_line("ok \u{e9}t\u{e9}".as_bytes(), &paths()),
            "ok \u{e9}t\u{e9}"
        );
        assert_eq!(clean_line(b"ok \xff done", &paths()), "ok  done");
    }
}
