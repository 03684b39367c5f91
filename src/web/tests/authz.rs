//! The authorization matrix: every route of the table, walked as an
//! anonymous visitor, an owner and a member of client A, a user of client
//! B, a signed-in admin and an API token. A client's users never reach an
//! admin page or the API (their cookie is not accepted there), never see
//! the other client's name or any secret; an admin cookie is not accepted
//! on the portal. Each route has a row below: a route without one (or a
//! row without its route) fails the test, so whoever adds a route decides
//! here what it must answer to whom.

use std::collections::{BTreeMap, BTreeSet};

use super::authz_matrix::{Kind, Kind::*, MATRIX};
use super::portal::invite;
use super::*;
use crate::domain::ClientRole;
use crate::ops::NewInstanceInput;

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
    /// Queued only (no backup runner here): enough to be A's.
    backup_a: i64,
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
    let backup_a = w
        .ops
        .request_backup(&Actor::cli(), instance_a, crate::domain::Trigger::Cli)
        .await
        .unwrap()
        .id;
    Setup {
        slug_a,
        instance_a,
        backup_a,
        member_a,
        token,
        secrets,
    }
}

fn concrete_path(s: &Setup, path: &str) -> String {
    path.replace("{A}", &s.slug_a)
        .replace("{AI}", &s.instance_a.to_string())
        // B has a "main" of its own; only A has "chat".
        .replace("{AN}", "chat")
        .replace("{AB}", &s.backup_a.to_string())
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
                    assert!(res.body.contains("Back to your portal"), "{what}");
                }
            }
        }
    }
}
