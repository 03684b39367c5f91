//! A client's users: the provider adds and removes them (admin page, API,
//! CLI) and hands out their one-time links; a client's owners invite and
//! remove the members of their own client from the portal. A new user
//! gets an invitation link (shown once, mailed too when `[smtp]` is set)
//! and sets their own password from it.

use serde::{Deserialize, Serialize};
use serde_json::json;

use super::portal_auth::{issue_link, LinkMail};
use super::{Ops, OpsError};
use crate::audit::{self, Actor};
use crate::domain::{ClientRole, DisplayName, DomainError, Email, LinkKind};
use crate::store::client_users::{self as users, ClientUserRow, NewClientUser, PortalIdentity};
use crate::store::clients;

/// A new client user as the admin form, API and CLI give it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewClientUserInput {
    pub email: String,
    /// Defaults to the email's local part.
    #[serde(default)]
    pub name: String,
    /// Defaults to member.
    #[serde(default)]
    pub role: Option<ClientRole>,
}

/// A one-time link just made: the only time its token is ever shown.
#[derive(Debug, Clone, Serialize)]
pub struct Invitation {
    pub user: ClientUserRow,
    pub kind: LinkKind,
    pub link: String,
    pub expires_at: String,
    /// Whether the link was also mailed to the user.
    pub mailed: bool,
    /// Why mailing failed (the link is valid all the same).
    pub mail_warning: Option<String>,
}

impl NewClientUserInput {
    fn check(&self) -> Result<(Email, DisplayName, ClientRole), DomainError> {
        let email = Email::parse(&self.email)?;
        let name = match self.name.trim() {
            "" => email
                .as_str()
                .split('@')
                .next()
                .unwrap_or_default()
                .to_owned(),
            n => n.to_owned(),
        };
        Ok((
            email,
            DisplayName::parse(&name)?,
            self.role.unwrap_or(ClientRole::Member),
        ))
    }
}

impl Ops {
    pub async fn list_client_users(&self, slug: &str) -> Result<Vec<ClientUserRow>, OpsError> {
        let slug = slug.to_owned();
        Ok(self
            .store
            .read(move |conn| users::list(conn, clients::get(conn, &slug)?.id))
            .await?)
    }

    /// Adds a user to the client and returns their invitation link.
    pub async fn add_client_user(
        &self,
        actor: &Actor,
        slug: &str,
        input: NewClientUserInput,
    ) -> Result<Invitation, OpsError> {
        let slug = slug.to_owned();
        let client_id = self
            .store
            .read(move |conn| Ok(clients::get(conn, &slug)?.id))
            .await?;
        self.add_user_to(actor, client_id, input).await
    }

    async fn add_user_to(
        &self,
        actor: &Actor,
        client_id: i64,
        input: NewClientUserInput,
    ) -> Result<Invitation, OpsError> {
        let (email, name, role) = input.check()?;
        let (actor, base) = (actor.clone(), self.config.portal_base_url());
        let (user, link) = self
            .write(move |tx| {
                let id = users::insert(
                    tx,
                    &NewClientUser {
                        client_id,
                        email: &email,
                        name: &name,
                        role,
                    },
                )?;
                let user = users::get(tx, client_id, id)?;
                let link = issue_link(tx, &base, &user, LinkKind::Invite)?;
                audit::record(
                    tx,
                    &actor,
                    "client-user.add",
                    &user.email,
                    Some(&user.client_slug),
                    json!({ "id": id, "role": role }),
                )?;
                Ok((user, link))
            })
            .await?;
        Ok(self.deliver(user, link).await)
    }

    /// A fresh one-time link for the user: an invitation while they have
    /// no password yet, else a password reset. Older links stop working.
    pub async fn client_user_link(
        &self,
        actor: &Actor,
        slug: &str,
        id: i64,
    ) -> Result<Invitation, OpsError> {
        let (slug, actor) = (slug.to_owned(), actor.clone());
        let base = self.config.portal_base_url();
        let (user, link) = self
            .write(move |tx| {
                let client = clients::get(tx, &slug)?;
                let user = users::get(tx, client.id, id)?;
                let kind = if user.active {
                    LinkKind::Reset
                } else {
                    LinkKind::Invite
                };
                let link = issue_link(tx, &base, &user, kind)?;
                audit::record(
                    tx,
                    &actor,
                    "client-user.link",
                    &user.email,
                    Some(&user.client_slug),
                    json!({ "id": id, "kind": kind }),
                )?;
                Ok((user, link))
            })
            .await?;
        Ok(self.deliver(user, link).await)
    }

    /// Removes a user; their portal sessions end on their next request.
    pub async fn remove_client_user(
        &self,
        actor: &Actor,
        slug: &str,
        id: i64,
    ) -> Result<(), OpsError> {
        let (slug, actor) = (slug.to_owned(), actor.clone());
        self.write(move |tx| {
            let client = clients::get(tx, &slug)?;
            let user = users::get(tx, client.id, id)?;
            remove(tx, &actor, &user)
        })
        .await
    }

    /// The users of the signed-in user's own client.
    pub async fn portal_users(&self, me: &PortalIdentity) -> Result<Vec<ClientUserRow>, OpsError> {
        let client_id = me.client_id;
        Ok(self
            .store
            .read(move |conn| users::list(conn, client_id))
            .await?)
    }

    /// An owner invites a member of their own client.
    pub async fn portal_invite_member(
        &self,
        actor: &Actor,
        me: &PortalIdentity,
        email: &str,
        name: &str,
    ) -> Result<Invitation, OpsError> {
        owner_only(me)?;
        let input = NewClientUserInput {
            email: email.to_owned(),
            name: name.to_owned(),
            role: Some(ClientRole::Member),
        };
        self.add_user_to(actor, me.client_id, input).await
    }

    /// An owner removes a member of their own client, or themselves unless
    /// they are its last owner. Another client's user is "not found".
    pub async fn portal_remove_user(
        &self,
        actor: &Actor,
        me: &PortalIdentity,
        id: i64,
    ) -> Result<(), OpsError> {
        owner_only(me)?;
        let (client_id, my_id, actor) = (me.client_id, me.user_id, actor.clone());
        self.write(move |tx| {
            let user = users::get(tx, client_id, id)?;
            if user.role == ClientRole::Owner && user.id != my_id {
                return Err(OpsError::Refused(
                    "only your provider can remove another owner".into(),
                ));
            }
            if user.id == my_id && users::owner_count(tx, client_id)? <= 1 {
                return Err(OpsError::Refused(
                    "you are the last owner; ask your provider to remove you".into(),
                ));
            }
            remove(tx, &actor, &user)
        })
        .await
    }

    /// Mails the link when `[smtp]` is set; a failure becomes a warning.
    async fn deliver(&self, user: ClientUserRow, link: LinkMail) -> Invitation {
        let (mailed, mail_warning) = match self.mail_link(&user, &link).await {
            None => (false, None),
            Some(Ok(())) => (true, None),
            Some(Err(e)) => {
                tracing::warn!(error = %e, user = user.id, "mailing a portal link");
                (false, Some(format!("the link could not be mailed: {e}")))
            }
        };
        Invitation {
            user,
            kind: link.kind,
            link: link.url,
            expires_at: link.expires_at,
            mailed,
            mail_warning,
        }
    }
}

fn owner_only(me: &PortalIdentity) -> Result<(), OpsError> {
    if me.role != ClientRole::Owner {
        return Err(OpsError::Refused(
            "only an owner of your account can manage its users".into(),
        ));
    }
    Ok(())
}

fn remove(tx: &crate::store::Conn, actor: &Actor, user: &ClientUserRow) -> Result<(), OpsError> {
    users::delete(tx, user.id)?;
    audit::record(
        tx,
        actor,
        "client-user.remove",
        &user.email,
        Some(&user.client_slug),
        json!({ "id": user.id }),
    )?;
    Ok(())
}
