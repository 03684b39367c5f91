use rand::distr::{Alphanumeric, SampleString};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Ops, OpsError};
use crate::audit::{self, Actor};
use crate::store::{tokens, TokenRow};

/// Tokens are 40 random characters, so a fast hash is enough: there is
/// nothing to brute-force. Only the hash is stored.
pub fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

impl Ops {
    /// Returns the token in clear, the only time it is ever shown.
    pub async fn create_token(&self, actor: &Actor, name: &str) -> Result<String, OpsError> {
        let name = name.trim().to_owned();
        if name.is_empty()
            || name.len() > 60
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
        {
            return Err(OpsError::Refused(
                "token name must be 1-60 of A-Z, a-z, 0-9, '-', '_', '.'".into(),
            ));
        }
        let token = format!("berth_{}", Alphanumeric.sample_string(&mut rand::rng(), 40));
        let (hash, actor) = (hash_token(&token), actor.clone());
        self.write(move |tx| {
            tokens::insert(tx, &name, &hash)?;
            audit::record(tx, &actor, "token.create", &name, None, json!({}))?;
            Ok(())
        })
        .await?;
        Ok(token)
    }

    /// The token's name when it is valid.
    pub async fn authenticate_token(&self, token: &str) -> Result<Option<String>, OpsError> {
        let hash = hash_token(token);
        Ok(self
            .store
            .call(move |conn| tokens::authenticate(conn, &hash))
            .await?)
    }

    pub async fn list_tokens(&self) -> Result<Vec<TokenRow>, OpsError> {
        Ok(self.store.read(tokens::list).await?)
    }

    pub async fn revoke_token(&self, actor: &Actor, name: &str) -> Result<(), OpsError> {
        let (name, actor) = (name.to_owned(), actor.clone());
        self.write(move |tx| {
            tokens::revoke(tx, &name)?;
            audit::record(tx, &actor, "token.revoke", &name, None, json!({}))?;
            Ok(())
        })
        .await
    }
}
