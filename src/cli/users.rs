//! `berth user ...`: admin accounts from the shell (e.g. when locked out).

use clap::Subcommand;
use serde::Serialize;

use super::error::Failure;
use super::output::{self, done, Row};
use super::prompt;
use crate::audit::Actor;
use crate::ops::Ops;
use crate::store::UserRow;

#[derive(Subcommand)]
pub enum UserCmd {
    /// Create an admin account. The password is asked for, or read from stdin.
    Create {
        name: String,
        /// Read the password from the first line of stdin, without a prompt.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Set a new password; the account's sessions end.
    ResetPassword {
        name: String,
        #[arg(long)]
        password_stdin: bool,
    },
    /// Every admin account.
    List,
    /// Delete an admin account (not your own, not the last one).
    Delete { name: String },
}

pub async fn run(ops: &Ops, actor: &Actor, cmd: UserCmd, as_json: bool) -> Result<(), Failure> {
    match cmd {
        UserCmd::Create {
            name,
            password_stdin,
        } => {
            let password = prompt::password(password_stdin)?;
            ops.create_user(actor, &name, &password).await?;
            done(as_json, "created", &name, format!("User {name} created."));
        }
        UserCmd::ResetPassword {
            name,
            password_stdin,
        } => {
            let password = prompt::password(password_stdin)?;
            ops.reset_password(actor, &name, &password).await?;
            done(
                as_json,
                "password_changed",
                &name,
                format!("Password of {name} changed; their sessions have ended."),
            );
        }
        UserCmd::List => {
            output::rows::<UserOut>(as_json, ops.list_users().await?);
        }
        UserCmd::Delete { name } => {
            ops.delete_user(actor, &name).await?;
            done(as_json, "deleted", &name, format!("User {name} deleted."));
        }
    }
    Ok(())
}

/// An account as `user list` shows it: never its password hash.
#[derive(Serialize)]
pub struct UserOut {
    pub name: String,
    pub created_at: String,
    pub password_changed_at: String,
}

impl Row for UserOut {
    const HEADER: &'static [&'static str] = &["name", "created", "password changed"];

    fn cells(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.created_at.clone(),
            self.password_changed_at.clone(),
        ]
    }
}

impl From<UserRow> for UserOut {
    fn from(u: UserRow) -> Self {
        Self {
            name: u.name,
            created_at: u.created_at,
            password_changed_at: u.password_changed_at,
        }
    }
}
