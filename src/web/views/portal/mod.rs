//! The client portal's look: the provider's brand name and logo, the
//! client's name, and its own short navigation. Its pages live beside this
//! file, one per page group.

pub mod activity;
pub mod auth;
pub mod backups;
pub mod instances;
pub mod members;
pub mod requests;
pub mod usage;

use maud::{html, Markup, DOCTYPE};

use super::components::csrf_field;
use super::layout::{head, Flash};
use crate::config::Config;

/// What the portal layout shows around a page.
#[derive(Debug, Clone, Default)]
pub struct PortalChrome {
    pub brand: String,
    pub has_logo: bool,
    /// Set once someone is signed in.
    pub who: Option<Who>,
    pub flash: Vec<Flash>,
}

#[derive(Debug, Clone)]
pub struct Who {
    pub client_name: String,
    pub user_name: String,
    pub is_owner: bool,
    pub csrf: String,
}

impl PortalChrome {
    /// For the pages before sign-in.
    pub fn anonymous(config: &Config) -> Self {
        Self {
            brand: config.portal.brand_name.clone(),
            has_logo: config.portal.logo_file.is_some(),
            who: None,
            flash: Vec::new(),
        }
    }
}

/// Portal pages a signed-in user can reach from the header; later pages
/// (none yet) add their entry here.
const NAV: &[(&str, &str)] = &[
    ("/portal", "Instances"),
    ("/portal/requests", "Requests"),
    ("/portal/usage", "Usage"),
    ("/portal/backups", "Backups"),
    ("/portal/activity", "Activity"),
    ("/portal/members", "Users"),
];

pub fn page(title: &str, chrome: &PortalChrome, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title))
            body.portal {
                header.top {
                    a.brand href="/portal" {
                        @if chrome.has_logo { img.logo src="/portal/logo" alt="" height="24"; " " }
                        (chrome.brand)
                    }
                    @if let Some(who) = &chrome.who {
                        span.client-name { (who.client_name) }
                        nav {
                            @for (href, label) in NAV { a href=(href) { (label) } }
                        }
                        form.inline method="post" action="/portal/logout" {
                            (csrf_field(&who.csrf))
                            button.link type="submit" { "Sign out " (who.user_name) }
                        }
                    }
                }
                main {
                    @for f in &chrome.flash {
                        div class={ "flash " (if f.ok { "flash-ok" } else { "flash-error" }) } role="status" { (f.text) }
                    }
                    (body)
                }
            }
        }
    }
}
