//! What a route is: method, path, handler and who may call it. The table
//! of every route is [`super::routes`].

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::{MethodFilter, MethodRouter};

use super::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Login, setup, assets, health.
    Public,
    /// Admin pages: a signed-in session, and a CSRF token on every non-GET.
    Session,
    /// JSON API: a bearer token.
    Token,
    /// `/metrics`: a scraper on this host without a token, anyone else with one.
    LoopbackOrToken,
    /// The portal's sign-in, invitation and reset pages: anonymous, with a
    /// double-submit CSRF cookie like the admin sign-in.
    PortalPublic,
    /// A client user signed in to the portal (its own session and cookie);
    /// a CSRF token on every non-GET.
    Portal,
}

impl Access {
    /// Whether this route's errors are JSON (`{"error": ...}`) or a page.
    pub fn speaks_json(self) -> bool {
        matches!(self, Self::Token | Self::LoopbackOrToken)
    }
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
