//! The one table of every route berth serves. The router is built from it
//! and nothing else, and the protection test walks it: a route added here
//! is protected by its `Access`, and a new public route fails that test
//! until it is added to the test's list of expected public routes.

pub use super::route::{Access, Route};

/// Every route: the admin pages, the portal, the JSON API and `/metrics`.
pub fn all() -> Vec<Route> {
    let mut routes = super::pages::routes();
    routes.extend(super::portal::routes());
    routes.extend(super::api::routes());
    routes.extend(super::metrics::routes());
    routes
}
