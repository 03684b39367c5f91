//! `berth token create|list|revoke`: API bearer tokens.

use clap::Subcommand;
use serde::Serialize;

use super::error::Failure;
use super::output::{self, done, show, Row};
use crate::audit::Actor;
use crate::ops::Ops;
use crate::store::TokenRow;

#[derive(Subcommand)]
pub enum TokenCmd {
    /// Create an API token; it is printed once and only its hash is stored.
    Create { name: String },
    /// Every API token: name, when made, when last used (never the token).
    List,
    /// Revoke a token by its name.
    Revoke { name: String },
}

pub async fn run(ops: &Ops, actor: &Actor, cmd: TokenCmd, as_json: bool) -> Result<(), Failure> {
    match cmd {
        TokenCmd::Create { name } => {
            let token = ops.create_token(actor, &name).await?;
            // Plain, the token alone on stdout, so `$(berth token create x)` works.
            show(
                as_json,
                &serde_json::json!({ "name": name, "token": token }),
                |_| println!("{token}"),
            );
            eprintln!("Store this token now: it is not shown again.");
        }
        TokenCmd::List => {
            output::rows::<TokenOut>(as_json, ops.list_tokens().await?);
        }
        TokenCmd::Revoke { name } => {
            ops.revoke_token(actor, &name).await?;
            done(as_json, "revoked", &name, format!("Token {name} revoked."));
        }
    }
    Ok(())
}

/// A token as `token list` shows it: never its hash.
#[derive(Serialize)]
pub struct TokenOut {
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

impl Row for TokenOut {
    const HEADER: &'static [&'static str] = &["name", "created", "last used"];

    fn cells(&self) -> Vec<String> {
        let last_used = self.last_used_at.as_deref().unwrap_or("never");
        vec![self.name.clone(), self.created_at.clone(), last_used.into()]
    }
}

impl From<TokenRow> for TokenOut {
    fn from(t: TokenRow) -> Self {
        Self {
            name: t.name,
            created_at: t.created_at,
            last_used_at: t.last_used_at,
        }
    }
}
