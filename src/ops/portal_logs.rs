//! An instance's recent output for its client: the last lines from the
//! Docker adapter, cleaned for a browser that belongs to someone else than
//! the host's operator (no terminal escapes, no host paths, bounded size).
//! The admin's view (`instance_logs`, `follow_instance_logs`) reads through
//! the same cleaning, host paths kept: the operator owns them.
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
/// The most lines an admin may ask for at once: the engine reads the whole
/// tail into memory before the first byte goes out.
pub const MAX_TAIL: usize = 10_000;

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
    /// Nothing replaced: for the host's operator.
    pub(crate) fn none() -> Self {
        Self(Vec::new())
    }

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
        let paths = HostPaths::new(&self.config);
        // Only the daemon's own connection: a page never dials the engine
        // anew (the CLI, which has none, reads logs with `instance_logs`).
        let Some(docker) = self.docker.clone() else {
            return Ok(LogTail::note(
                "Logs are read by the berth service; this process has no Docker connection.",
            ));
        };
        Ok(read_tail(
            &docker,
            row.id,
            row.container_id.as_deref(),
            LOG_LINES,
            &paths,
        )
        .await)
    }

    /// The last `tail` lines (1..=[`MAX_TAIL`]) of any instance, for the
    /// admin UI and the API.
    pub async fn instance_logs(&self, id: i64, tail: usize) -> Result<LogTail, OpsError> {
        check_tail(tail)?;
        let row = self.get_instance(id).await?;
        let docker = match self.docker_or_connect().await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(instance = id, error = %e, "no Docker connection for logs");
                return Ok(LogTail::note(
                    "The logs could not be read: Docker is not reachable.",
                ));
            }
        };
        let (container, paths) = (row.container_id.as_deref(), HostPaths::none());
        Ok(read_tail(&docker, row.id, container, tail, &paths).await)
    }

    /// The last `tail` lines of an instance, then each new line as it is
    /// written, cleaned; ends when the container stops. For `berth instance
    /// logs -f`, which ends it with Ctrl-C.
    pub async fn follow_instance_logs(
        &self,
        id: i64,
        tail: usize,
    ) -> Result<impl futures_util::Stream<Item = Result<String, OpsError>> + use<>, OpsError> {
        use futures_util::StreamExt;
        check_tail(tail)?;
        let row = self.get_instance(id).await?;
        let docker = self.docker_or_connect().await?;
        let container = row
            .container_id
            .ok_or_else(|| OpsError::Conflict(format!("instance {id} has no container yet")))?;
        let paths = HostPaths::none();
        Ok(docker.follow_logs(&container, tail).map(move |frame| {
            frame
                .map(|f| clean_line(&f, &paths))
                .map_err(|e| OpsError::Io(format!("reading the logs of instance {id}: {e}")))
        }))
    }

    /// The daemon's Docker connection, or (the CLI) a new one, with the
    /// registry logins (the update check pulls through it).
    pub(super) async fn docker_or_connect(&self) -> Result<crate::docker::Docker, OpsError> {
        match &self.docker {
            Some(d) => Ok(d.clone()),
            None => crate::docker::Docker::connect(
                &self.config.docker.socket,
                &self.config.docker.owner,
            )
            .await
            .map(|d| d.with_logins(crate::updates::registry_logins(&self.config)))
            .map_err(|e| OpsError::Io(e.to_string())),
        }
    }
}

/// Engine trouble is a note, not an error: the page around it still shows.
async fn read_tail(
    docker: &crate::docker::Docker,
    id: i64,
    container: Option<&str>,
    lines: usize,
    paths: &HostPaths,
) -> LogTail {
    let Some(container) = container else {
        return LogTail::note("The instance has no container yet.");
    };
    let frames = match docker.tail_logs(container, lines).await {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(instance = id, error = %e, "reading an instance's logs");
            return LogTail::note("The logs could not be read just now; try again shortly.");
        }
    };
    let lines: Vec<String> = frames.iter().map(|f| clean_line(f, paths)).collect();
    let note = lines.is_empty().then(|| "No output yet.".to_owned());
    LogTail { lines, note }
}

fn check_tail(tail: usize) -> Result<(), OpsError> {
    if (1..=MAX_TAIL).contains(&tail) {
        Ok(())
    } else {
        Err(crate::domain::DomainError::new(
            "tail",
            format!("{tail} is not between 1 and {MAX_TAIL}"),
        )
        .into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn paths() -> HostPaths {
        let config = crate::config::Config {
            data_dir: "/var/lib/berth".into(),
            backup_dir: Some("/srv/backups/".into()),
            ..Default::default()
        };
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
