//! The client portal under `/portal`: thin handlers like the admin pages,
//! but a handler takes the client only from the signed-in [`PortalUi`],
//! never from the URL, so nothing of another client can be named.
//!
//! [`PortalUi`]: super::portal_session::PortalUi

mod activity;
mod auth;
mod backups;
mod export;
mod frame;
mod handover;
mod home;
mod members;
mod requests;

use super::route::Route;

pub fn routes() -> Vec<Route> {
    let mut r = auth::routes();
    r.extend(home::routes());
    r.extend(backups::routes());
    r.extend(activity::routes());
    r.extend(members::routes());
    r.extend(export::routes());
    r.extend(requests::routes());
    r.extend(handover::routes());
    r
}
