//! What goes into a container beyond its blueprint and instance row: its
//! client's LLM key with the provider's base URL, and the admin account the
//! app creates at its first start. The plaintexts are decrypted here, once
//! per pass, into values whose `Debug` shows nothing, and leave only as
//! container env.

use std::collections::{BTreeMap, HashMap};

use crate::blueprint::Blueprint;
use crate::config::Config;
use crate::domain::LlmKeyStatus;
use crate::llm::secret::Sealer;
use crate::store::llm::{self as rows, AdminRow, ClientLlm, KeyRow};
use crate::store::{Conn, InstanceRow, StoreError};

/// A decrypted secret: only `expose` gives it out.
#[derive(Clone, PartialEq)]
pub struct Plain(String);

impl Plain {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Plain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

/// A client's key as the instances get it.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientKey {
    Ready {
        key_id: i64,
        key: Plain,
    },
    /// The plan includes a key but none is usable yet: why.
    Waiting(String),
}

#[derive(Debug, Clone, PartialEq)]
pub struct AdminSeed {
    pub email: String,
    pub name: String,
    pub password: Plain,
    /// The account exists: the password leaves the env at the next recreate.
    pub exists: bool,
}

/// Everything a pass injects; empty without a provider or admin accounts.
#[derive(Debug, Clone, Default)]
pub struct Injections {
    /// The base URL beside each key (`[llm]`); `None`: no provider.
    pub url: Option<String>,
    /// By client id; a client whose plan has no key is absent.
    pub keys: HashMap<i64, ClientKey>,
    /// By instance id.
    pub admins: HashMap<i64, AdminSeed>,
}

/// Reads what to inject. `sealer` is asked for only when something is
/// encrypted; one that cannot be opened leaves those values out (the
/// instances then wait, with the reason shown).
pub fn load(
    conn: &Conn,
    config: &Config,
    sealer: impl Fn() -> Result<Sealer, String>,
) -> Result<Injections, StoreError> {
    let admins = rows::admins(conn)?;
    let url = config.llm.injected_url();
    let clients = if url.is_some() {
        rows::planning_input(conn)?
    } else {
        Vec::new()
    };
    let mut out = Injections {
        url,
        ..Injections::default()
    };
    if admins.is_empty() && clients.iter().all(|c| !c.plan.enabled) {
        return Ok(out);
    }
    let sealer = sealer();
    for client in clients.iter().filter(|c| c.plan.enabled) {
        out.keys
            .insert(client.client_id, client_key(client, sealer.as_ref()));
    }
    if let Ok(sealer) = &sealer {
        out.admins = admins
            .into_values()
            .filter_map(|a| admin_seed(a, sealer))
            .collect();
    }
    Ok(out)
}

fn admin_seed(a: AdminRow, sealer: &Sealer) -> Option<(i64, AdminSeed)> {
    match sealer.open(&a.secret) {
        Ok(password) => Some((
            a.instance_id,
            AdminSeed {
                email: a.email,
                name: a.name,
                password: Plain(password),
                exists: a.account_at.is_some(),
            },
        )),
        Err(e) => {
            tracing::warn!(instance = a.instance_id, error = %e, "admin password does not decrypt");
            None
        }
    }
}

/// The key the client's instances get: the newest usable one that is not
/// being replaced, else (a rotation's new key is not there yet) the one
/// being replaced, so a rotation never leaves an instance keyless.
fn client_key(c: &ClientLlm, sealer: Result<&Sealer, &String>) -> ClientKey {
    let usable = |k: &&KeyRow| {
        !k.retired
            && k.secret.is_some()
            && matches!(k.status, LlmKeyStatus::Active | LlmKeyStatus::Disabled)
    };
    let pick = c
        .keys
        .iter()
        .filter(usable)
        .max_by_key(|k| (!k.rotating, k.id));
    let Some(key) = pick else {
        let why = c
            .keys
            .iter()
            .rev()
            .find(|k| !k.retired && !k.last_error.is_empty())
            .map(|k| k.last_error.as_str());
        return ClientKey::Waiting(match why {
            Some(e) => format!("waiting for its LLM key: {e}"),
            None => "waiting for its LLM key to be created".into(),
        });
    };
    let opened = match sealer {
        Ok(s) => s
            .open(key.secret.as_deref().unwrap_or_default())
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.clone()),
    };
    match opened {
        Ok(plain) => ClientKey::Ready {
            key_id: key.id,
            key: Plain(plain),
        },
        Err(e) => ClientKey::Waiting(format!("waiting for its LLM key: {e}")),
    }
}

/// What injection added to one instance's env.
#[derive(Debug, Default, PartialEq)]
pub struct Injected {
    pub key_id: Option<i64>,
    /// The admin password is in the env (the account is not known to exist).
    pub admin_pending: bool,
    /// The env as it was with the admin account, when the account exists
    /// and so was left out: a container still running with it is current
    /// (the password goes at the next recreate, not by one of its own).
    pub with_admin: Option<BTreeMap<String, String>>,
}

/// Adds the key and the admin account to `env`; `Err` is why the instance
/// waits instead of starting.
pub fn inject(
    env: &mut BTreeMap<String, String>,
    bp: &Blueprint,
    row: &InstanceRow,
    inj: &Injections,
) -> Result<Injected, String> {
    let mut out = Injected::default();
    if let (Some(llm), Some(url)) = (&bp.llm, &inj.url) {
        match inj.keys.get(&row.client_id) {
            None => {}
            Some(ClientKey::Waiting(why)) => return Err(why.clone()),
            Some(ClientKey::Ready { key_id, key }) => {
                env.extend(llm.env.clone());
                env.insert(llm.base_url_env.clone(), url.clone());
                env.insert(llm.key_env.clone(), key.expose().to_owned());
                out.key_id = Some(*key_id);
            }
        }
    }
    if let (Some(admin), Some(seed)) = (&bp.admin, inj.admins.get(&row.id)) {
        let mut with = env.clone();
        with.insert(admin.email_env.clone(), seed.email.clone());
        with.insert(
            admin.password_env.clone(),
            seed.password.expose().to_owned(),
        );
        if let Some(name_env) = &admin.name_env {
            with.insert(name_env.clone(), seed.name.clone());
        }
        if seed.exists {
            out.with_admin = Some(with);
        } else {
            *env = with;
            out.admin_pending = true;
        }
    }
    Ok(out)
}

#[cfg(test)]
#[path = "inject_tests.rs"]
mod tests;
