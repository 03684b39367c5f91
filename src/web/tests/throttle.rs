//! The login throttle under concurrency, across a restart and past its window.

use super::*;

/// The sign-in form's CSRF cookie and token.
async fn login_form(w: &Web) -> (String, String) {
    let page = w.send(Method::GET, "/login", None, None).await;
    (page.csrf_cookie().expect("a CSRF cookie"), page.csrf())
}

/// A sign-in POST from `peer`, for firing many at once.
fn login_request(cookie: &str, body: String, peer: [u8; 4]) -> Request<Body> {
    let headers = [("cookie", cookie), ("content-type", FORM)];
    request(Method::POST, "/login", &headers, body, peer)
}

async fn try_login(w: &Web, form: &(String, String), password: &str) -> Answer {
    let body = format!("_csrf={}&name=admin&password={password}", form.1);
    w.send(Method::POST, "/login", Some(&form.0), Some(&body))
        .await
}

async fn failed_logins(ops: &Ops) -> usize {
    ops.query_audit(crate::store::AuditFilter {
        action: Some("user.login-failed".into()),
        ..Default::default()
    })
    .await
    .unwrap()
    .len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_parallel_wrong_passwords_get_exactly_five_checks() {
    let w = web(|_| {}).await;
    w.add_admin().await;
    let (cookie, csrf) = login_form(&w).await;
    let body = format!("_csrf={csrf}&name=admin&password=wrong-password");
    let tasks: Vec<_> = (0..40)
        .map(|_| {
            let req = login_request(&cookie, body.clone(), LOCAL);
            tokio::spawn(w.app.clone().oneshot(req))
        })
        .collect();
    let (mut refused, mut throttled) = (0, 0);
    for task in tasks {
        match task.await.unwrap().unwrap().status() {
            StatusCode::UNAUTHORIZED => refused += 1,
            StatusCode::TOO_MANY_REQUESTS => throttled += 1,
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!((refused, throttled), (5, 35));
    assert_eq!(w.ops.login_gate().verified(), 5, "argon2 checks run");
    assert_eq!(failed_logins(&w.ops).await, 5);
    // The right password waits for the window too, and is not checked.
    let res = try_login(&w, &(cookie, csrf), "correct-horse-1").await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.body);
    assert!(
        res.body.contains("too many failed sign-ins"),
        "{}",
        res.body
    );
    assert_eq!(w.ops.login_gate().verified(), 5);
}

#[tokio::test]
async fn the_throttle_survives_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let first = web_with(dir.path(), Some("berth.db"), |_| {}, |o| o).await;
    first.add_admin().await;
    let form = login_form(&first).await;
    for _ in 0..5 {
        let res = try_login(&first, &form, "wrong-password").await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }
    drop(first);
    // A new daemon on the same data directory.
    let second = web_with(dir.path(), Some("berth.db"), |_| {}, |o| o).await;
    let form = login_form(&second).await;
    let res = try_login(&second, &form, "correct-horse-1").await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.body);
    assert_eq!(second.ops.login_gate().verified(), 0);
}

#[tokio::test]
async fn the_throttle_ends_with_its_window() {
    // Five password hashes must land inside the window for the sixth try to
    // be throttled; on a loaded machine they can take longer than a short
    // window, so a run that was too slow to say anything tries a longer one.
    let mut window = Duration::from_secs(2);
    let (w, form, _dir) = loop {
        let dir = tempfile::tempdir().unwrap();
        let w = web_with(dir.path(), None, |_| {}, |o| o.with_login_window(window)).await;
        w.add_admin().await;
        let form = login_form(&w).await;
        let first_failure = tokio::time::Instant::now();
        for _ in 0..5 {
            let res = try_login(&w, &form, "wrong-password").await;
            assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        }
        let res = try_login(&w, &form, "correct-horse-1").await;
        if first_failure.elapsed() < window {
            assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.body);
            break (w, form, dir);
        }
        assert!(
            window < Duration::from_secs(30),
            "five sign-ins took over 30 s"
        );
        window *= 4;
    };
    // Throttled tries record nothing, so polling does not extend the window.
    let deadline = tokio::time::Instant::now() + window + Duration::from_secs(20);
    loop {
        let res = try_login(&w, &form, "correct-horse-1").await;
        if res.status == StatusCode::SEE_OTHER {
            break;
        }
        assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.body);
        assert!(
            tokio::time::Instant::now() < deadline,
            "still throttled 20 s after its window"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(
        w.ops.login_gate().verified(),
        6,
        "five failures, one success"
    );
    // The success forgave this address's failures for the account.
    let res = try_login(&w, &form, "wrong-password").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_logins_hashes_at_most_one_password_per_core() {
    let w = web(|_| {}).await;
    w.add_admin().await;
    let (cookie, csrf) = login_form(&w).await;
    // Forty accounts from forty addresses: nothing is throttled, every
    // attempt is checked, and they all arrive together.
    let tasks: Vec<_> = (0..40u8)
        .map(|i| {
            let body = format!("_csrf={csrf}&name=user{i}&password=wrong-password");
            let req = login_request(&cookie, body, [10, 0, 0, i]);
            tokio::spawn(w.app.clone().oneshot(req))
        })
        .collect();
    for task in tasks {
        let status = task.await.unwrap().unwrap().status();
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let gate = w.ops.login_gate();
    assert_eq!(gate.verified(), 40);
    assert!(gate.peak() >= 1);
    assert!(
        gate.peak() <= crate::ops::LoginGate::limit(),
        "{} argon2 runs at once on {} cores",
        gate.peak(),
        crate::ops::LoginGate::limit()
    );
}
