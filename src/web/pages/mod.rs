//! The admin pages, one module per page group: thin handlers that extract,
//! call `ops`, and render a view from `web::views`. Each exposes `routes()`;
//! [`routes`] lists them all for the route table.

pub mod assets;
pub mod audit;
pub mod auth;
pub mod backups;
pub mod client_forms;
pub mod client_users;
pub mod clients;
pub mod dashboard;
pub mod deletions;
pub mod export;
pub mod handover;
pub mod instances;
pub mod llm;
pub mod offsite_restore;
pub mod plan_backups;
pub mod plans;
pub(crate) mod reply;
pub mod requests;
pub mod restore;
pub mod rollouts;
pub mod tokens;
pub mod updates;
pub mod usage;
pub mod users;

use super::route::Route;

pub fn routes() -> Vec<Route> {
    let mut r = Vec::new();
    r.extend(assets::routes());
    r.extend(auth::routes());
    r.extend(dashboard::routes());
    r.extend(clients::routes());
    r.extend(client_forms::routes());
    r.extend(client_users::routes());
    r.extend(llm::routes());
    r.extend(instances::routes());
    r.extend(handover::routes());
    r.extend(deletions::routes());
    r.extend(export::routes());
    r.extend(backups::routes());
    r.extend(restore::routes());
    r.extend(offsite_restore::routes());
    r.extend(rollouts::routes());
    r.extend(plans::routes());
    r.extend(plan_backups::routes());
    r.extend(requests::routes());
    r.extend(tokens::routes());
    r.extend(users::routes());
    r.extend(audit::routes());
    r.extend(usage::routes());
    r.extend(updates::routes());
    r
}
