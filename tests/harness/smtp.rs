//! A tiny SMTP server on loopback for the mail tests: it speaks just
//! enough of RFC 5321 (greeting, EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP,
//! QUIT) to accept messages and hand each one to the test. `refusing()`
//! answers every MAIL FROM with 554, the failure a relay that is down or
//! rejects berth's sender gives.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

/// One message as the server received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    /// Headers and body, dot-stuffing undone, lines joined with "\n".
    pub data: String,
}

impl Received {
    /// The body as the reader sees it: quoted-printable (lettre's choice
    /// for long lines) decoded, so a test can look for a whole link.
    pub fn text(&self) -> String {
        let (headers, body) = self.data.split_once("\n\n").unwrap_or(("", &self.data));
        if !headers
            .to_ascii_lowercase()
            .contains("content-transfer-encoding: quoted-printable")
        {
            return body.to_owned();
        }
        let joined = body.replace("=\n", "");
        let bytes = joined.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            let hex = bytes
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok());
            match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
                (b'=', Some(byte)) => {
                    out.push(byte);
                    i += 3;
                }
                (b, _) => {
                    out.push(b);
                    i += 1;
                }
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    }
}

pub struct SmtpServer {
    pub port: u16,
    messages: mpsc::Receiver<Received>,
    stop: Arc<AtomicBool>,
}

impl SmtpServer {
    pub fn start() -> Self {
        Self::spawn(false)
    }

    /// A server that refuses every message.
    pub fn refusing() -> Self {
        Self::spawn(true)
    }

    fn spawn(refuse: bool) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, messages) = mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stopped.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(stream) = stream {
                    // A session that breaks off is the client's business.
                    let _ = session(stream, refuse, &tx);
                }
            }
        });
        Self {
            port,
            messages,
            stop,
        }
    }

    /// The next message; panics when none arrives within `deadline`.
    pub fn next_message(&self, deadline: Duration) -> Received {
        self.messages
            .recv_timeout(deadline)
            .unwrap_or_else(|_| panic!("no mail arrived within {deadline:?}"))
    }

    /// A message arriving within `wait`, if any (for "no mail was sent").
    pub fn message_within(&self, wait: Duration) -> Option<Received> {
        self.messages.recv_timeout(wait).ok()
    }
}

impl Drop for SmtpServer {
    /// Stops the accept loop: the flag, then one connection to wake it.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

fn session(stream: TcpStream, refuse: bool, tx: &mpsc::Sender<Received>) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut out = stream.try_clone()?;
    let mut lines = BufReader::new(stream);
    let mut reply = |text: &str| out.write_all(format!("{text}\r\n").as_bytes());
    reply("220 berth-test ESMTP")?;
    let (mut from, mut to) = (String::new(), Vec::new());
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let line = line.trim_end();
        let verb = line
            .split_whitespace()
            .next()
            .unwrap_or("")
            .to_ascii_uppercase();
        match verb.as_str() {
            "EHLO" => reply("250-berth-test\r\n250 8BITMIME")?,
            "HELO" | "NOOP" => reply("250 ok")?,
            "RSET" => {
                (from, to) = (String::new(), Vec::new());
                reply("250 ok")?
            }
            "MAIL" if refuse => reply("554 5.7.1 relaying refused")?,
            "MAIL" => {
                from = address(line);
                reply("250 ok")?
            }
            "RCPT" => {
                to.push(address(line));
                reply("250 ok")?
            }
            "DATA" => {
                reply("354 end with <CRLF>.<CRLF>")?;
                let data = read_data(&mut lines)?;
                reply("250 ok: queued")?;
                let message = Received {
                    from: std::mem::take(&mut from),
                    to: std::mem::take(&mut to),
                    data,
                };
                if tx.send(message).is_err() {
                    return Ok(());
                }
            }
            "QUIT" => {
                reply("221 bye")?;
                return Ok(());
            }
            _ => reply("502 command not implemented")?,
        }
    }
}

/// `MAIL FROM:<a@b>` / `RCPT TO:<a@b>` → `a@b`.
fn address(line: &str) -> String {
    line.split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(addr, _)| addr.to_owned())
        .unwrap_or_default()
}

fn read_data(lines: &mut BufReader<TcpStream>) -> std::io::Result<String> {
    let mut data = Vec::new();
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let line = line.trim_end_matches(['\r', '\n']);
        if line == "." {
            return Ok(data.join("\n"));
        }
        data.push(
            line.strip_prefix('.')
                .filter(|_| line.starts_with(".."))
                .unwrap_or(line)
                .to_owned(),
        );
    }
}
