//! Signing in to the portal and the one-time links: a client user signs in
//! with email and password (throttled like the admin login, on the account
//! `portal:{email}`), sets a first password from an invitation link and a
//! new one from a reset link. Links carry 32 random bytes in hex; only their
//! SHA-256 is stored, each works once, an invitation for 72 hours and a
//! reset for 2.

use std::time::Duration;

use rand::RngCore;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::users::{check_password, hash, verify, THROTTLE_FAILURES};
use super::{Ops, OpsError};
use crate::audit::{self, Actor};
use crate::domain::LinkKind;
use crate::mail::Mail;
use crate::store::client_users::{self as cu, ClientUserRow, PortalIdentity};
use crate::store::{users, Conn, StoreError};

pub const INVITE_VALID: Duration = Duration::from_secs(72 * 3600);
pub const RESET_VALID: Duration = Duration::from_secs(2 * 3600);

/// A link just stored, to show and to mail.
pub(super) struct LinkMail {
    pub kind: LinkKind,
    pub url: String,
    pub expires_at: String,
}

/// What a link in a browser's address bar stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkCheck {
    Valid {
        email: String,
    },
    Used,
    Expired,
    /// Never issued, replaced by a newer one, or for the other purpose.
    Invalid,
}

pub fn new_link_token() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

pub fn hash_link_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn well_formed(token: &str) -> bool {
    token.len() == 64 && token.bytes().all(|b| b.is_ascii_hexdigit())
}

fn path_of(kind: LinkKind) -> &'static str {
    match kind {
        LinkKind::Invite => "/portal/invite/",
        LinkKind::Reset => "/portal/reset/",
    }
}

/// Stores a new link for `user` (voiding their older unused ones).
pub(super) fn issue_link(
    tx: &Conn,
    base_url: &str,
    user: &ClientUserRow,
    kind: LinkKind,
) -> Result<LinkMail, StoreError> {
    let token = new_link_token();
    let valid = match kind {
        LinkKind::Invite => INVITE_VALID,
        LinkKind::Reset => RESET_VALID,
    };
    let expires_at = expiry(valid);
    cu::insert_link(tx, user.id, kind, &hash_link_token(&token), &expires_at)?;
    Ok(LinkMail {
        kind,
        url: format!("{base_url}{}{token}", path_of(kind)),
        expires_at,
    })
}

/// Now plus `valid`, in the store's time format, so it compares as text.
fn expiry(valid: Duration) -> String {
    let t = time::OffsetDateTime::now_utc() + valid;
    t.replace_nanosecond(0)
        .unwrap_or(t)
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

fn state_of(link: &cu::LinkRow, kind: LinkKind) -> LinkCheck {
    if link.kind != kind {
        LinkCheck::Invalid
    } else if link.used_at.is_some() {
        LinkCheck::Used
    } else if link.expires_at < crate::store::now() {
        LinkCheck::Expired
    } else {
        LinkCheck::Valid {
            email: String::new(),
        }
    }
}

impl Ops {
    /// Checks an email and password; the user's id when they may sign in.
    pub async fn portal_login(
        &self,
        email: &str,
        password: &str,
        ip: &str,
    ) -> Result<i64, OpsError> {
        let email = email.trim().to_lowercase();
        let account = format!("portal:{email}");
        let window = self.login.window();
        let reserved = self
            .write({
                let (account, ip, email) = (account.clone(), ip.to_owned(), email.clone());
                move |tx| {
                    let since = crate::store::now_minus(window);
                    let (by_ip, by_account) = users::failures_since(tx, &ip, &account, &since)?;
                    if by_ip >= THROTTLE_FAILURES || by_account >= THROTTLE_FAILURES {
                        return Ok(None);
                    }
                    let attempt = users::record_failure(tx, &ip, &account)?;
                    Ok(Some((attempt, cu::by_email(tx, &email)?)))
                }
            })
            .await?;
        let Some((attempt, found)) = reserved else {
            return Err(OpsError::Throttled(format!(
                "too many failed sign-ins from this address or for this account; wait {} minutes and try again",
                window.as_secs().div_ceil(60)
            )));
        };
        let (user, stored) = match found {
            Some((user, stored)) => (Some(user), stored),
            None => (None, None),
        };
        let ok = verify(&self.login, password.to_owned(), stored).await;
        let actor = match &user {
            Some(u) => Actor::client_user(&u.email, &u.client_slug, Some(ip.to_owned())),
            None => Actor {
                name: account.clone(),
                ip: Some(ip.to_owned()),
            },
        };
        let ip = ip.to_owned();
        let slug = user.as_ref().map(|u| u.client_slug.clone());
        let signed_in = self
            .write(move |tx| {
                if !ok {
                    audit::record(
                        tx,
                        &actor,
                        "client-user.login-failed",
                        &email,
                        slug.as_deref(),
                        json!({ "attempt": attempt }),
                    )?;
                    return Ok(None);
                }
                users::clear_failures(tx, &ip, &account)?;
                let id = user.as_ref().map_or(0, |u| u.id);
                let open = cu::identity(tx, id)?.is_some_and(|i| i.client_open);
                let action = if open {
                    "client-user.login"
                } else {
                    "client-user.login-refused"
                };
                audit::record(tx, &actor, action, &email, slug.as_deref(), json!({}))?;
                Ok(Some((id, open)))
            })
            .await?;
        match signed_in {
            None => Err(OpsError::Refused("wrong email or password".into())),
            Some((_, false)) => Err(OpsError::Refused(
                "access to this portal is suspended; please contact your provider".into(),
            )),
            Some((id, true)) => Ok(id),
        }
    }

    /// Who a portal session's user is now: None once they are removed or
    /// have no password (the session must end).
    pub async fn portal_identity(&self, user_id: i64) -> Result<Option<PortalIdentity>, OpsError> {
        Ok(self
            .store
            .read(move |conn| cu::identity(conn, user_id))
            .await?)
    }

    /// What a one-time link stands for, for its page.
    pub async fn check_portal_link(
        &self,
        kind: LinkKind,
        token: &str,
    ) -> Result<LinkCheck, OpsError> {
        if !well_formed(token) {
            return Ok(LinkCheck::Invalid);
        }
        let hash = hash_link_token(token);
        Ok(self
            .store
            .read(move |conn| {
                let Some(link) = cu::link(conn, &hash)? else {
                    return Ok(LinkCheck::Invalid);
                };
                Ok(match state_of(&link, kind) {
                    LinkCheck::Valid { .. } => {
                        let email: String = conn.query_row(
                            "SELECT email FROM client_users WHERE id = ?1",
                            [link.user_id],
                            |r| r.get(0),
                        )?;
                        LinkCheck::Valid { email }
                    }
                    other => other,
                })
            })
            .await?)
    }

    /// Sets the password from a one-time link and uses the link up; the
    /// user's id, to sign them in. Every other session of theirs ends.
    pub async fn use_portal_link(
        &self,
        kind: LinkKind,
        token: &str,
        password: &str,
        ip: &str,
    ) -> Result<i64, OpsError> {
        check_password(password)?;
        let state = self.check_portal_link(kind, token).await?;
        if !matches!(state, LinkCheck::Valid { .. }) {
            return Err(link_refusal(&state));
        }
        let hash = hash(&self.login, password.to_owned()).await?;
        let (token_hash, ip) = (hash_link_token(token), ip.to_owned());
        self.write(move |tx| {
            let link =
                cu::link(tx, &token_hash)?.ok_or_else(|| link_refusal(&LinkCheck::Invalid))?;
            // Checked again inside the write: two tabs must not both use it.
            let state = state_of(&link, kind);
            if !matches!(state, LinkCheck::Valid { .. }) {
                return Err(link_refusal(&state));
            }
            cu::set_password(tx, link.user_id, &hash)?;
            cu::use_link(tx, link.id)?;
            let who = cu::identity(tx, link.user_id)?
                .ok_or_else(|| OpsError::NotFound("this account no longer exists".into()))?;
            let actor = Actor::client_user(&who.email, &who.client_slug, Some(ip));
            let action = match kind {
                LinkKind::Invite => "client-user.accept-invitation",
                LinkKind::Reset => "client-user.reset-password",
            };
            audit::record(
                tx,
                &actor,
                action,
                &who.email,
                Some(&who.client_slug),
                json!({}),
            )?;
            Ok(link.user_id)
        })
        .await
    }

    /// "Forgot my password": mails a reset link when the email belongs to
    /// a user with a password and `[smtp]` is set. The caller learns
    /// nothing either way, and the mail goes out in the background so the
    /// answer takes as long whether the account exists or not.
    pub async fn request_portal_reset(&self, email: &str, ip: &str) -> Result<(), OpsError> {
        if self.config.smtp.is_none() {
            return Ok(());
        }
        let email = email.trim().to_lowercase();
        let (base, window, ip) = (
            self.config.portal_base_url(),
            self.login.window(),
            ip.to_owned(),
        );
        let issued = self
            .write(move |tx| {
                // At most THROTTLE_FAILURES mails per account and window. The
                // IP column stays empty: these requests must not count
                // against the address's sign-in throttle.
                let account = format!("portal-reset:{email}");
                let since = crate::store::now_minus(window);
                if users::failures_since(tx, "", &account, &since)?.1 >= THROTTLE_FAILURES {
                    return Ok(None);
                }
                users::record_failure(tx, "", &account)?;
                let Some((user, _)) = cu::by_email(tx, &email)? else {
                    return Ok(None);
                };
                if !user.active {
                    return Ok(None);
                }
                let link = issue_link(tx, &base, &user, LinkKind::Reset)?;
                let actor = Actor::client_user(&user.email, &user.client_slug, Some(ip));
                audit::record(
                    tx,
                    &actor,
                    "client-user.reset-request",
                    &user.email,
                    Some(&user.client_slug),
                    json!({}),
                )?;
                Ok(Some((user, link)))
            })
            .await?;
        if let Some((user, link)) = issued {
            let ops = self.clone();
            tokio::spawn(async move {
                if let Some(Err(e)) = ops.mail_link(&user, &link).await {
                    tracing::warn!(error = %e, user = user.id, "mailing a password reset link");
                }
            });
        }
        Ok(())
    }

    /// Mails a link to its user; None when no `[smtp]` is configured.
    pub(super) async fn mail_link(
        &self,
        user: &ClientUserRow,
        link: &LinkMail,
    ) -> Option<Result<(), String>> {
        let smtp = self.config.smtp.as_ref()?;
        let brand = &self.config.portal.brand_name;
        let (subject, text) = match link.kind {
            LinkKind::Invite => (
                format!("{brand}: your portal account"),
                format!(
                    "Hello {},\n\n{brand} has made you a portal account ({}). Choose your \
                     password within 72 hours at:\n\n{}\n\nIf you did not expect this mail, ignore it.\n",
                    user.name, user.email, link.url
                ),
            ),
            LinkKind::Reset => (
                format!("{brand}: reset your password"),
                format!(
                    "Hello {},\n\nA new password was asked for your portal account ({}). \
                     Choose it within 2 hours at:\n\n{}\n\nIf you did not ask, ignore this mail; \
                     your password stays as it is.\n",
                    user.name, user.email, link.url
                ),
            ),
        };
        let mail = Mail {
            to: user.email.clone(),
            subject,
            body: text,
        };
        Some(crate::mail::send(smtp, mail).await)
    }
}

fn link_refusal(state: &LinkCheck) -> OpsError {
    OpsError::Refused(
        match state {
            LinkCheck::Used => "this link was already used; ask for a new one",
            LinkCheck::Expired => "this link has expired; ask for a new one",
            _ => "this link is not valid; ask for a new one",
        }
        .into(),
    )
}
