//! App blueprints: one TOML file per app in the blueprint dir. A blueprint
//! says which image to run and how; an instance is a blueprint filled in
//! with a client's values.

use std::collections::BTreeMap;
use std::path::Path;

use serde::Deserialize;

use crate::fsutil::Owner;

mod placeholders;
pub use placeholders::{public_url, Placeholders};

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Blueprint {
    #[serde(skip)]
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub image: String,
    /// `"busybox"`: berth builds the image itself from the host's busybox-static.
    pub build: Option<BuildKind>,
    pub internal_port: u16,
    pub command: Option<Vec<String>>,
    pub data_mount: String,
    pub user: Option<String>,
    #[serde(default)]
    pub backup_consistency: Consistency,
    /// For `backup_consistency = "exec"`: run in the container before archiving.
    pub backup_exec: Option<Vec<String>>,
    /// Defaults with `{client}`, `{client_name}`, `{instance}`, `{domain}`,
    /// `{port}` (the host port) and `{public_url}` (how browsers reach the
    /// instance through Caddy, e.g. `http://acme.localhost:8088`).
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Env vars generated once per instance: name → length in characters.
    #[serde(default)]
    pub secrets: BTreeMap<String, usize>,
    pub health: Option<HealthCheck>,
    /// Files written into a new instance's data dir when missing.
    #[serde(default)]
    pub seed: BTreeMap<String, String>,
    /// Capabilities added back to the container, which starts with none
    /// (`cap_drop = ALL`). Docker's spelling without `CAP_`, e.g. "CHOWN";
    /// each blueprint says why it needs each one.
    #[serde(default)]
    pub cap_add: Vec<String>,
    /// `"uid:gid"` owning a new data dir and its seed files: the user the app
    /// runs as inside its container, so it can write its data without
    /// CAP_DAC_OVERRIDE even though berth itself does not run as root.
    #[serde(default = "d_data_owner")]
    pub data_owner: String,
    /// How the instance receives its client's LLM key, if it wants one.
    pub llm: Option<LlmInjection>,
    /// An admin account the app creates at its first start from env vars.
    pub admin: Option<AdminAccount>,
}

/// `[llm]`: the env vars that carry the client's key and the provider's
/// OpenAI-compatible base URL, plus extra env set only when a key is
/// injected (e.g. `ENABLE_OPENAI_API = "true"`).
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct LlmInjection {
    pub key_env: String,
    pub base_url_env: String,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
}

/// `[admin]`: the env vars an app reads at its first start (when it has no
/// user yet) to create its admin account. berth generates the password,
/// keeps it encrypted and shows it once; the email is the client's.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AdminAccount {
    pub email_env: String,
    pub password_env: String,
    pub name_env: Option<String>,
}

fn d_data_owner() -> String {
    "0:0".into()
}

#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum BuildKind {
    Busybox,
}

/// How a backup gets a consistent view of a live data directory.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum Consistency {
    #[default]
    Pause,
    Stop,
    Exec,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    pub test: Vec<String>,
    #[serde(default = "d_interval")]
    pub interval: u32,
    #[serde(default = "d_timeout")]
    pub timeout: u32,
    #[serde(default = "d_retries")]
    pub retries: u32,
    #[serde(default)]
    pub start_period: u32,
}

fn d_interval() -> u32 {
    10
}
fn d_timeout() -> u32 {
    3
}
fn d_retries() -> u32 {
    3
}

#[derive(Debug, thiserror::Error)]
pub enum BlueprintError {
    #[error("blueprint {file}: {message}")]
    Invalid { file: String, message: String },
    #[error("blueprint dir {dir}: {source}")]
    Io { dir: String, source: std::io::Error },
}

impl Blueprint {
    pub fn parse(name: &str, text: &str) -> Result<Self, BlueprintError> {
        let invalid = |message: String| BlueprintError::Invalid {
            file: name.to_owned(),
            message,
        };
        let mut bp: Blueprint =
            toml::from_str(text).map_err(|e| invalid(e.message().to_owned()))?;
        bp.name = name.to_owned();
        if bp.image.trim().is_empty() {
            return Err(invalid("image is empty".into()));
        }
        if bp.internal_port == 0 {
            return Err(invalid("internal_port must be non-zero".into()));
        }
        if !bp.data_mount.starts_with('/') {
            return Err(invalid("data_mount must be an absolute path".into()));
        }
        if bp.backup_consistency == Consistency::Exec
            && bp.backup_exec.as_ref().is_none_or(|c| c.is_empty())
        {
            return Err(invalid(
                "backup_consistency = \"exec\" needs backup_exec".into(),
            ));
        }
        parse_owner(&bp.data_owner).ok_or_else(|| {
            invalid(format!(
                "data_owner {:?} must be \"uid:gid\" in numbers",
                bp.data_owner
            ))
        })?;
        for cap in &mut bp.cap_add {
            let name = cap.strip_prefix("CAP_").unwrap_or(cap).to_owned();
            if name.is_empty()
                || name == "ALL"
                || !name.bytes().all(|b| b.is_ascii_uppercase() || b == b'_')
            {
                return Err(invalid(format!(
                    "cap_add {cap:?} must name one capability, e.g. \"CHOWN\""
                )));
            }
            *cap = name;
        }
        let mut names: Vec<&str> = Vec::new();
        if let Some(llm) = &bp.llm {
            names.extend([llm.key_env.as_str(), llm.base_url_env.as_str()]);
        }
        if let Some(admin) = &bp.admin {
            names.extend([admin.email_env.as_str(), admin.password_env.as_str()]);
            names.extend(admin.name_env.as_deref());
        }
        for name in names {
            let ok = !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !name.as_bytes()[0].is_ascii_digit();
            if !ok {
                return Err(invalid(format!("{name:?} is not an env var name")));
            }
            if bp.env.contains_key(name) || bp.secrets.contains_key(name) {
                return Err(invalid(format!(
                    "{name} is set by berth ([llm] or [admin]); remove it from [env]/[secrets]"
                )));
            }
        }
        for file in bp.seed.keys() {
            if file.contains('/') || file.starts_with('.') {
                return Err(invalid(format!(
                    "seed file {file:?} must be a plain file name"
                )));
            }
        }
        Ok(bp)
    }
}

impl Blueprint {
    /// Who owns a new data dir (validated at parse).
    pub fn data_owner(&self) -> Owner {
        parse_owner(&self.data_owner).unwrap_or(Owner { uid: 0, gid: 0 })
    }
}

fn parse_owner(s: &str) -> Option<Owner> {
    let (uid, gid) = s.split_once(':')?;
    Some(Owner {
        uid: uid.parse().ok()?,
        gid: gid.parse().ok()?,
    })
}

/// All blueprints, by name (the file stem).
#[derive(Debug, Clone, Default)]
pub struct Blueprints(BTreeMap<String, Blueprint>);

impl Blueprints {
    pub fn load_dir(dir: &Path) -> Result<Self, BlueprintError> {
        let io = |source| BlueprintError::Io {
            dir: dir.display().to_string(),
            source,
        };
        let mut map = BTreeMap::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let path = entry.map_err(io)?.path();
            if path.extension().and_then(|e| e.to_str()) != Some("toml") {
                continue;
            }
            let Some(name) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
                continue;
            };
            let text = std::fs::read_to_string(&path).map_err(io)?;
            map.insert(name.clone(), Blueprint::parse(&name, &text)?);
        }
        Ok(Self(map))
    }

    pub fn from_list(list: Vec<Blueprint>) -> Self {
        Self(list.into_iter().map(|b| (b.name.clone(), b)).collect())
    }

    pub fn get(&self, name: &str) -> Option<&Blueprint> {
        self.0.get(name)
    }

    /// The blueprint that uses `image`, to know whether berth can build it.
    pub fn get_by_image(&self, image: &str) -> Option<&Blueprint> {
        self.0.values().find(|b| b.image == image)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// The blueprint new clients get when none is named.
    pub fn default_name(&self) -> Option<&str> {
        ["open-webui", "static-site"]
            .into_iter()
            .find(|n| self.0.contains_key(*n))
            .or_else(|| self.names().next())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shipped_blueprints_parse() {
        let all =
            Blueprints::load_dir(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/templates")))
                .unwrap();
        let webui = all.get("open-webui").unwrap();
        assert_eq!(webui.internal_port, 8080);
        assert_eq!(webui.data_mount, "/app/backend/data");
        assert_eq!(webui.env["ENABLE_SIGNUP"], "false");
        assert!(webui.secrets.contains_key("WEBUI_SECRET_KEY"));
        // A rotated key must win over the app's stored connection settings.
        assert_eq!(webui.env["ENABLE_PERSISTENT_CONFIG"], "false");
        let llm = webui.llm.as_ref().unwrap();
        assert_eq!(llm.key_env, "OPENAI_API_KEY");
        assert_eq!(llm.base_url_env, "OPENAI_API_BASE_URL");
        assert_eq!(llm.env["ENABLE_OPENAI_API"], "true");
        let admin = webui.admin.as_ref().unwrap();
        assert_eq!(admin.password_env, "WEBUI_ADMIN_PASSWORD");
        assert_eq!(
            all.get("static-site").unwrap().build,
            Some(BuildKind::Busybox)
        );
        for bp in [webui, all.get("static-site").unwrap()] {
            assert_eq!(bp.data_owner(), Owner { uid: 0, gid: 0 });
            assert_eq!(bp.cap_add, Vec::<String>::new(), "{}", bp.name);
        }
    }

    #[test]
    fn capabilities_and_owner_are_checked() {
        let base = "image = \"a\"\ninternal_port = 80\ndata_mount = \"/d\"\n";
        let bp = Blueprint::parse(
            "x",
            &format!("{base}cap_add = [\"CAP_CHOWN\", \"SETUID\"]\ndata_owner = \"1000:100\""),
        )
        .unwrap();
        assert_eq!(bp.cap_add, vec!["CHOWN", "SETUID"]);
        assert_eq!(
            bp.data_owner(),
            Owner {
                uid: 1000,
                gid: 100
            }
        );
        for bad in [
            "cap_add = [\"ALL\"]",
            "cap_add = [\"chown\"]",
            "cap_add = [\"\"]",
            "data_owner = \"root\"",
            "data_owner = \"1000\"",
            "data_owner = \"-1:0\"",
            "[llm]\nkey_env = \"A B\"\nbase_url_env = \"U\"",
            "[admin]\nemail_env = \"\"\npassword_env = \"P\"",
            "[env]\nP = \"x\"\n[admin]\nemail_env = \"E\"\npassword_env = \"P\"",
        ] {
            assert!(
                Blueprint::parse("x", &format!("{base}{bad}")).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn open_webui_advertises_its_public_url() {
        let all =
            Blueprints::load_dir(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/templates")))
                .unwrap();
        assert_eq!(
            all.get("open-webui").unwrap().env["WEBUI_URL"],
            "{public_url}"
        );
    }

    #[test]
    fn rejects_bad_blueprints() {
        assert!(
            Blueprint::parse("x", "image = \"a\"\ninternal_port = 0\ndata_mount = \"/d\"").is_err()
        );
        assert!(
            Blueprint::parse("x", "image = \"a\"\ninternal_port = 80\ndata_mount = \"d\"").is_err()
        );
        assert!(Blueprint::parse(
            "x",
            "image = \"a\"\ninternal_port = 80\ndata_mount = \"/d\"\nbogus = 1"
        )
        .is_err());
    }
}
