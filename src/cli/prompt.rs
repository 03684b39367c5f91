//! What the CLI reads back from the person at the terminal: a typed
//! confirmation, a password. Scripts pass both as flags or on stdin instead.

use std::io::{BufRead, IsTerminal, Write};

use super::error::Failure;

/// `given` when the command line had it, else asked for on stderr.
pub fn confirmation(given: Option<String>, prompt: &str) -> Result<String, Failure> {
    match given {
        Some(c) => Ok(c),
        None => ask(prompt),
    }
}

fn ask(prompt: &str) -> Result<String, Failure> {
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Failure::usage(format!("reading confirmation: {e}")))?;
    Ok(line.trim().to_owned())
}

/// From stdin's first line (`--password-stdin` or stdin is not a terminal),
/// else prompted twice on the terminal with echo off.
pub fn password(from_stdin: bool) -> Result<String, Failure> {
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
