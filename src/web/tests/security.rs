//! Sessions, CSRF, login throttle, setup and escaping, through the real router.

use super::*;

#[tokio::test]
async fn state_changes_need_the_sessions_csrf_token() {
    let w = web(|_| {}).await;
    let (cookie, csrf) = w.admin().await;
    let form = "name=tiny&cpus=0.5&memory=64MiB";
    for bad in [form.to_owned(), format!("_csrf=wrong{}&{form}", &csrf[5..])] {
        let res = w
            .send(Method::POST, "/plans", Some(&cookie), Some(&bad))
            .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        assert!(
            w.ops.list_plans().await.unwrap().is_empty(),
            "nothing may change"
        );
    }
    let res = w
        .send(
            Method::POST,
            "/plans",
            Some(&cookie),
            Some(&format!("_csrf={csrf}&{form}")),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(w.ops.list_plans().await.unwrap().len(), 1);
    // The token of another session does not work either.
    w.ops
        .create_user(&Actor::cli(), "other", "correct-horse-2")
        .await
        .unwrap();
    let (_, other_csrf) = w.sign_in("other", "correct-horse-2").await;
    let res = w
        .send(
            Method::POST,
            "/plans/tiny/delete",
            Some(&cookie),
            Some(&format!("_csrf={other_csrf}")),
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert_eq!(w.ops.list_plans().await.unwrap().len(), 1);
}

#[tokio::test]
async fn logins_are_throttled_after_five_failures() {
    let w = web(|_| {}).await;
    w.add_admin().await;
    let login = w.send(Method::GET, "/login", None, None).await;
    let cookie = login.csrf_cookie().unwrap();
    let attempt = |password: &'static str| {
        let form = format!("_csrf={}&name=admin&password={password}", login.csrf());
        let (w, cookie) = (&w, cookie.clone());
        async move {
            w.send(Method::POST, "/login", Some(&cookie), Some(&form))
                .await
        }
    };
    for _ in 0..5 {
        let res = attempt("wrong-password").await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert!(res.body.contains("wrong name or password"));
    }
    let res = attempt("correct-horse-1").await;
    assert_eq!(
        res.status,
        StatusCode::TOO_MANY_REQUESTS,
        "even the right password waits"
    );
    assert!(
        res.body.contains("too many failed sign-ins"),
        "{}",
        res.body
    );
    let failed = w
        .ops
        .query_audit(crate::store::AuditFilter {
            action: Some("user.login-failed".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(failed.len(), 5);
    assert_eq!(failed[0].ip.as_deref(), Some("127.0.0.1"));
}

#[tokio::test]
async fn idle_sessions_expire() {
    let w = web(|c| c.web.session_idle = Duration::from_secs(1)).await;
    let (cookie, _) = w.admin().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    loop {
        let res = w.get("/clients", &cookie).await;
        if res.status == StatusCode::SEE_OTHER && res.location() == "/login" {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "session still valid after 15 s idle"
        );
        // Waiting for expiry is the point; polling would keep the session alive.
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
}

#[tokio::test]
async fn a_password_reset_ends_the_accounts_sessions() {
    let w = web(|_| {}).await;
    let (cookie, _) = w.admin().await;
    w.ops
        .reset_password(&Actor::cli(), "admin", "correct-horse-9")
        .await
        .unwrap();
    let res = w.get("/", &cookie).await;
    assert_eq!(res.location(), "/login");
}

#[tokio::test]
async fn markup_in_client_names_is_shown_as_text_and_headers_are_set() {
    let w = web(|_| {}).await;
    let (cookie, _) = w.admin().await;
    let view = seed_client(
        &w.ops,
        "<script>alert(1)</script> & \"Co\"",
        "<img src=x onerror=alert(2)>",
    )
    .await;
    for path in [
        "/clients".to_owned(),
        format!("/clients/{}", view.client.slug),
        "/audit".to_owned(),
        "/".to_owned(),
    ] {
        let res = w.get(&path, &cookie).await;
        assert_eq!(res.status, StatusCode::OK, "{path}");
        assert!(
            !res.body.contains("<script>alert"),
            "{path} renders raw markup"
        );
        assert!(
            !res.body.contains("<img src=x"),
            "{path} renders raw markup"
        );
        let csp = res
            .headers
            .get(header::CONTENT_SECURITY_POLICY)
            .unwrap()
            .to_str()
            .unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert_eq!(
            res.headers.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(),
            "nosniff"
        );
    }
    let detail = w
        .get(&format!("/clients/{}", view.client.slug), &cookie)
        .await;
    assert!(
        detail
            .body
            .contains("<h1>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Co&quot;"),
        "{}",
        detail.body
    );
}

#[tokio::test]
async fn setup_creates_the_first_admin_once() {
    let w = web(|_| {}).await;
    assert_eq!(
        w.send(Method::GET, "/login", None, None).await.location(),
        "/setup"
    );
    let setup = w.send(Method::GET, "/setup", None, None).await;
    let cookie = setup.csrf_cookie().unwrap();
    let form = format!("_csrf={}&name=first&password=long-enough-1", setup.csrf());
    let res = w
        .send(Method::POST, "/setup", Some(&cookie), Some(&form))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(w.ops.user_count().await.unwrap(), 1);
    let set_cookie = res
        .headers
        .get(header::SET_COOKIE)
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        set_cookie.contains("HttpOnly") && set_cookie.contains("SameSite=Lax"),
        "{set_cookie}"
    );
    // Once an account exists the page is gone, and a second POST changes nothing.
    assert_eq!(
        w.send(Method::GET, "/setup", None, None).await.location(),
        "/login"
    );
    let again = w.send(Method::GET, "/login", None, None).await;
    let (cookie, csrf) = (again.csrf_cookie().unwrap(), again.csrf());
    let res = w
        .send(
            Method::POST,
            "/setup",
            Some(&cookie),
            Some(&format!("_csrf={csrf}&name=second&password=long-enough-2")),
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(
        res.body.contains("an account exists already"),
        "{}",
        res.body
    );
    assert_eq!(w.ops.user_count().await.unwrap(), 1);
}

#[tokio::test]
async fn setup_from_elsewhere_needs_the_code() {
    let w = web(|_| {}).await;
    let setup = w.send(Method::GET, "/setup", None, None).await;
    let cookie = setup.csrf_cookie().unwrap();
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/setup")
        .header(header::COOKIE, &cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header("x-forwarded-for", "203.0.113.9")
        .body(Body::from(format!(
            "_csrf={}&name=first&password=long-enough-1&code=nope",
            setup.csrf()
        )))
        .unwrap();
    req.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from(([127, 0, 0, 1], 40000))));
    let res = w.app.clone().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(w.ops.user_count().await.unwrap(), 0);
}
