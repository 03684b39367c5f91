//! Instance requests through the real router: an owner asks in the portal,
//! a member only reads, another client sees none of it, the provider
//! decides on the dashboard / requests page, and the portal's live status
//! follows.

use super::portal::invite;
use super::*;
use crate::domain::ClientRole;

const PASSWORD: &str = "requests-pass-1";

async fn client_with_users(w: &Web) -> ((String, String), (String, String), (String, String)) {
    let slug_a = seed_client(&w.ops, "Alpha Co", "").await.client.slug;
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
    for (slug, email, role) in [
        (&slug_a, "owner@alpha.example", ClientRole::Owner),
        (&slug_a, "member@alpha.example", ClientRole::Member),
        (&slug_b, "owner@beta.example", ClientRole::Owner),
    ] {
        let inv = invite(w, slug, email, role).await;
        w.accept(&inv.link, PASSWORD).await;
    }
    (
        w.portal("owner@alpha.example", PASSWORD).await,
        w.portal("member@alpha.example", PASSWORD).await,
        w.portal("owner@beta.example", PASSWORD).await,
    )
}

fn statuses(body: &str) -> Vec<(String, String)> {
    let list: Vec<serde_json::Value> = serde_json::from_str(body).unwrap();
    list.iter()
        .map(|r| {
            let text = |k: &str| r[k].as_str().unwrap().to_owned();
            (text("instance_name"), text("status"))
        })
        .collect()
}

#[tokio::test]
async fn owners_ask_members_read_and_the_provider_decides() {
    let w = web(|_| {}).await;
    let (owner, member, other) = client_with_users(&w).await;

    let page = w.get("/portal/requests", &owner.0).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Request a new instance"),
        "{}",
        page.body
    );
    let form = format!("_csrf={}&name=shop&blueprint=static-site", owner.1);
    let asked = w
        .send(
            Method::POST,
            "/portal/requests",
            Some(&owner.0),
            Some(&form),
        )
        .await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER, "{}", asked.body);
    assert_eq!(asked.location(), "/portal/requests");
    let page = w.get("/portal/requests", &owner.0).await;
    assert!(
        page.body.contains("waits for your provider"),
        "flash: {}",
        page.body
    );
    assert!(page.body.contains("request-requested"), "{}", page.body);

    // A member reads the list but cannot ask.
    let page = w.get("/portal/requests", &member.0).await;
    assert!(page.body.contains("shop") && !page.body.contains("Request a new instance"));
    let form = format!("_csrf={}&name=blog&blueprint=static-site", member.1);
    let refused = w
        .send(
            Method::POST,
            "/portal/requests",
            Some(&member.0),
            Some(&form),
        )
        .await;
    assert_eq!(refused.status, StatusCode::SEE_OTHER);
    let page = w.get("/portal/requests", &member.0).await;
    assert!(page.body.contains("only an owner"), "{}", page.body);
    // A form without the session's CSRF token is refused outright.
    let forged = w
        .send(
            Method::POST,
            "/portal/requests",
            Some(&owner.0),
            Some("_csrf=x&name=evil"),
        )
        .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);

    // Another client sees none of it.
    let page = w.get("/portal/requests", &other.0).await;
    assert!(
        !page.body.contains("shop") && !page.body.contains("Alpha"),
        "{}",
        page.body
    );
    let live = w.get("/portal/requests/status", &other.0).await;
    assert_eq!(statuses(&live.body), []);

    // The provider sees it waiting on the dashboard and decides there.
    let (admin, csrf) = w.admin().await;
    let dash = w.get("/", &admin).await;
    assert!(dash.body.contains("pending-requests") && dash.body.contains("shop"));
    let id = w.ops.pending_requests().await.unwrap()[0].id;
    let form = format!("_csrf={csrf}&back=dashboard");
    let approved = w
        .send(
            Method::POST,
            &format!("/requests/{id}/approve"),
            Some(&admin),
            Some(&form),
        )
        .await;
    assert_eq!(
        (approved.status, approved.location()),
        (StatusCode::SEE_OTHER, "/")
    );
    let live = w.get("/portal/requests/status", &member.0).await;
    // No reconciler runs here: the new instance stays pending.
    assert_eq!(
        statuses(&live.body),
        [("shop".to_owned(), "provisioning".to_owned())]
    );
    let list = w.get("/requests", &admin).await;
    assert!(list.body.contains("request-provisioning"), "{}", list.body);

    // A rejection from the requests page: the owner reads the reason.
    let form = format!("_csrf={}&name=blog&blueprint=static-site", owner.1);
    w.send(
        Method::POST,
        "/portal/requests",
        Some(&owner.0),
        Some(&form),
    )
    .await;
    let id = w.ops.pending_requests().await.unwrap()[0].id;
    let form = format!("_csrf={csrf}&back=requests&reason=");
    w.send(
        Method::POST,
        &format!("/requests/{id}/reject"),
        Some(&admin),
        Some(&form),
    )
    .await;
    assert_eq!(
        w.ops.pending_requests().await.unwrap().len(),
        1,
        "no reason, no rejection"
    );
    let form = format!("_csrf={csrf}&back=requests&reason=not+on+this+plan");
    let rejected = w
        .send(
            Method::POST,
            &format!("/requests/{id}/reject"),
            Some(&admin),
            Some(&form),
        )
        .await;
    assert_eq!(rejected.location(), "/requests");
    let page = w.get("/portal/requests", &owner.0).await;
    assert!(page.body.contains("request-rejected") && page.body.contains("not on this plan"));
}
