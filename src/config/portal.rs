//! The `[smtp]` and `[portal]` sections: how berth mails invitation and
//! password-reset links, and how the client portal presents itself.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{Config, ConfigError};

/// How the connection to the mail relay is secured.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain SMTP (a relay on this host or a test server).
    None,
    /// Plain connect, then STARTTLS (required, not opportunistic).
    Starttls,
    /// TLS from the first byte (SMTPS, usually port 465).
    Tls,
}

/// `[smtp]`: present means "mail the links"; absent means the provider
/// hands them over by hand.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpConfig {
    pub host: String,
    /// Defaults to 25, 587 or 465 by `tls`.
    pub port: Option<u16>,
    pub username: Option<String>,
    /// Better in `BERTH_SMTP_PASSWORD` or `password_file` than in the file.
    pub password: Option<String>,
    pub password_file: Option<PathBuf>,
    /// The sender, `addr@example.com` or `Name <addr@example.com>`.
    pub from: String,
    #[serde(default = "default_tls")]
    pub tls: SmtpTls,
}

fn default_tls() -> SmtpTls {
    SmtpTls::Starttls
}

impl SmtpConfig {
    pub fn port(&self) -> u16 {
        self.port.unwrap_or(match self.tls {
            SmtpTls::None => 25,
            SmtpTls::Starttls => 587,
            SmtpTls::Tls => 465,
        })
    }

    /// Takes the password from `BERTH_SMTP_PASSWORD` or `password_file`
    /// when given, so the config file itself need not hold it.
    fn resolve_password(
        &mut self,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        if let Some(p) = env("BERTH_SMTP_PASSWORD") {
            self.password = Some(p);
        } else if let Some(file) = &self.password_file {
            let text = std::fs::read_to_string(file).map_err(|e| {
                ConfigError(format!(
                    "smtp.password_file: cannot read {}: {e}",
                    file.display()
                ))
            })?;
            self.password = Some(text.trim_end_matches(['\r', '\n']).to_owned());
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if crate::domain::Hostname::parse(&self.host).is_err()
            && self.host.parse::<std::net::IpAddr>().is_err()
        {
            return Err(ConfigError(format!(
                "smtp.host: {:?} is not a host name or address",
                self.host
            )));
        }
        if self.from.parse::<lettre::message::Mailbox>().is_err() {
            return Err(ConfigError(format!(
                "smtp.from: {:?} is not a mail address",
                self.from
            )));
        }
        if self.password.is_some() != self.username.is_some() {
            return Err(ConfigError(
                "smtp.username: username and password go together".into(),
            ));
        }
        Ok(())
    }
}

impl fmt::Debug for SmtpConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("host", &self.host)
            .field("port", &self.port())
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "<set>"))
            .field("from", &self.from)
            .field("tls", &self.tls)
            .finish()
    }
}

/// `[portal]`: the client portal's look and the base of links in mails.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PortalConfig {
    /// The provider's name, shown in the portal's header and mails.
    pub brand_name: String,
    /// A PNG, SVG, JPEG or WebP shown beside the brand name, served at `/portal/logo`.
    pub logo_file: Option<PathBuf>,
    /// Where clients reach berth, e.g. `https://panel.example.com`; links in
    /// mails start with it. Defaults to the admin listener's own address.
    pub public_url: Option<String>,
}

impl Default for PortalConfig {
    fn default() -> Self {
        Self {
            brand_name: "berth".into(),
            logo_file: None,
            public_url: None,
        }
    }
}

impl PortalConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        let name = self.brand_name.trim();
        if name.is_empty() || name.chars().count() > 60 || name.chars().any(char::is_control) {
            return Err(ConfigError(
                "portal.brand_name: must be 1-60 characters on one line".into(),
            ));
        }
        if let Some(url) = &self.public_url {
            let ok = (url.starts_with("http://") || url.starts_with("https://"))
                && reqwest::Url::parse(url).is_ok();
            if !ok {
                return Err(ConfigError(format!(
                    "portal.public_url: {url:?} is not an http(s) URL"
                )));
            }
        }
        Ok(())
    }

    pub(super) fn resolve_paths(&mut self, cwd: &Path) {
        if let Some(p) = &mut self.logo_file {
            if p.is_relative() {
                *p = cwd.join(&*p);
            }
        }
    }
}

impl Config {
    /// The base of links berth mails to client users: `[portal] public_url`,
    /// else the admin listener's own address.
    pub fn portal_base_url(&self) -> String {
        match &self.portal.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }

    pub(super) fn resolve_smtp_password(
        &mut self,
        env: &impl Fn(&str) -> Option<String>,
    ) -> Result<(), ConfigError> {
        match &mut self.smtp {
            Some(smtp) => smtp.resolve_password(env),
            None => Ok(()),
        }
    }

    pub(super) fn validate_portal(&self) -> Result<(), ConfigError> {
        if let Some(smtp) = &self.smtp {
            smtp.validate()?;
        }
        self.portal.validate()
    }
}
