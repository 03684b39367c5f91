//! `berth user ...`: admin accounts from the shell (e.g. when locked out).

use std::io::{BufRead, IsTerminal, Write};

use super::run::{done, Failure};
use super::views::UserOut;
use super::{output, UserCmd};
use crate::audit::Actor;
use crate::ops::Ops;

pub async fn run(ops: &Ops, actor: &Actor, cmd: UserCmd, as_json: bool) -> Result<(), Failure> {
    match cmd {
        UserCmd::Create {
            name,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            ops.create_user(actor, &name, &password).await?;
            done(as_json, "created", &name, format!("User {name} created."));
        }
        UserCmd::ResetPassword {
            name,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            ops.reset_password(actor, &name, &password).await?;
            done(
                as_json,
                "password_changed",
                &name,
                format!("Password of {name} changed; their sessions have ended."),
            );
        }
        UserCmd::List => {
            let users: Vec<UserOut> = ops
                .list_users()
                .await?
                .into_iter()
                .map(Into::into)
                .collect();
            if as_json {
                output::json(&users);
            } else {
                output::table(
                    &["name", "created", "password changed"],
                    users
                        .into_iter()
                        .map(|u| vec![u.name, u.created_at, u.password_changed_at])
                        .collect(),
                );
            }
        }
        UserCmd::Delete { name } => {
            ops.delete_user(actor, &name).await?;
            done(as_json, "deleted", &name, format!("User {name} deleted."));
        }
    }
    Ok(())
}

/// From stdin's first line (`--password-stdin` or stdin is not a terminal),
/// else prompted twice on the terminal with echo off.
fn read_password(from_stdin: bool) -> Result<String, Failure> {
    let stdin = std::io::stdin();
    if from_stdin || !stdin.is_terminal() {
        let mut line = String::new();
        stdin
            .lock()
            .read_line(&mut line)
            .map_err(|e| Failure::usage(format!("reading password: {e}")))?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_owned());
    }
    let first = prompt_hidden("Password: ")?;
    let second = prompt_hidden("Again: ")?;
    if first != second {
        return Err(Failure::usage("the passwords differ"));
    }
    Ok(first)
}

fn prompt_hidden(prompt: &str) -> Result<String, Failure> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    // stty acts on the terminal it inherits as stdin; no crate needed for this.
    let stty = |arg: &str| {
        std::process::Command::new("stty")
            .arg(arg)
            .stdin(std::process::Stdio::inherit())
            .status()
    };
    let _ = stty("-echo");
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    let _ = stty("echo");
    eprintln!();
    read.map_err(|e| Failure::usage(format!("reading password: {e}")))?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
