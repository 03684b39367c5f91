//! Safe hand-over: an instance whose blueprint declares an `[admin]`
//! account gets it at its first start, with a password berth generates,
//! keeps encrypted and reveals once to the provider (admin UI, API, CLI)
//! and once to the client's owner (portal). Nobody can claim a new
//! instance by reaching its URL first. Reveals are audited, never with the
//! password.

use rand::distr::{Alphanumeric, SampleString};
use serde::Serialize;
use serde_json::json;

use super::{Ops, OpsError};
use crate::audit::{self, Actor};
use crate::blueprint::Blueprint;
use crate::config::Config;
use crate::domain::ClientRole;
use crate::llm::secret::Sealer;
use crate::store::client_users::PortalIdentity;
use crate::store::llm::{self as rows, Audience};
use crate::store::{instances, Conn, InstanceRow};

/// Characters in a generated admin password (letters and digits: ~143 bits).
const PASSWORD_LEN: usize = 24;

/// The account to sign in with, shown once per audience.
#[derive(Clone, Serialize)]
pub struct AdminCredentials {
    pub instance_id: i64,
    pub instance: String,
    pub client: String,
    pub email: String,
    pub password: String,
    /// Where to sign in (the instance's first domain through Caddy).
    pub url: String,
}

impl std::fmt::Debug for AdminCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminCredentials")
            .field("instance_id", &self.instance_id)
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// What may be shown about an instance's admin account at any time.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct AdminAccountView {
    pub email: String,
    /// The app was seen healthy with it: the account exists.
    pub created: bool,
    pub revealed_to_provider: bool,
    pub revealed_to_owner: bool,
}

fn sealer(config: &Config) -> Result<Sealer, OpsError> {
    Sealer::open_or_create(&config.llm.secret_file(&config.data_dir))
        .map_err(|e| OpsError::Io(format!("llm.secret_file: {e}")))
}

/// In the caller's transaction (the instance's insert): the admin account
/// the instance's app will create at its first start.
pub(crate) fn plan_admin(
    conn: &Conn,
    config: &Config,
    bp: &Blueprint,
    instance_id: i64,
    email: &str,
    name: &str,
) -> Result<(), OpsError> {
    if bp.admin.is_none() {
        return Ok(());
    }
    let password = Alphanumeric.sample_string(&mut rand::rng(), PASSWORD_LEN);
    let sealed = sealer(config)?.seal(&password);
    rows::insert_admin(conn, instance_id, email, name, &sealed)?;
    Ok(())
}

fn reveal(
    conn: &Conn,
    config: &Config,
    actor: &Actor,
    row: &InstanceRow,
    audience: Audience,
) -> Result<AdminCredentials, OpsError> {
    let admin = rows::admin(conn, row.id)?.ok_or_else(|| {
        OpsError::NotFound(format!(
            "instance {} has no admin account made by berth",
            row.id
        ))
    })?;
    let password = sealer(config)?
        .open(&admin.secret)
        .map_err(|e| OpsError::Io(e.to_string()))?;
    if !rows::mark_revealed(conn, row.id, audience)? {
        return Err(OpsError::Conflict(format!(
            "the admin password of instance {} was already shown once; it is not shown again (the app's own password reset changes it)",
            row.id
        )));
    }
    let who = match audience {
        Audience::Provider => "provider",
        Audience::Owner => "owner",
    };
    audit::record(
        conn,
        actor,
        "instance.admin_password.reveal",
        &format!("{}/{}", row.client_slug, row.name),
        Some(&row.client_slug),
        json!({ "to": who, "email": admin.email }),
    )?;
    let domain = row.domains.first().map(String::as_str).unwrap_or("");
    let caddy = &config.caddy;
    Ok(AdminCredentials {
        instance_id: row.id,
        instance: row.name.clone(),
        client: row.client_slug.clone(),
        email: admin.email,
        password,
        url: crate::blueprint::public_url(domain, caddy.tls, caddy.http_port, caddy.https_port),
    })
}

impl Ops {
    /// The instance's admin account without its password; `None` when
    /// berth made none for it.
    pub async fn admin_account(&self, id: i64) -> Result<Option<AdminAccountView>, OpsError> {
        Ok(self
            .store
            .read(move |conn| {
                Ok(rows::admin(conn, id)?.map(|a| AdminAccountView {
                    email: a.email,
                    created: a.account_at.is_some(),
                    revealed_to_provider: a.revealed_provider_at.is_some(),
                    revealed_to_owner: a.revealed_owner_at.is_some(),
                }))
            })
            .await?)
    }

    /// Shows the provider the instance's admin password, the first time
    /// only (409 after).
    pub async fn reveal_admin_password(
        &self,
        actor: &Actor,
        id: i64,
    ) -> Result<AdminCredentials, OpsError> {
        let (config, actor) = (self.config.clone(), actor.clone());
        self.write(move |tx| {
            let row = instances::get(tx, id)?;
            reveal(tx, &config, &actor, &row, Audience::Provider)
        })
        .await
    }

    /// Shows the client's owner their instance's admin password, once.
    pub async fn portal_reveal_admin_password(
        &self,
        actor: &Actor,
        me: &PortalIdentity,
        name: &str,
    ) -> Result<AdminCredentials, OpsError> {
        if me.role != ClientRole::Owner {
            return Err(OpsError::Refused(
                "only the client's owner sees the admin password".into(),
            ));
        }
        let (config, actor, me, name) = (
            self.config.clone(),
            actor.clone(),
            me.clone(),
            name.to_owned(),
        );
        self.write(move |tx| {
            let row = super::portal::owned(tx, &me, &name)?;
            reveal(tx, &config, &actor, &row, Audience::Owner)
        })
        .await
    }

    /// The portal's view of the account (without the password).
    pub async fn portal_admin_account(
        &self,
        me: &PortalIdentity,
        name: &str,
    ) -> Result<Option<AdminAccountView>, OpsError> {
        let (me, name) = (me.clone(), name.to_owned());
        let id = self
            .read_scoped(move |conn| Ok(super::portal::owned(conn, &me, &name)?.id))
            .await?;
        self.admin_account(id).await
    }
}
