//! Client users outside the browser: invitation and reset mails through a
//! real SMTP conversation (the harness's tiny server, with lettre on
//! berth's side), and the `berth client user ...` commands.

use std::path::PathBuf;
use std::time::Duration;

use berth::audit::Actor;
use berth::config::{Config, SmtpConfig, SmtpTls};
use berth::domain::size::SizeInput;
use berth::domain::{ClientRole, LinkKind};
use berth::ops::{NewClientInput, NewClientUserInput, Ops, PlanInput};

use crate::harness::{berth_cli, Received, SmtpServer};

const MAIL_WAIT: Duration = Duration::from_secs(20);

fn config(dir: &std::path::Path, smtp_port: Option<u16>) -> Config {
    let mut config = Config {
        data_dir: dir.join("data"),
        blueprint_dir: Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("templates")),
        ..Config::default()
    };
    config.portal.brand_name = "Harbour Hosting".into();
    config.portal.public_url = Some("https://panel.example.com/".into());
    config.smtp = smtp_port.map(|port| SmtpConfig {
        host: "127.0.0.1".into(),
        port: Some(port),
        username: None,
        password: None,
        password_file: None,
        from: "Harbour <noreply@panel.example.com>".into(),
        tls: SmtpTls::None,
    });
    config
}

/// Operations on `config`'s store with plan "p" and client "acme".
async fn ops_with_client(config: Config) -> Ops {
    let ops = Ops::open(&config).unwrap();
    let plan = PlanInput {
        name: "p".into(),
        cpus: 0.5,
        memory: SizeInput::Text("64MiB".into()),
        memory_reservation: None,
        storage: None,
        max_instances: None,
        approval: Default::default(),
        portal_restore: false,
        blueprints: None,
        image_tag: None,
    };
    ops.create_plan(&Actor::cli(), plan).await.unwrap();
    let client = NewClientInput {
        name: "Acme".into(),
        email: "ops@acme.example".into(),
        plan: "p".into(),
        notes: String::new(),
        blueprint: Some("static-site".into()),
        domain: None,
        env: None,
    };
    ops.create_client(&Actor::cli(), client).await.unwrap();
    ops
}

/// Waits for the next mail off the runtime (the server's queue blocks).
async fn next_mail(smtp: SmtpServer) -> (Received, SmtpServer) {
    tokio::task::spawn_blocking(move || (smtp.next_message(MAIL_WAIT), smtp))
        .await
        .unwrap()
}

fn owner(email: &str) -> NewClientUserInput {
    NewClientUserInput {
        email: email.into(),
        name: "Ada".into(),
        role: Some(ClientRole::Owner),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invitation_and_reset_links_are_mailed() {
    let smtp = SmtpServer::start();
    let dir = tempfile::tempdir().unwrap();
    let ops = ops_with_client(config(dir.path(), Some(smtp.port))).await;

    let inv = ops
        .add_client_user(&Actor::cli(), "acme", owner("ada@acme.example"))
        .await
        .unwrap();
    assert!(inv.mailed && inv.mail_warning.is_none(), "{inv:?}");
    assert!(
        inv.link
            .starts_with("https://panel.example.com/portal/invite/"),
        "{}",
        inv.link
    );
    let (mail, smtp) = next_mail(smtp).await;
    assert_eq!(mail.from, "noreply@panel.example.com");
    assert_eq!(mail.to, ["ada@acme.example"]);
    assert!(
        mail.data
            .contains("Subject: Harbour Hosting: your portal account"),
        "{}",
        mail.data
    );
    assert!(
        mail.text().contains(&inv.link),
        "the link is in the mail: {}",
        mail.data
    );

    // "Forgot my password" mails a reset link to an account with a password,
    // and nothing for an unknown address.
    let token = inv.link.rsplit('/').next().unwrap();
    ops.use_portal_link(LinkKind::Invite, token, "long-enough-1", "127.0.0.1")
        .await
        .unwrap();
    ops.request_portal_reset("nobody@acme.example", "127.0.0.1")
        .await
        .unwrap();
    ops.request_portal_reset("ADA@acme.example", "127.0.0.1")
        .await
        .unwrap();
    let (mail, _smtp) = next_mail(smtp).await;
    assert_eq!(mail.to, ["ada@acme.example"], "only the account's own mail");
    let text = mail.text();
    let link = text
        .split_whitespace()
        .find(|w| w.starts_with("https://panel.example.com/portal/reset/"))
        .unwrap_or_else(|| panic!("a reset link in {}", mail.data));
    let reset = link.rsplit('/').next().unwrap();
    let id = ops
        .use_portal_link(LinkKind::Reset, reset, "long-enough-2", "127.0.0.1")
        .await
        .unwrap();
    assert_eq!(id, inv.user.id);
    ops.portal_login("ada@acme.example", "long-enough-2", "127.0.0.1")
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_relay_leaves_a_warning_and_a_working_link() {
    let smtp = SmtpServer::refusing();
    let dir = tempfile::tempdir().unwrap();
    let ops = ops_with_client(config(dir.path(), Some(smtp.port))).await;
    let inv = ops
        .add_client_user(&Actor::cli(), "acme", owner("ada@acme.example"))
        .await
        .unwrap();
    assert!(!inv.mailed);
    let warning = inv.mail_warning.expect("a warning");
    assert!(
        warning.contains("could not be mailed") && warning.contains("554"),
        "{warning}"
    );
    let token = inv.link.rsplit('/').next().unwrap();
    ops.use_portal_link(LinkKind::Invite, token, "long-enough-1", "127.0.0.1")
        .await
        .unwrap();
}

fn one_line(stderr: &str) -> &str {
    let trimmed = stderr.trim_end();
    assert_eq!(trimmed.lines().count(), 1, "one line: {stderr:?}");
    trimmed
}

#[test]
fn the_cli_adds_lists_resets_and_removes_with_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), None);
    let run = |args: &[&str]| berth_cli(&config, args);
    let (code, _, err) = run(&["plan", "create", "p", "--cpus", "0.5", "--memory", "64MiB"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = run(&[
        "client",
        "create",
        "Acme",
        "--email",
        "a@acme.example",
        "--plan",
        "p",
    ]);
    assert_eq!(code, 0, "{err}");

    let (code, out, err) = run(&[
        "client",
        "user",
        "add",
        "acme",
        "ada@acme.example",
        "--role",
        "owner",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.trim()
            .starts_with("http://127.0.0.1:7070/portal/invite/"),
        "{out}"
    );
    assert!(err.contains("works once"), "{err}");
    let (code, out, _) = run(&["--json", "client", "user", "list", "acme"]);
    assert_eq!(code, 0);
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["email"], "ada@acme.example");
    assert_eq!(list[0]["role"], "owner");
    assert_eq!(list[0]["active"], false);
    assert!(!out.contains("password"), "{out}");
    let id = list[0]["id"].as_i64().unwrap().to_string();
    let (code, out, _) = run(&["client", "user", "reset", "acme", &id]);
    assert_eq!(code, 0);
    assert!(
        out.contains("/portal/invite/"),
        "no password yet: a new invitation: {out}"
    );

    for (args, code_wanted, says) in [
        (
            vec!["client", "user", "add", "acme", "ada@acme.example"],
            1,
            "already has a portal account",
        ),
        (
            vec!["client", "user", "add", "acme", "not-an-email"],
            1,
            "email",
        ),
        (
            vec!["client", "user", "add", "nope", "x@acme.example"],
            1,
            "client nope not found",
        ),
        (
            vec![
                "client",
                "user",
                "add",
                "acme",
                "x@acme.example",
                "--role",
                "boss",
            ],
            2,
            "owner, member",
        ),
        (
            vec!["client", "user", "remove", "acme", "999"],
            1,
            "user 999 not found",
        ),
        (vec!["client", "user", "remove", "acme"], 2, "ID"),
    ] {
        let (code, _, err) = run(&args);
        assert_eq!(code, code_wanted, "{args:?}: {err}");
        if code_wanted == 1 {
            assert!(one_line(&err).contains(says), "{args:?}: {err}");
        } else {
            assert!(err.contains(says), "{args:?}: {err}");
        }
    }
    let (code, out, err) = run(&["client", "user", "remove", "acme", &id]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("removed"), "{out}");
}
