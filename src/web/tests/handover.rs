//! Safe hand-over through the real router: an Open WebUI client's
//! pre-created admin password is shown once to the provider (a POST with
//! the CSRF token; refused the second time) and once to the client's owner
//! in the portal (never to a member); no other page, answer or audit entry
//! holds it.

use super::portal::invite;
use super::*;
use crate::domain::ClientRole;

const PASSWORD: &str = "handover-pass-1";

/// The password on a reveal page.
fn shown_password(body: &str) -> String {
    body.split("<code class=\"secret\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .expect("a password on the page")
        .to_owned()
}

#[tokio::test]
async fn the_admin_password_is_shown_once_to_the_provider_and_once_to_the_owner() {
    let w = web(|_| {}).await;
    let view = seed_client(&w.ops, "Chat Co", "").await;
    let slug = view.client.slug.clone();
    let input = crate::ops::NewInstanceInput {
        name: Some("chat".into()),
        blueprint: Some("open-webui".into()),
        domain: None,
        env: None,
    };
    let chat = w
        .ops
        .add_instance(&Actor::cli(), &slug, input)
        .await
        .unwrap();
    let id = chat.id;
    let (cookie, csrf) = w.admin().await;

    // The static site has no account; the chat instance has one, unseen.
    let none = w
        .get(
            &format!("/instances/{}/admin", view.instances[0].id),
            &cookie,
        )
        .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND, "{}", none.body);
    let page = w.get(&format!("/instances/{id}/admin"), &cookie).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert!(page.body.contains("a@example.com"), "{}", page.body);
    assert!(
        page.body.contains("Show the password once"),
        "{}",
        page.body
    );

    // Without the CSRF token nothing is shown.
    let path = format!("/instances/{id}/admin/reveal");
    let forged = w.send(Method::POST, &path, Some(&cookie), Some("")).await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN, "{}", forged.body);

    let form = format!("_csrf={csrf}");
    let shown = w
        .send(Method::POST, &path, Some(&cookie), Some(&form))
        .await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
    assert_eq!(shown.headers[header::CACHE_CONTROL], "no-store");
    let password = shown_password(&shown.body);
    assert_eq!(password.len(), 24);

    let again = w
        .send(Method::POST, &path, Some(&cookie), Some(&form))
        .await;
    assert_eq!(again.status, StatusCode::SEE_OTHER, "{}", again.body);
    let page = w.get(&format!("/instances/{id}/admin"), &cookie).await;
    assert!(page.body.contains("already shown once"), "{}", page.body);
    assert!(
        !page.body.contains("Show the password once"),
        "{}",
        page.body
    );

    // The owner sees it once in the portal; a member never.
    for (email, role) in [
        ("owner@chat.example", ClientRole::Owner),
        ("member@chat.example", ClientRole::Member),
    ] {
        let inv = invite(&w, &slug, email, role).await;
        w.accept(&inv.link, PASSWORD).await;
    }
    let portal_path = "/portal/instances/chat/admin/reveal";
    let (member, member_csrf) = w.portal("member@chat.example", PASSWORD).await;
    let res = w
        .send(
            Method::POST,
            portal_path,
            Some(&member),
            Some(&format!("_csrf={member_csrf}")),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let (owner, owner_csrf) = w.portal("owner@chat.example", PASSWORD).await;
    let page = w.get("/portal/instances/chat/admin", &owner).await;
    assert!(
        page.body.contains("Show the password once"),
        "{}",
        page.body
    );
    let owner_form = format!("_csrf={owner_csrf}");
    let res = w
        .send(Method::POST, portal_path, Some(&owner), Some(&owner_form))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(shown_password(&res.body), password);
    let res = w
        .send(Method::POST, portal_path, Some(&owner), Some(&owner_form))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);

    // Nothing else shows it: pages, the export, the audit log.
    for page in [
        format!("/clients/{slug}"),
        format!("/instances/{id}/admin"),
        "/audit".to_owned(),
        format!("/clients/{slug}/export"),
    ] {
        let res = w.get(&page, &cookie).await;
        assert!(!res.body.contains(&password), "password on {page}");
    }
    for page in [
        "/portal",
        "/portal/instances/chat",
        "/portal/activity",
        "/portal/export",
    ] {
        let res = w.get(page, &owner).await;
        assert!(!res.body.contains(&password), "password on {page}");
    }
    let entries: Vec<(String, String)> = w
        .store
        .read(|c| {
            let mut stmt = c.prepare("SELECT action, details FROM audit_log")?;
            let rows = stmt
                .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(rows)
        })
        .await
        .unwrap();
    let reveals: Vec<&(String, String)> = entries
        .iter()
        .filter(|(a, _)| a == "instance.admin_password.reveal")
        .collect();
    assert_eq!(reveals.len(), 2, "{entries:?}");
    assert!(reveals[0].1.contains("provider") && reveals[1].1.contains("owner"));
    assert!(entries.iter().all(|(_, d)| !d.contains(&password)));
}
