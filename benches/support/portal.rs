//! The UI bench's client users: a few per client (invitations only: their
//! links are hashed, no password is set), one of whom signs in to the
//! portal through its invitation page like a browser.

use anyhow::{bail, Context, Result};
use berth::audit::Actor;
use berth::domain::ClientRole;
use berth::ops::{NewClientUserInput, Ops};

/// The portal pages measured, as one client user of a seeded client.
pub const PAGES: [&str; 5] = [
    "/portal",
    "/portal/instances/main",
    "/portal/usage",
    "/portal/backups",
    "/portal/activity",
];

const PASSWORD: &str = "bench-portal-1";

/// Invites `per_client` users to each client; returns the invitation link
/// of the first client's owner (the user the bench signs in as).
pub async fn seed_users(ops: &Ops, clients: u32, per_client: u32) -> Result<String> {
    let cli = Actor::cli();
    let mut first = None;
    for (n, client) in ops.list_clients().await?.iter().enumerate() {
        for u in 0..per_client {
            let input = NewClientUserInput {
                email: format!("user{u}@{}.example", client.slug),
                name: String::new(),
                role: Some(if u == 0 {
                    ClientRole::Owner
                } else {
                    ClientRole::Member
                }),
            };
            let inv = ops.add_client_user(&cli, &client.slug, input).await?;
            if n == 0 && u == 0 {
                first = Some(inv.link);
            }
        }
    }
    eprintln!("invited {} client users", clients * per_client);
    first.context("no clients to invite users to")
}

/// Sets the password through the invitation page (GET for its CSRF token
/// and cookie, POST); returns the portal session cookie.
pub async fn sign_in(base: &str, link: &str) -> Result<String> {
    let http = berth::tls::client_builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let path = format!(
        "/portal/invite/{}",
        link.rsplit('/').next().unwrap_or_default()
    );
    let page = http.get(format!("{base}{path}")).send().await?;
    let cookies: Vec<String> = page
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok()?.split(';').next().map(str::to_owned))
        .collect();
    let html = page.text().await?;
    let token = html
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .context("no CSRF field on the invitation page")?;
    let res = http
        .post(format!("{base}{path}"))
        .header("cookie", cookies.join("; "))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!(
            "_csrf={token}&password={PASSWORD}&confirm={PASSWORD}"
        ))
        .send()
        .await?;
    if !res.status().is_redirection() {
        bail!("accepting the invitation answered {}", res.status());
    }
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("berth_portal="))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
        .context("no portal session cookie after the invitation")
}
