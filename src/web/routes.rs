//! The one table of every route berth serves. The router is built from it
//! and nothing else, and the protection test walks it: a route added here
//! is protected by its `Access`, and a new public route fails that test
//! until it is added to the test's list of expected public routes.

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter};

use super::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Login, setup, assets, health.
    Public,
    /// Admin pages: a signed-in session, and a CSRF token on every non-GET.
    Session,
    /// JSON API: a bearer token.
    Token,
}

pub struct Route {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
    pub(super) endpoint: MethodRouter<AppState>,
}

impl Route {
    fn new<H, T>(method: Method, path: &'static str, access: Access, handler: H) -> Self
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = MethodFilter::try_from(method.clone()).expect("a standard method");
        Self {
            method,
            path,
            access,
            endpoint: axum::routing::on(filter, handler),
        }
    }

    pub fn get<H: Handler<T, AppState>, T: 'static>(
        path: &'static str,
        access: Access,
        h: H,
    ) -> Self {
        Self::new(Method::GET, path, access, h)
    }

    pub fn post<H: Handler<T, AppState>, T: 'static>(
        path: &'static str,
        access: Access,
        h: H,
    ) -> Self {
        Self::new(Method::POST, path, access, h)
    }

    pub fn patch<H: Handler<T, AppState>, T: 'static>(
        path: &'static str,
        access: Access,
        h: H,
    ) -> Self {
        Self::new(Method::PATCH, path, access, h)
    }

    pub fn put<H: Handler<T, AppState>, T: 'static>(
        path: &'static str,
        access: Access,
        h: H,
    ) -> Self {
        Self::new(Method::PUT, path, access, h)
    }

    pub fn delete<H: Handler<T, AppState>, T: 'static>(
        path: &'static str,
        access: Access,
        h: H,
    ) -> Self {
        Self::new(Method::DELETE, path, access, h)
    }
}

/// Every route: the admin pages and the JSON API.
pub fn all() -> Vec<Route> {
    let mut routes = super::pages::routes();
    routes.extend(super::usage_pages::routes());
    routes.extend(super::api::routes());
    routes
}
