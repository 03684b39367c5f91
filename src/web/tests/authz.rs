//! The authorization matrix: every route of the table, walked as an
//! anonymous visitor, an owner and a member of client A, a user of client
//! B, a signed-in admin and an API token. A client's users never reach an
//! admin page or the API (their cookie is not accepted there), never see
//! the other client's name or any secret; an admin cookie is not accepted
//! on the portal. Each route has a row below: a route without one (or a
//! row without its route) fails the test, so whoever adds a route decides
//! here what it must answer to whom.

use std::collections::{BTreeMap, BTreeSet};

use super::portal::invite;
use super::*;
use crate::domain::ClientRole;
use crate::ops::NewInstanceInput;

/// Who may pass a route's guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Anyone (sign-in pages, assets, health).
    Public,
    /// An admin session only.
    Admin,
    /// A bearer token only.
    Api,
    /// Loopback without a token; through a proxy a token only.
    Metrics,
    /// Anyone: the portal's sign-in and link pages.
    PortalPublic,
    /// A signed-in client user, of whichever client.
    Portal,
    /// A signed-in client user naming a thing of client A: B's user must
    /// get the same 404 as for a thing that does not exist.
    PortalOfA,
    /// A signed-in client user, answered with the sign-in page (sign-out).
    SignOut,
}
use Kind::*;

/// Every route: "METHOD path" as in the table, the path asked for
/// ({A}: client A's slug, {AI}: A's instance, {AU}: A's member, {LINK}: a
/// well-formed link token) and who may pass.
const MATRIX: &[(&str, &str, Kind)] = &[
    ("GET /", "/", Admin),
    (
        "POST /api/v1/backups/import-manifests",
        "/api/v1/backups/import-manifests",
        Api,
    ),
    ("GET /api/v1/backups/status", "/api/v1/backups/status", Api),
    ("GET /api/v1/backups/{id}", "/api/v1/backups/1", Api),
    (
        "GET /api/v1/backups/{id}/download",
        "/api/v1/backups/1/download",
        Api,
    ),
    (
        "POST /api/v1/backups/{id}/restore",
        "/api/v1/backups/1/restore",
        Api,
    ),
    (
        "POST /api/v1/backups/{id}/verify",
        "/api/v1/backups/1/verify",
        Api,
    ),
    ("GET /api/v1/clients", "/api/v1/clients", Api),
    ("POST /api/v1/clients", "/api/v1/clients", Api),
    ("DELETE /api/v1/clients/{slug}", "/api/v1/clients/{A}", Api),
    ("GET /api/v1/clients/{slug}", "/api/v1/clients/{A}", Api),
    ("PATCH /api/v1/clients/{slug}", "/api/v1/clients/{A}", Api),
    (
        "GET /api/v1/clients/{slug}/instances",
        "/api/v1/clients/{A}/instances",
        Api,
    ),
    (
        "POST /api/v1/clients/{slug}/instances",
        "/api/v1/clients/{A}/instances",
        Api,
    ),
    (
        "GET /api/v1/clients/{slug}/llm",
        "/api/v1/clients/{A}/llm",
        Api,
    ),
    (
        "PATCH /api/v1/clients/{slug}/llm",
        "/api/v1/clients/{A}/llm",
        Api,
    ),
    (
        "POST /api/v1/clients/{slug}/llm/rotate",
        "/api/v1/clients/{A}/llm/rotate",
        Api,
    ),
    (
        "POST /api/v1/clients/{slug}/resume",
        "/api/v1/clients/{A}/resume",
        Api,
    ),
    (
        "POST /api/v1/clients/{slug}/suspend",
        "/api/v1/clients/{A}/suspend",
        Api,
    ),
    (
        "GET /api/v1/clients/{slug}/usage",
        "/api/v1/clients/{A}/usage",
        Api,
    ),
    (
        "GET /api/v1/clients/{slug}/users",
        "/api/v1/clients/{A}/users",
        Api,
    ),
    (
        "POST /api/v1/clients/{slug}/users",
        "/api/v1/clients/{A}/users",
        Api,
    ),
    (
        "DELETE /api/v1/clients/{slug}/users/{id}",
        "/api/v1/clients/{A}/users/{AU}",
        Api,
    ),
    (
        "POST /api/v1/clients/{slug}/users/{id}/reset",
        "/api/v1/clients/{A}/users/{AU}/reset",
        Api,
    ),
    ("GET /api/v1/deletions/{id}", "/api/v1/deletions/1", Api),
    ("GET /api/v1/health", "/api/v1/health", Public),
    ("GET /api/v1/instances", "/api/v1/instances", Api),
    (
        "DELETE /api/v1/instances/{id}",
        "/api/v1/instances/{AI}",
        Api,
    ),
    ("GET /api/v1/instances/{id}", "/api/v1/instances/{AI}", Api),
    (
        "PATCH /api/v1/instances/{id}",
        "/api/v1/instances/{AI}",
        Api,
    ),
    (
        "GET /api/v1/instances/{id}/backups",
        "/api/v1/instances/{AI}/backups",
        Api,
    ),
    (
        "POST /api/v1/instances/{id}/backups",
        "/api/v1/instances/{AI}/backups",
        Api,
    ),
    (
        "POST /api/v1/instances/{id}/restart",
        "/api/v1/instances/{AI}/restart",
        Api,
    ),
    (
        "POST /api/v1/instances/{id}/start",
        "/api/v1/instances/{AI}/start",
        Api,
    ),
    (
        "POST /api/v1/instances/{id}/stop",
        "/api/v1/instances/{AI}/stop",
        Api,
    ),
    (
        "GET /api/v1/instances/{id}/usage",
        "/api/v1/instances/{AI}/usage",
        Api,
    ),
    ("GET /api/v1/llm/overview", "/api/v1/llm/overview", Api),
    ("GET /api/v1/plans", "/api/v1/plans", Api),
    ("POST /api/v1/plans", "/api/v1/plans", Api),
    ("DELETE /api/v1/plans/{name}", "/api/v1/plans/p", Api),
    ("GET /api/v1/plans/{name}", "/api/v1/plans/p", Api),
    ("PATCH /api/v1/plans/{name}", "/api/v1/plans/p", Api),
    (
        "GET /api/v1/plans/{name}/backup-policy",
        "/api/v1/plans/p/backup-policy",
        Api,
    ),
    (
        "PUT /api/v1/plans/{name}/backup-policy",
        "/api/v1/plans/p/backup-policy",
        Api,
    ),
    ("GET /api/v1/plans/{name}/llm", "/api/v1/plans/p/llm", Api),
    ("PUT /api/v1/plans/{name}/llm", "/api/v1/plans/p/llm", Api),
    ("GET /api/v1/restores/{id}", "/api/v1/restores/1", Api),
    ("GET /api/v1/usage/export", "/api/v1/usage/export", Api),
    ("GET /api/v1/usage/host", "/api/v1/usage/host", Api),
    ("GET /api/v1/usage/top", "/api/v1/usage/top", Api),
    ("GET /api/v1/usage/warnings", "/api/v1/usage/warnings", Api),
    ("GET /assets/{file}", "/assets/berth.css", Public),
    ("GET /audit", "/audit", Admin),
    ("GET /audit/export", "/audit/export", Admin),
    ("GET /backups/{id}/download", "/backups/1/download", Admin),
    ("GET /backups/{id}/restore", "/backups/1/restore", Admin),
    ("POST /backups/{id}/restore", "/backups/1/restore", Admin),
    ("POST /backups/{id}/verify", "/backups/1/verify", Admin),
    ("GET /clients", "/clients", Admin),
    ("POST /clients", "/clients", Admin),
    ("GET /clients/new", "/clients/new", Admin),
    ("GET /clients/{slug}", "/clients/{A}", Admin),
    ("GET /clients/{slug}/delete", "/clients/{A}/delete", Admin),
    ("POST /clients/{slug}/delete", "/clients/{A}/delete", Admin),
    ("GET /clients/{slug}/edit", "/clients/{A}/edit", Admin),
    ("POST /clients/{slug}/edit", "/clients/{A}/edit", Admin),
    (
        "POST /clients/{slug}/instances",
        "/clients/{A}/instances",
        Admin,
    ),
    (
        "GET /clients/{slug}/instances/new",
        "/clients/{A}/instances/new",
        Admin,
    ),
    ("POST /clients/{slug}/resume", "/clients/{A}/resume", Admin),
    ("GET /clients/{slug}/status", "/clients/{A}/status", Admin),
    (
        "POST /clients/{slug}/suspend",
        "/clients/{A}/suspend",
        Admin,
    ),
    ("POST /clients/{slug}/users", "/clients/{A}/users", Admin),
    (
        "POST /clients/{slug}/users/{id}/delete",
        "/clients/{A}/users/{AU}/delete",
        Admin,
    ),
    (
        "POST /clients/{slug}/users/{id}/link",
        "/clients/{A}/users/{AU}/link",
        Admin,
    ),
    ("GET /deletions/{id}", "/deletions/1", Admin),
    (
        "GET /instances/{id}/backups",
        "/instances/{AI}/backups",
        Admin,
    ),
    (
        "POST /instances/{id}/backups",
        "/instances/{AI}/backups",
        Admin,
    ),
    (
        "GET /instances/{id}/remove",
        "/instances/{AI}/remove",
        Admin,
    ),
    (
        "POST /instances/{id}/remove",
        "/instances/{AI}/remove",
        Admin,
    ),
    (
        "POST /instances/{id}/restart",
        "/instances/{AI}/restart",
        Admin,
    ),
    ("POST /instances/{id}/start", "/instances/{AI}/start", Admin),
    ("POST /instances/{id}/stop", "/instances/{AI}/stop", Admin),
    ("GET /login", "/login", Public),
    ("POST /login", "/login", Public),
    ("POST /logout", "/logout", Admin),
    ("GET /metrics", "/metrics", Metrics),
    ("GET /plans", "/plans", Admin),
    ("POST /plans", "/plans", Admin),
    ("GET /plans/new", "/plans/new", Admin),
    (
        "POST /plans/{name}/backup-policy",
        "/plans/p/backup-policy",
        Admin,
    ),
    ("POST /plans/{name}/delete", "/plans/p/delete", Admin),
    ("GET /plans/{name}/edit", "/plans/p/edit", Admin),
    ("POST /plans/{name}/edit", "/plans/p/edit", Admin),
    ("GET /portal", "/portal", Portal),
    ("GET /portal/forgot", "/portal/forgot", PortalPublic),
    ("POST /portal/forgot", "/portal/forgot", PortalPublic),
    (
        "GET /portal/invite/{token}",
        "/portal/invite/{LINK}",
        PortalPublic,
    ),
    (
        "POST /portal/invite/{token}",
        "/portal/invite/{LINK}",
        PortalPublic,
    ),
    ("GET /portal/login", "/portal/login", PortalPublic),
    ("POST /portal/login", "/portal/login", PortalPublic),
    ("GET /portal/logo", "/portal/logo", PortalPublic),
    ("POST /portal/logout", "/portal/logout", SignOut),
    ("GET /portal/members", "/portal/members", Portal),
    ("POST /portal/members", "/portal/members", Portal),
    (
        "POST /portal/members/{id}/delete",
        "/portal/members/{AU}/delete",
        PortalOfA,
    ),
    (
        "GET /portal/reset/{token}",
        "/portal/reset/{LINK}",
        PortalPublic,
    ),
    (
        "POST /portal/reset/{token}",
        "/portal/reset/{LINK}",
        PortalPublic,
    ),
    ("GET /setup", "/setup", Public),
    ("POST /setup", "/setup", Public),
    ("GET /tokens", "/tokens", Admin),
    ("POST /tokens", "/tokens", Admin),
    ("POST /tokens/{name}/revoke", "/tokens/matrix/revoke", Admin),
    ("GET /usage", "/usage", Admin),
    ("GET /usage/clients/{slug}", "/usage/clients/{A}", Admin),
    ("GET /usage/host", "/usage/host", Admin),
    ("GET /usage/instances/{id}", "/usage/instances/{AI}", Admin),
    ("GET /users", "/users", Admin),
    ("POST /users", "/users", Admin),
    ("POST /users/{name}/delete", "/users/admin/delete", Admin),
    (
        "POST /users/{name}/password",
        "/users/admin/password",
        Admin,
    ),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Anonymous,
    OwnerA,
    MemberA,
    UserB,
    Admin,
    Token,
}

struct Setup {
    slug_a: String,
    instance_a: i64,
    member_a: i64,
    token: String,
    /// Values no one but the provider may ever see in a response.
    secrets: Vec<String>,
}

const PASSWORD: &str = "matrix-pass-1";

async fn setup(w: &Web) -> Setup {
    let view = seed_client(&w.ops, "Alpha Co", "").await;
    let slug_a = view.client.slug.clone();
    let chat = NewInstanceInput {
        name: Some("chat".into()),
        blueprint: Some("open-webui".into()),
        domain: None,
        env: None,
    };
    w.ops
        .add_instance(&Actor::cli(), &slug_a, chat)
        .await
        .unwrap();
    let b = NewClientInput {
        name: "Beta Ltd".into(),
        email: "b@example.com".into(),
        plan: "p".into(),
        notes: String::new(),
        blueprint: Some("static-site".into()),
        domain: None,
        env: None,
    };
    let slug_b = w
        .ops
        .create_client(&Actor::cli(), b)
        .await
        .unwrap()
        .client
        .slug;
    let token = w.ops.create_token(&Actor::cli(), "matrix").await.unwrap();
    let mut secrets = vec![token.clone()];
    for (slug, email, role) in [
        (&slug_a, "owner@alpha.example", ClientRole::Owner),
        (&slug_a, "member@alpha.example", ClientRole::Member),
        (&slug_b, "user@beta.example", ClientRole::Owner),
    ] {
        let inv = invite(w, slug, email, role).await;
        secrets.push(inv.link.rsplit('/').next().unwrap().to_owned());
        w.accept(&inv.link, PASSWORD).await;
    }
    let stored: Vec<String> = w
        .store
        .call(|c| {
            let mut stmt = c.prepare("SELECT secrets FROM instances")?;
            let rows = stmt
                .query_map([], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            Ok(rows)
        })
        .await
        .unwrap();
    for json in stored {
        let map: BTreeMap<String, String> = serde_json::from_str(&json).unwrap();
        secrets.extend(map.into_values());
    }
    assert!(
        secrets.len() > 4,
        "the chat instance has a secret: {secrets:?}"
    );
    let users = w.ops.list_client_users(&slug_a).await.unwrap();
    let member_a = users
        .iter()
        .find(|u| u.role == ClientRole::Member)
        .unwrap()
        .id;
    let instance_a = w.ops.list_instances(Some(&slug_a)).await.unwrap()[0].id;
    Setup {
        slug_a,
        instance_a,
        member_a,
        token,
        secrets,
    }
}

fn concrete_path(s: &Setup, path: &str) -> String {
    path.replace("{A}", &s.slug_a)
        .replace("{AI}", &s.instance_a.to_string())
        .replace("{AU}", &s.member_a.to_string())
        .replace("{LINK}", &"0".repeat(64))
}

#[tokio::test]
async fn every_route_answers_each_kind_of_caller_as_its_row_says() {
    let w = web(|_| {}).await;
    let (admin_cookie, _) = w.admin().await;
    let s = setup(&w).await;
    let table = routes::all();
    let routes: BTreeSet<String> = table
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect();
    let rows: BTreeSet<String> = MATRIX.iter().map(|(k, _, _)| (*k).to_owned()).collect();
    let missing: Vec<_> = routes.difference(&rows).collect();
    assert!(
        missing.is_empty(),
        "routes without a row in the authorization matrix: {missing:#?}"
    );
    let stale: Vec<_> = rows.difference(&routes).collect();
    assert!(stale.is_empty(), "matrix rows without a route: {stale:#?}");
    for r in &table {
        let key = format!("{} {}", r.method, r.path);
        let kind = MATRIX.iter().find(|(k, _, _)| *k == key).unwrap().2;
        let declared = match kind {
            Public => Access::Public,
            Admin => Access::Session,
            Api => Access::Token,
            Metrics => Access::LoopbackOrToken,
            PortalPublic => Access::PortalPublic,
            Portal | PortalOfA | SignOut => Access::Portal,
        };
        assert_eq!(r.access, declared, "{key}: the row and the route disagree");
    }

    let users = [
        (Role::OwnerA, "owner@alpha.example"),
        (Role::MemberA, "member@alpha.example"),
        (Role::UserB, "user@beta.example"),
    ];
    // Order matters where calls change things: B's user asks for A's member
    // while it exists, A's owner removes it after A's member had its turn,
    // and the token goes last (it may suspend A).
    for role in [
        Role::Anonymous,
        Role::UserB,
        Role::MemberA,
        Role::OwnerA,
        Role::Admin,
        Role::Token,
    ] {
        let email = users.iter().find(|(r, _)| *r == role).map(|(_, e)| *e);
        let mut portal = match email {
            Some(e) => Some(w.portal(e, PASSWORD).await),
            None => None,
        };
        for (key, path, kind) in MATRIX {
            let (method, _) = key.split_once(' ').unwrap();
            let method: Method = method.parse().unwrap();
            let path = concrete_path(&s, path);
            let res = call(
                &w,
                role,
                &method,
                &path,
                *kind,
                portal.as_ref(),
                &admin_cookie,
                &s.token,
            )
            .await;
            let what = format!("{role:?} {key} ({path}): {} {}", res.status, res.location());
            check(role, *kind, &method, &res, &what);
            if portal.is_some() || role == Role::Anonymous {
                for secret in &s.secrets {
                    assert!(!res.body.contains(secret.as_str()), "{what} shows a secret");
                }
                let others: &[&str] = match role {
                    Role::OwnerA | Role::MemberA => &["Beta Ltd"],
                    Role::UserB => &["Alpha Co"],
                    _ => &["Alpha Co", "Beta Ltd"],
                };
                for name in others {
                    assert!(!res.body.contains(name), "{what} names {name}");
                }
            }
            if *key == "POST /portal/logout" {
                if let Some(e) = email {
                    portal = Some(w.portal(e, PASSWORD).await);
                }
            }
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn call(
    w: &Web,
    role: Role,
    method: &Method,
    path: &str,
    kind: Kind,
    portal: Option<&(String, String)>,
    admin_cookie: &str,
    token: &str,
) -> Answer {
    let post = *method != Method::GET;
    let mut headers: Vec<(&str, String)> = Vec::new();
    if kind == Metrics && role != Role::Token {
        headers.push(("x-forwarded-for", "203.0.113.9".into()));
    }
    let form = match (role, portal) {
        (_, Some((cookie, csrf))) => {
            headers.push(("cookie", cookie.clone()));
            post.then(|| format!("_csrf={csrf}&confirm=x&name=x&email=x%40example.com"))
        }
        (Role::Admin, _) => {
            // No valid token: the session guard answers first, then CSRF refuses.
            headers.push(("cookie", admin_cookie.to_owned()));
            post.then(|| "_csrf=not-the-token&confirm=x".to_owned())
        }
        (Role::Token, _) => {
            headers.push(("authorization", format!("Bearer {token}")));
            None
        }
        _ => post.then(|| "_csrf=x&confirm=x".to_owned()),
    };
    let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    w.send_with(method.clone(), path, None, form.as_deref(), &headers)
        .await
}

fn check(role: Role, kind: Kind, method: &Method, res: &Answer, what: &str) {
    let admin_login = res.status == StatusCode::SEE_OTHER && res.location() == "/login";
    let portal_login =
        res.status == StatusCode::SEE_OTHER && res.location().starts_with("/portal/login");
    assert!(res.status.as_u16() < 500, "{what}: {}", res.body);
    let client_user = matches!(role, Role::OwnerA | Role::MemberA | Role::UserB);
    match kind {
        Public | PortalPublic => {}
        Admin => {
            if role == Role::Admin {
                assert!(!admin_login, "{what}: the admin is turned away");
                if *method != Method::GET {
                    assert_eq!(res.status, StatusCode::FORBIDDEN, "{what}: CSRF");
                }
            } else {
                assert!(admin_login, "{what}: only an admin session may pass");
            }
        }
        Api => {
            if role == Role::Token {
                assert_ne!(res.status, StatusCode::UNAUTHORIZED, "{what}");
            } else {
                assert_eq!(
                    res.status,
                    StatusCode::UNAUTHORIZED,
                    "{what}: only a token may pass"
                );
            }
        }
        Metrics => {
            if role != Role::Token {
                assert_eq!(
                    res.status,
                    StatusCode::UNAUTHORIZED,
                    "{what}: proxied without a token"
                );
            }
        }
        SignOut => {
            if client_user {
                assert_eq!(res.location(), "/portal/login", "{what}");
            } else {
                assert!(portal_login, "{what}: only a client user may pass");
            }
        }
        Portal | PortalOfA => {
            if !client_user {
                assert!(portal_login, "{what}: only a client user may pass");
            } else {
                assert!(!portal_login, "{what}: a client user is turned away");
                if kind == PortalOfA && role == Role::UserB {
                    assert_eq!(
                        res.status,
                        StatusCode::NOT_FOUND,
                        "{what}: another client's thing"
                    );
                }
            }
        }
    }
}
