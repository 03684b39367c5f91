use std::sync::OnceLock;

use maud::{html, Markup, DOCTYPE};
use sha2::{Digest, Sha256};

use serde::{Deserialize, Serialize};

pub const CSS: &str = include_str!("../assets/berth.css");
pub const JS: &str = include_str!("../assets/status.js");

/// Short content hashes: asset URLs carry them, so browsers may cache the
/// files for long and still see a new version at once.
pub fn asset_version() -> &'static str {
    static V: OnceLock<String> = OnceLock::new();
    V.get_or_init(|| {
        let mut h = Sha256::new();
        h.update(CSS);
        h.update(JS);
        hex::encode(&h.finalize()[..6])
    })
}

/// A message for the next page a session sees (kept in the session).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Flash {
    pub ok: bool,
    pub text: String,
}

/// What the signed-in layout shows around a page: who is signed in, the
/// messages waiting for them, and the CSRF token every form carries.
#[derive(Debug, Clone, Default)]
pub struct Chrome {
    pub user: String,
    pub flash: Vec<Flash>,
    pub csrf: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Dashboard,
    Clients,
    Usage,
    Plans,
    Requests,
    Updates,
    Rollouts,
    Tokens,
    Users,
    Audit,
    None,
}

const NAV: &[(Nav, &str, &str)] = &[
    (Nav::Dashboard, "/", "Dashboard"),
    (Nav::Clients, "/clients", "Clients"),
    (Nav::Usage, "/usage", "Usage"),
    (Nav::Plans, "/plans", "Plans"),
    (Nav::Requests, "/requests", "Requests"),
    (Nav::Updates, "/updates", "Updates"),
    (Nav::Rollouts, "/rollouts", "Rollouts"),
    (Nav::Tokens, "/tokens", "API tokens"),
    (Nav::Users, "/users", "Users"),
    (Nav::Audit, "/audit", "Audit log"),
];

pub(super) fn head(title: &str) -> Markup {
    let v = asset_version();
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · berth" }
            link rel="stylesheet" href={ "/assets/berth.css?v=" (v) };
            script src={ "/assets/status.js?v=" (v) } defer {}
        }
    }
}

/// The one layout: navigation, sign-out, flash messages, then the page.
pub fn page(title: &str, nav: Nav, chrome: &Chrome, body: Markup) -> Markup {
    layout(title, nav, Some(chrome), body)
}

fn layout(title: &str, nav: Nav, chrome: Option<&Chrome>, body: Markup) -> Markup {
    let flashes = chrome.map(|c| c.flash.as_slice()).unwrap_or_default();
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header.top {
                    a.brand href="/" { "berth" }
                    @if let Some(chrome) = chrome {
                        nav {
                            @for (item, href, label) in NAV {
                                a href=(href) class=[(*item == nav).then_some("current")] { (label) }
                            }
                        }
                        form.inline method="post" action="/logout" {
                            (super::components::csrf_field(&chrome.csrf))
                            button.link type="submit" { "Sign out " (chrome.user) }
                        }
                    }
                }
                main {
                    (flash_list(flashes))
                    (body)
                }
            }
        }
    }
}

/// A page outside the signed-in layout (login, setup, errors).
pub fn bare(title: &str, body: Markup) -> Markup {
    layout(title, Nav::None, None, body)
}

fn flash_list(list: &[Flash]) -> Markup {
    html! {
        @for f in list {
            div class={ "flash " (if f.ok { "flash-ok" } else { "flash-error" }) } role="status" { (f.text) }
        }
    }
}
