//! A client's portal users from each front: the API (JSON, one-time link in
//! the answer), the admin client page, and an owner's `/portal/members`.

use super::portal::invite;
use super::*;
use crate::domain::ClientRole;

impl Web {
    /// An API call with a bearer token and a JSON body: (status, JSON).
    async fn api(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> (StatusCode, serde_json::Value) {
        let bearer = format!("Bearer {token}");
        let mut headers = vec![("authorization", bearer.as_str())];
        if body.is_some() {
            headers.push(("content-type", "application/json"));
        }
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let req = request(method, path, &headers, body, LOCAL);
        let res = self.app.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap_or_default())
    }
}

#[tokio::test]
async fn the_api_adds_lists_links_and_removes_users() {
    let w = web(|_| {}).await;
    let slug = seed_client(&w.ops, "Alpha Co", "").await.client.slug;
    let token = w.ops.create_token(&Actor::cli(), "t").await.unwrap();
    let users = format!("/api/v1/clients/{slug}/users");
    let body = serde_json::json!({ "email": "ada@alpha.example", "role": "owner" });
    let (status, added) = w
        .api(&token, Method::POST, &users, Some(body.clone()))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{added}");
    assert_eq!(added["user"]["role"], "owner");
    assert_eq!(added["kind"], "invite");
    assert_eq!(added["mailed"], false);
    assert!(added["link"].as_str().unwrap().contains("/portal/invite/"));
    let (status, again) = w.api(&token, Method::POST, &users, Some(body)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    let bad = serde_json::json!({ "email": "x@alpha.example", "role": "boss" });
    let (status, err) = w.api(&token, Method::POST, &users, Some(bad)).await;
    assert!(status.is_client_error(), "{status} {err}");
    assert!(err["error"].as_str().unwrap().contains("role"), "{err}");
    let (status, list) = w.api(&token, Method::GET, &users, None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert!(!list.to_string().contains("password_hash"), "{list}");
    let id = added["user"]["id"].as_i64().unwrap();
    let (status, link) = w
        .api(&token, Method::POST, &format!("{users}/{id}/reset"), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{link}");
    assert_ne!(link["link"], added["link"]);
    let one = format!("{users}/{id}");
    let (status, _) = w.api(&token, Method::DELETE, &one, None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, err) = w.api(&token, Method::DELETE, &one, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(err["error"], format!("user {id} not found"));
    let (status, _) = w
        .api(&token, Method::GET, "/api/v1/clients/nope/users", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_client_page_adds_shows_the_link_once_and_removes() {
    let w = web(|_| {}).await;
    let (cookie, csrf) = w.admin().await;
    let slug = seed_client(&w.ops, "Alpha Co", "").await.client.slug;
    let page = format!("/clients/{slug}");
    let form = format!("_csrf={csrf}&email=ada%40alpha.example&name=Ada&role=owner");
    let res = w
        .send(
            Method::POST,
            &format!("{page}/users"),
            Some(&cookie),
            Some(&form),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body.contains("/portal/invite/") && res.body.contains("shown only now"));
    let detail = w.get(&page, &cookie).await;
    assert!(detail.body.contains("Portal users") && detail.body.contains("ada@alpha.example"));
    assert!(
        !detail.body.contains("/portal/invite/"),
        "the link is not shown again"
    );
    let bad = format!("_csrf={csrf}&email=nope&role=member");
    let res = w
        .send(
            Method::POST,
            &format!("{page}/users"),
            Some(&cookie),
            Some(&bad),
        )
        .await;
    assert_eq!(res.location(), page);
    assert!(w
        .get(&page, &cookie)
        .await
        .body
        .contains("is not an email address"));
    let id = w.ops.list_client_users(&slug).await.unwrap()[0].id;
    let res = w
        .send(
            Method::POST,
            &format!("{page}/users/{id}/delete"),
            Some(&cookie),
            Some(&format!("_csrf={csrf}")),
        )
        .await;
    assert_eq!(res.location(), page);
    assert!(w.ops.list_client_users(&slug).await.unwrap().is_empty());
}

#[tokio::test]
async fn owners_invite_and_remove_members_from_the_portal() {
    let w = web(|_| {}).await;
    let slug = seed_client(&w.ops, "Alpha Co", "").await.client.slug;
    for (email, role) in [
        ("o@alpha.example", ClientRole::Owner),
        ("m@alpha.example", ClientRole::Member),
    ] {
        let inv = invite(&w, &slug, email, role).await;
        w.accept(&inv.link, "portal-pass-1").await;
    }
    let (member, member_csrf) = w.portal("m@alpha.example", "portal-pass-1").await;
    let page = w.get("/portal/members", &member).await;
    assert!(page.body.contains("o@alpha.example") && !page.body.contains("Invite a member"));
    let form = format!("_csrf={member_csrf}&email=n%40alpha.example");
    let res = w
        .send(Method::POST, "/portal/members", Some(&member), Some(&form))
        .await;
    assert_eq!(res.location(), "/portal/members");
    assert!(w
        .get("/portal/members", &member)
        .await
        .body
        .contains("only an owner"));

    let (owner, csrf) = w.portal("o@alpha.example", "portal-pass-1").await;
    let form = format!("_csrf={csrf}&email=n%40alpha.example&name=Nia");
    let res = w
        .send(Method::POST, "/portal/members", Some(&owner), Some(&form))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body.contains("/portal/invite/"), "{}", res.body);
    let added = w.ops.list_client_users(&slug).await.unwrap();
    let nia = added.iter().find(|u| u.name == "Nia").unwrap();
    assert_eq!(nia.role, ClientRole::Member);
    let m = added
        .iter()
        .find(|u| u.email == "m@alpha.example")
        .unwrap()
        .id;
    let res = w
        .send(
            Method::POST,
            &format!("/portal/members/{m}/delete"),
            Some(&owner),
            Some(&format!("_csrf={csrf}")),
        )
        .await;
    assert_eq!(res.location(), "/portal/members");
    assert_eq!(
        w.get("/portal", &member).await.location(),
        "/portal/login?ended=1"
    );
    let audit = w
        .ops
        .query_audit(crate::store::AuditFilter {
            action: Some("client-user.remove".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit[0].actor, format!("client:{slug}:o@alpha.example"));
    assert_eq!(audit[0].ip.as_deref(), Some("127.0.0.1"));
}
