//! Outgoing mail: the invitation and password-reset links for client users,
//! sent through the `[smtp]` relay with lettre. A failure is reported to
//! the caller as one line, never retried here: the link is shown to the
//! provider anyway, so nothing is lost when the relay is down.

use std::time::Duration;

use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{SmtpConfig, SmtpTls};

/// One plain-text mail.
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

/// A relay that does not answer within this long counts as down.
const TIMEOUT: Duration = Duration::from_secs(15);

pub async fn send(smtp: &SmtpConfig, mail: Mail) -> Result<(), String> {
    crate::tls::install_crypto_provider();
    let from: Mailbox = smtp
        .from
        .parse()
        .map_err(|e| format!("smtp.from {:?}: {e}", smtp.from))?;
    let to: Mailbox = mail
        .to
        .parse()
        .map_err(|e| format!("recipient {:?}: {e}", mail.to))?;
    let message = Message::builder()
        .from(from)
        .to(to)
        .subject(mail.subject)
        .header(ContentType::TEXT_PLAIN)
        .body(mail.body)
        .map_err(|e| format!("building the mail: {e}"))?;
    let builder = match smtp.tls {
        SmtpTls::None => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&smtp.host),
        SmtpTls::Starttls => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
            .map_err(|e| format!("smtp {}: {e}", smtp.host))?,
        SmtpTls::Tls => AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host)
            .map_err(|e| format!("smtp {}: {e}", smtp.host))?,
    };
    let mut builder = builder.port(smtp.port()).timeout(Some(TIMEOUT));
    if let (Some(user), Some(password)) = (&smtp.username, &smtp.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    builder
        .build()
        .send(message)
        .await
        .map(|_| ())
        .map_err(|e| {
            format!(
                "mail to {} via {}:{} failed: {e}",
                mail.to,
                smtp.host,
                smtp.port()
            )
        })
}
