//! `[[offsite]]` targets: restic repositories berth copies verified backups
//! and its own state to. The repository password never lives in the TOML
//! file or the database: it comes from `password_file` (handed to restic
//! as that path) or the variable `password_env` names (read once at load),
//! and `Debug` masks it.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::ConfigError;

#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OffsiteTarget {
    /// How berth, its CLI, API and metrics name the target: 1-32 of a-z, 0-9, '-'.
    pub name: String,
    /// A restic repository: `sftp:user@host:/path`, `rest:http(s)://…` or `s3:…`.
    pub repository: String,
    /// A file holding the repository password (one line), readable by berth only.
    pub password_file: Option<PathBuf>,
    /// The environment variable holding the password; exactly one of the two.
    pub password_env: Option<String>,
    /// Filled at load from `password_env`; never from TOML.
    #[serde(skip)]
    pub password: Option<RepoPassword>,
    /// SSH port of an `sftp:` repository (a Hetzner Storage Box answers on 23).
    pub sftp_port: Option<u16>,
    /// Private key for an `sftp:` repository.
    pub sftp_key_file: Option<PathBuf>,
    /// known_hosts holding the server's key; when set, no other key is accepted.
    pub sftp_known_hosts: Option<PathBuf>,
    /// Upload and download limits in KiB/s (restic's `--limit-upload/-download`).
    pub limit_upload: Option<u32>,
    pub limit_download: Option<u32>,
    /// Cron expression (UTC) for copying every instance's newest verified
    /// backup; empty: copy after each successful local backup.
    #[serde(default)]
    pub copy_schedule: String,
    /// Cron (UTC) for `restic prune` (data no snapshot references goes);
    /// empty disables. Forgets run after each round of copies.
    #[serde(default = "default_prune_schedule")]
    pub prune_schedule: String,
    /// Cron (UTC) for `restic check --read-data-subset=<check_read_data>`; empty disables.
    #[serde(default = "default_check_schedule")]
    pub check_schedule: String,
    /// How much data a scheduled check reads: "all", "5%", "1/7", "500M".
    #[serde(default = "default_check_read_data")]
    pub check_read_data: String,
    /// Cron (UTC) for a test-restore of one instance's newest snapshot into
    /// scratch space, verified like a local backup; empty disables.
    #[serde(default = "default_test_restore_schedule")]
    pub test_restore_schedule: String,
}

fn default_prune_schedule() -> String {
    "0 5 * * 0".into()
}

fn default_check_schedule() -> String {
    "0 3 * * 0".into()
}

fn default_check_read_data() -> String {
    "5%".into()
}

fn default_test_restore_schedule() -> String {
    "0 4 * * 0".into()
}

/// The repository password from the environment; prints as `<set>`.
#[derive(Clone, PartialEq)]
pub struct RepoPassword(String);

impl RepoPassword {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for RepoPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<set>")
    }
}

/// What kind of repository a target is; decides which options apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RepoKind {
    Sftp,
    Rest,
    S3,
}

impl OffsiteTarget {
    pub fn kind(&self) -> RepoKind {
        match self.repository.split_once(':').map(|(k, _)| k) {
            Some("sftp") => RepoKind::Sftp,
            Some("rest") => RepoKind::Rest,
            _ => RepoKind::S3,
        }
    }

    /// `user@host` of an `sftp:user@host:/path` repository.
    pub fn sftp_host(&self) -> Option<&str> {
        let rest = self.repository.strip_prefix("sftp:")?;
        let (host, path) = rest.split_once(':')?;
        (!host.is_empty() && !path.is_empty()).then_some(host)
    }

    fn validate(&self, i: usize) -> Result<(), ConfigError> {
        let key = |k: &str| format!("offsite[{i}].{k}");
        let bad = |k: &str, why: String| Err(ConfigError(format!("{}: {why}", key(k))));
        let name_ok = (1..=32).contains(&self.name.len())
            && self
                .name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !name_ok {
            return bad(
                "name",
                format!("{:?} must be 1-32 of a-z, 0-9, '-'", self.name),
            );
        }
        let repo = &self.repository;
        let known = ["sftp:", "rest:http://", "rest:https://", "s3:"]
            .iter()
            .any(|p| repo.starts_with(p) && repo.len() > p.len());
        if !known {
            return bad(
                "repository",
                format!("{repo:?} is not sftp:user@host:/path, rest:http(s)://… or s3:…"),
            );
        }
        if self.kind() == RepoKind::Sftp && self.sftp_host().is_none() {
            return bad(
                "repository",
                format!("{repo:?} is not sftp:user@host:/path"),
            );
        }
        if self.kind() != RepoKind::Sftp
            && (self.sftp_port.is_some()
                || self.sftp_key_file.is_some()
                || self.sftp_known_hosts.is_some())
        {
            return bad(
                "sftp_port",
                "sftp_port, sftp_key_file and sftp_known_hosts apply to sftp: repositories only"
                    .into(),
            );
        }
        // restic splits sftp.command on whitespace: a path with a space or
        // a quote would become two arguments.
        for (k, path) in [
            ("sftp_key_file", &self.sftp_key_file),
            ("sftp_known_hosts", &self.sftp_known_hosts),
        ] {
            if let Some(p) = path {
                let text = p.display().to_string();
                if text
                    .chars()
                    .any(|c| c.is_whitespace() || c == '"' || c == '\'')
                {
                    return bad(k, format!("{text:?} must not contain spaces or quotes"));
                }
            }
        }
        if self.sftp_port == Some(0) {
            return bad("sftp_port", "must be non-zero".into());
        }
        match (&self.password_file, &self.password_env) {
            (Some(_), None) | (None, Some(_)) => {}
            _ => {
                return bad(
                    "password_file",
                    "exactly one of password_file or password_env is required".into(),
                )
            }
        }
        for (k, limit) in [
            ("limit_upload", self.limit_upload),
            ("limit_download", self.limit_download),
        ] {
            if limit == Some(0) {
                return bad(
                    k,
                    "must be at least 1 KiB/s (leave it out for no limit)".into(),
                );
            }
        }
        for (k, cron) in [
            ("copy_schedule", &self.copy_schedule),
            ("prune_schedule", &self.prune_schedule),
            ("check_schedule", &self.check_schedule),
            ("test_restore_schedule", &self.test_restore_schedule),
        ] {
            if let Err(why) = crate::domain::schedule::parse_optional(cron) {
                return bad(k, why);
            }
        }
        if let Err(e) = crate::domain::ReadData::parse(&self.check_read_data) {
            return bad("check_read_data", e.problem);
        }
        Ok(())
    }
}

impl fmt::Debug for OffsiteTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OffsiteTarget")
            .field("name", &self.name)
            // The repository URL may carry credentials (rest:https://user:pass@…).
            .field("repository", &mask_userinfo(&self.repository))
            .field("password_file", &self.password_file)
            .field("password_env", &self.password_env)
            .field("password", &self.password)
            .field("sftp_port", &self.sftp_port)
            .field("sftp_key_file", &self.sftp_key_file)
            .field("sftp_known_hosts", &self.sftp_known_hosts)
            .field("limit_upload", &self.limit_upload)
            .field("limit_download", &self.limit_download)
            .field("copy_schedule", &self.copy_schedule)
            .field("prune_schedule", &self.prune_schedule)
            .field("check_schedule", &self.check_schedule)
            .field("check_read_data", &self.check_read_data)
            .field("test_restore_schedule", &self.test_restore_schedule)
            .finish()
    }
}

/// `rest:https://user:secret@host/` → `rest:https://user:<masked>@host/`.
pub fn mask_userinfo(repo: &str) -> String {
    let Some(scheme_end) = repo.find("://") else {
        return repo.to_owned();
    };
    let rest = &repo[scheme_end + 3..];
    let host_start = rest.find('/').unwrap_or(rest.len());
    match rest[..host_start].rfind('@') {
        Some(at) => match rest[..at].split_once(':') {
            Some((user, _)) => format!("{}{user}:<masked>{}", &repo[..scheme_end + 3], &rest[at..]),
            None => repo.to_owned(),
        },
        None => repo.to_owned(),
    }
}

/// Checks every target, their names unique, and reads `password_env` values.
pub(super) fn load(
    targets: &mut [OffsiteTarget],
    env: &impl Fn(&str) -> Option<String>,
) -> Result<(), ConfigError> {
    for (i, t) in targets.iter().enumerate() {
        t.validate(i)?;
        if targets[..i].iter().any(|o| o.name == t.name) {
            return Err(ConfigError(format!(
                "offsite[{i}].name: {:?} is used by another target",
                t.name
            )));
        }
    }
    for (i, t) in targets.iter_mut().enumerate() {
        if let Some(var) = &t.password_env {
            match env(var).filter(|v| !v.is_empty()) {
                Some(v) => t.password = Some(RepoPassword(v)),
                None => {
                    return Err(ConfigError(format!(
                        "offsite[{i}].password_env: {var} is not set"
                    )))
                }
            }
        }
    }
    Ok(())
}

pub(super) fn resolve_paths(targets: &mut [OffsiteTarget], cwd: &Path) {
    for t in targets {
        for p in [
            &mut t.password_file,
            &mut t.sftp_key_file,
            &mut t.sftp_known_hosts,
        ]
        .into_iter()
        .flatten()
        {
            if p.is_relative() {
                *p = cwd.join(&*p);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(toml: &str) -> Result<Vec<OffsiteTarget>, ConfigError> {
        #[derive(Deserialize)]
        struct Doc {
            offsite: Vec<OffsiteTarget>,
        }
        let doc: Doc = toml::from_str(toml).map_err(|e| ConfigError(e.to_string()))?;
        let mut targets = doc.offsite;
        load(&mut targets, &|k| (k == "PW").then(|| "secret".to_owned()))?;
        Ok(targets)
    }

    #[test]
    fn a_storage_box_target_loads() {
        let t = target(
            "[[offsite]]\nname = \"box\"\nrepository = \"sftp:u1@u1.your-storagebox.de:/berth\"\n\
             password_env = \"PW\"\nsftp_port = 23\nlimit_upload = 2048\n",
        )
        .unwrap();
        assert_eq!(t[0].kind(), RepoKind::Sftp);
        assert_eq!(t[0].sftp_host(), Some("u1@u1.your-storagebox.de"));
        assert_eq!(t[0].password.as_ref().unwrap().expose(), "secret");
        assert!(!format!("{:?}", t[0]).contains("secret"));
        // Maintenance is weekly unless told otherwise, reading 5 % of the data.
        assert_eq!(
            (
                t[0].prune_schedule.as_str(),
                t[0].check_schedule.as_str(),
                t[0].test_restore_schedule.as_str(),
                t[0].check_read_data.as_str()
            ),
            ("0 5 * * 0", "0 3 * * 0", "0 4 * * 0", "5%")
        );
        let off = target(
            "[[offsite]]\nname = \"b\"\nrepository = \"s3:x/y\"\npassword_env = \"PW\"\n\
             prune_schedule = \"\"\ncheck_schedule = \"*/5 * * * * *\"\ncheck_read_data = \"all\"\n",
        )
        .unwrap();
        assert!(off[0].prune_schedule.is_empty() && off[0].check_read_data == "all");
    }

    #[test]
    fn bad_targets_name_the_key() {
        let cases = [
            ("name = \"Box\"\nrepository = \"s3:x/y\"\npassword_env = \"PW\"", "offsite[0].name"),
            ("name = \"b\"\nrepository = \"/local\"\npassword_env = \"PW\"", "offsite[0].repository"),
            ("name = \"b\"\nrepository = \"sftp:host\"\npassword_env = \"PW\"", "offsite[0].repository"),
            ("name = \"b\"\nrepository = \"s3:x/y\"", "exactly one of"),
            ("name = \"b\"\nrepository = \"s3:x/y\"\npassword_env = \"NOPE\"", "NOPE is not set"),
            ("name = \"b\"\nrepository = \"s3:x/y\"\npassword_env = \"PW\"\nsftp_port = 23", "sftp: repositories only"),
            ("name = \"b\"\nrepository = \"s3:x/y\"\npassword_env = \"PW\"\ncopy_schedule = \"soon\"", "offsite[0].copy_schedule"),
            ("name = \"b\"\nrepository = \"s3:x/y\"\npassword_env = \"PW\"\nlimit_upload = 0", "offsite[0].limit_upload"),
            ("name = \"b\"\nrepository = \"s3:x/y\"\npassword_env = \"PW\"\nprune_schedule = \"weekly\"", "offsite[0].prune_schedule"),
            ("name = \"b\"\nrepository = \"s3:x/y\"\npassword_env = \"PW\"\ncheck_schedule = \"61 * * * *\"", "offsite[0].check_schedule"),
            ("name = \"b\"\nrepository = \"s3:x/y\"\npassword_env = \"PW\"\ntest_restore_schedule = \"0 4 * *\"", "offsite[0].test_restore_schedule"),
            ("name = \"b\"\nrepository = \"s3:x/y\"\npassword_env = \"PW\"\ncheck_read_data = \"0%\"", "offsite[0].check_read_data"),
            ("name = \"b\"\nrepository = \"s3:x/y\"\npassword_env = \"PW\"\ncheck_read_data = \"5 percent\"", "offsite[0].check_read_data"),
            ("name = \"b\"\nrepository = \"sftp:u@h:/p\"\npassword_env = \"PW\"\nsftp_key_file = \"/my keys/id\"", "offsite[0].sftp_key_file"),
        ];
        for (body, want) in cases {
            let err = target(&format!("[[offsite]]\n{body}\n")).unwrap_err().0;
            assert!(err.contains(want), "{body:?}: {err}");
        }
        let twice = "[[offsite]]\nname = \"b\"\nrepository = \"s3:x/y\"\npassword_env = \"PW\"\n";
        let err = target(&format!("{twice}{twice}")).unwrap_err().0;
        assert!(
            err.contains("offsite[1].name") && err.contains("another target"),
            "{err}"
        );
    }

    #[test]
    fn credentials_in_a_repository_url_are_masked() {
        assert_eq!(
            mask_userinfo("rest:https://me:hunter2@host:8000/repo"),
            "rest:https://me:<masked>@host:8000/repo"
        );
        assert_eq!(mask_userinfo("rest:http://host/r"), "rest:http://host/r");
        assert_eq!(mask_userinfo("sftp:u@h:/p"), "sftp:u@h:/p");
    }
}
