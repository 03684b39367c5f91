use std::sync::OnceLock;

use maud::{html, Markup, DOCTYPE};
use sha2::{Digest, Sha256};

use crate::web::session::{Flash, Ui};

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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Dashboard,
    Clients,
    Usage,
    Plans,
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
    (Nav::Tokens, "/tokens", "API tokens"),
    (Nav::Users, "/users", "Users"),
    (Nav::Audit, "/audit", "Audit log"),
];

fn head(title: &str) -> Markup {
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
pub fn page(title: &str, nav: Nav, ui: Option<&Ui>, flashes: &[Flash], body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body {
                header.top {
                    a.brand href="/" { "berth" }
                    @if let Some(ui) = ui {
                        nav {
                            @for (item, href, label) in NAV {
                                a href=(href) class=[(*item == nav).then_some("current")] { (label) }
                            }
                        }
                        form.inline method="post" action="/logout" {
                            (super::components::csrf_field(&ui.csrf))
                            button.link type="submit" { "Sign out " (ui.user) }
                        }
                    }
                }
                main {
                    (super::components::flashes(flashes))
                    (body)
                }
            }
        }
    }
}

/// A page outside the signed-in layout (login, setup, errors).
pub fn bare(title: &str, body: Markup) -> Markup {
    page(title, Nav::None, None, &[], body)
}
