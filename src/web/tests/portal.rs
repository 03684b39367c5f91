//! The portal's sign-in life through the real router: invitation → own
//! password → signed in → client suspended → signed out at once → resumed →
//! signed in again; reset links, spent links, the throttle, "forgot".

use super::*;
use crate::domain::{ClientRole, ClientStatus};
use crate::ops::{Invitation, NewClientUserInput};

const PASSWORD: &str = "portal-pass-1";

/// A user of the seeded client; returns the invitation.
pub(super) async fn invite(w: &Web, slug: &str, email: &str, role: ClientRole) -> Invitation {
    let input = NewClientUserInput {
        email: email.into(),
        name: String::new(),
        role: Some(role),
    };
    w.ops
        .add_client_user(&Actor::cli(), slug, input)
        .await
        .unwrap()
}

/// The path of a mailed link (`http://host/portal/...` → `/portal/...`).
pub(super) fn path_of(link: &str) -> String {
    link[link.find("/portal/").expect("a portal link")..].to_owned()
}

impl Web {
    /// Opens a one-time link and sets `password`; the portal cookie.
    pub(super) async fn accept(&self, link: &str, password: &str) -> Answer {
        let path = path_of(link);
        let page = self.send(Method::GET, &path, None, None).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let cookie = page.csrf_cookie().expect("a CSRF cookie");
        let form = format!(
            "_csrf={}&password={password}&confirm={password}",
            page.csrf()
        );
        self.send(Method::POST, &path, Some(&cookie), Some(&form))
            .await
    }

    pub(super) async fn portal_login(&self, email: &str, password: &str) -> Answer {
        let page = self.send(Method::GET, "/portal/login", None, None).await;
        let cookie = page.csrf_cookie().expect("a CSRF cookie");
        let form = format!("_csrf={}&email={email}&password={password}", page.csrf());
        self.send(Method::POST, "/portal/login", Some(&cookie), Some(&form))
            .await
    }

    /// Signs a client user in; (portal cookie, CSRF token of the session).
    pub(super) async fn portal(&self, email: &str, password: &str) -> (String, String) {
        let res = self.portal_login(email, password).await;
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
        assert_eq!(res.location(), "/portal");
        let cookie = res.portal_cookie().expect("a portal session cookie");
        let home = self.get("/portal", &cookie).await;
        assert_eq!(home.status, StatusCode::OK, "{}", home.body);
        (cookie, home.csrf())
    }
}

impl Answer {
    pub(super) fn portal_cookie(&self) -> Option<String> {
        self.cookie_named("berth_portal")
    }
}

#[tokio::test]
async fn invitation_sign_in_suspend_resume() {
    let w = web(|_| {}).await;
    let view = seed_client(&w.ops, "Alpha Co", "").await;
    let slug = view.client.slug.clone();
    let inv = invite(&w, &slug, "Owner@Alpha.example", ClientRole::Owner).await;
    assert!(
        inv.link.starts_with("http://127.0.0.1:7070/portal/invite/"),
        "{}",
        inv.link
    );
    assert!(
        !inv.mailed && inv.mail_warning.is_none(),
        "no [smtp]: nothing mailed"
    );
    // Not signed in before the password is set.
    assert_eq!(
        w.portal_login("owner@alpha.example", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );

    let res = w.accept(&inv.link, PASSWORD).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location(), "/portal");
    let set_cookie = res
        .headers
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap();
    assert!(
        set_cookie.starts_with("berth_portal=") && set_cookie.contains("Path=/portal"),
        "{set_cookie}"
    );
    let cookie = res.portal_cookie().unwrap();
    let home = w.get("/portal", &cookie).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(
        home.body.contains("Alpha Co") && home.body.contains(">main<"),
        "{}",
        home.body
    );
    // The link is spent, and says so.
    let again = w.send(Method::GET, &path_of(&inv.link), None, None).await;
    assert_eq!(again.status, StatusCode::GONE);
    assert!(again.body.contains("already used"), "{}", again.body);

    // Suspending the client ends the session on its next request.
    w.ops
        .set_client_status(&Actor::cli(), &slug, ClientStatus::Suspended)
        .await
        .unwrap();
    let ended = w.get("/portal", &cookie).await;
    assert_eq!(ended.status, StatusCode::SEE_OTHER);
    assert_eq!(ended.location(), "/portal/login?ended=1");
    assert_eq!(
        w.get("/portal", &cookie).await.location(),
        "/portal/login",
        "the session is gone"
    );
    let refused = w.portal_login("owner@alpha.example", PASSWORD).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(refused.body.contains("suspended"), "{}", refused.body);

    w.ops
        .set_client_status(&Actor::cli(), &slug, ClientStatus::Active)
        .await
        .unwrap();
    let (cookie, _) = w.portal("owner@alpha.example", PASSWORD).await;
    assert_eq!(w.get("/portal", &cookie).await.status, StatusCode::OK);

    let actions: Vec<String> = w
        .ops
        .query_audit(crate::store::AuditFilter {
            client_slug: Some(slug.clone()),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_iter()
        .filter(|e| e.action.starts_with("client-user."))
        .map(|e| format!("{} {} {}", e.action, e.actor, e.ip.unwrap_or_default()))
        .collect();
    let who = format!("client:{slug}:Owner@Alpha.example 127.0.0.1");
    for expected in [
        "client-user.accept-invitation",
        "client-user.login-refused",
        "client-user.login",
    ] {
        assert!(
            actions.contains(&format!("{expected} {who}")),
            "{expected} in {actions:#?}"
        );
    }
    assert!(
        actions.iter().any(|a| a.starts_with("client-user.add cli")),
        "{actions:#?}"
    );
}

#[tokio::test]
async fn a_reset_link_sets_a_new_password_and_ends_other_sessions() {
    let w = web(|_| {}).await;
    let slug = seed_client(&w.ops, "Alpha Co", "").await.client.slug;
    let inv = invite(&w, &slug, "m@alpha.example", ClientRole::Member).await;
    w.accept(&inv.link, PASSWORD).await;
    let (old, _) = w.portal("m@alpha.example", PASSWORD).await;

    let reset = w
        .ops
        .client_user_link(&Actor::cli(), &slug, inv.user.id)
        .await
        .unwrap();
    assert!(reset.link.contains("/portal/reset/"), "{}", reset.link);
    // A reset link is not an invitation link.
    let wrong = w
        .send(
            Method::GET,
            &path_of(&reset.link).replace("/reset/", "/invite/"),
            None,
            None,
        )
        .await;
    assert_eq!(wrong.status, StatusCode::NOT_FOUND);
    let res = w.accept(&reset.link, "a-new-password-2").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(
        w.get("/portal", &old).await.location(),
        "/portal/login?ended=1"
    );
    assert_eq!(
        w.portal_login("m@alpha.example", PASSWORD).await.status,
        StatusCode::UNAUTHORIZED
    );
    w.portal("m@alpha.example", "a-new-password-2").await;
}

#[tokio::test]
async fn expired_mismatched_and_unknown_links_get_a_clear_page() {
    let w = web(|_| {}).await;
    let slug = seed_client(&w.ops, "Alpha Co", "").await.client.slug;
    let inv = invite(&w, &slug, "o@alpha.example", ClientRole::Owner).await;
    let path = path_of(&inv.link);
    // The set-password form itself refuses a mismatch and a short password.
    let page = w.send(Method::GET, &path, None, None).await;
    let cookie = page.csrf_cookie().unwrap();
    for (form, why) in [
        (
            "password=long-enough-1&confirm=long-enough-2",
            "does not match",
        ),
        ("password=short&confirm=short", "at least 10"),
    ] {
        let res = w
            .send(
                Method::POST,
                &path,
                Some(&cookie),
                Some(&format!("_csrf={}&{form}", page.csrf())),
            )
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.body.contains(why), "{}", res.body);
    }
    w.store
        .call(|c| {
            c.execute(
                "UPDATE client_user_tokens SET expires_at = '2000-01-01T00:00:00Z'",
                [],
            )?;
            Ok(())
        })
        .await
        .unwrap();
    let expired = w.send(Method::GET, &path, None, None).await;
    assert_eq!(expired.status, StatusCode::GONE);
    assert!(expired.body.contains("expired"), "{}", expired.body);
    let form = format!(
        "_csrf={}&password={PASSWORD}&confirm={PASSWORD}",
        page.csrf()
    );
    let late = w
        .send(Method::POST, &path, Some(&cookie), Some(&form))
        .await;
    assert_eq!(late.status, StatusCode::GONE);
    for bogus in ["/portal/invite/nope", "/portal/reset/00"] {
        let res = w.send(Method::GET, bogus, None, None).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{bogus}");
        assert!(res.body.contains("not valid"), "{}", res.body);
    }
}

#[tokio::test]
async fn portal_logins_are_throttled_and_forgot_answers_alike() {
    // A relay that refuses connections: the reset mail fails in the
    // background, and the answer must not tell.
    let w = web(|c| {
        c.smtp = Some(crate::config::SmtpConfig {
            host: "127.0.0.1".into(),
            port: Some(1),
            username: None,
            password: None,
            password_file: None,
            from: "noreply@example.com".into(),
            tls: crate::config::SmtpTls::None,
        })
    })
    .await;
    let slug = seed_client(&w.ops, "Alpha Co", "").await.client.slug;
    let inv = invite(&w, &slug, "o@alpha.example", ClientRole::Owner).await;
    w.accept(&inv.link, PASSWORD).await;
    for _ in 0..5 {
        let res = w.portal_login("o@alpha.example", "wrong-password").await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert!(res.body.contains("wrong email or password"), "{}", res.body);
    }
    let res = w.portal_login("o@alpha.example", PASSWORD).await;
    assert_eq!(
        res.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );

    let page = w.send(Method::GET, "/portal/forgot", None, None).await;
    let cookie = page.csrf_cookie().unwrap();
    let mut bodies = Vec::new();
    for email in ["o@alpha.example", "nobody@nowhere.example"] {
        let form = format!("_csrf={}&email={email}", page.csrf());
        let res = w
            .send(Method::POST, "/portal/forgot", Some(&cookie), Some(&form))
            .await;
        assert_eq!(res.status, StatusCode::OK);
        bodies.push(res.body);
    }
    assert_eq!(
        bodies[0], bodies[1],
        "the answer tells nothing about the email"
    );
}

#[tokio::test]
async fn sessions_do_not_cross_between_admin_and_portal() {
    let w = web(|_| {}).await;
    let (admin, _) = w.admin().await;
    let slug = seed_client(&w.ops, "Alpha Co", "").await.client.slug;
    let inv = invite(&w, &slug, "o@alpha.example", ClientRole::Owner).await;
    let portal = w.accept(&inv.link, PASSWORD).await.portal_cookie().unwrap();
    assert_eq!(w.get("/portal", &admin).await.location(), "/portal/login");
    assert_eq!(w.get("/clients", &portal).await.location(), "/login");
    // Nor does a session id travel under the other cookie's name.
    let (_, id) = portal.split_once('=').unwrap();
    assert_eq!(
        w.get("/clients", &format!("berth_session={id}"))
            .await
            .location(),
        "/login"
    );
    let (_, id) = admin.split_once('=').unwrap();
    assert_eq!(
        w.get("/portal", &format!("berth_portal={id}"))
            .await
            .location(),
        "/portal/login"
    );
}
