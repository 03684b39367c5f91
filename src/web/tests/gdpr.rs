//! The GDPR pages: an owner downloads their own client's export from the
//! portal (a member may not), audited with their identity; the admin's
//! deletion list and report download.

use super::portal::invite;
use super::*;
use crate::domain::ClientRole;

#[tokio::test]
async fn an_owner_exports_their_own_client_and_a_member_may_not() {
    let w = web(|_| {}).await;
    let view = seed_client(&w.ops, "Alpha Co", "").await;
    let slug = view.client.slug.clone();
    for (email, role) in [
        ("owner@alpha.example", ClientRole::Owner),
        ("member@alpha.example", ClientRole::Member),
    ] {
        let inv = invite(&w, &slug, email, role).await;
        w.accept(&inv.link, "export-pass-1").await;
    }

    let (owner, _) = w.portal("owner@alpha.example", "export-pass-1").await;
    let res = w.get("/portal/export", &owner).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.headers[header::CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .contains("berth-export-alpha-co.json"));
    let doc: serde_json::Value = serde_json::from_str(&res.body).unwrap();
    assert_eq!(doc["schema"], "berth.client-export/1");
    assert_eq!(doc["client"]["slug"], slug.as_str());
    assert_eq!(doc["users"].as_array().unwrap().len(), 2);

    let (member, _) = w.portal("member@alpha.example", "export-pass-1").await;
    let res = w.get("/portal/export", &member).await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", res.body);
    assert!(res.body.contains("only an owner"), "{}", res.body);

    let entries = w
        .ops
        .query_audit(crate::store::AuditFilter {
            action: Some("client.export".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(
        entries[0].actor,
        format!("client:{slug}:owner@alpha.example")
    );
}

#[tokio::test]
async fn the_deletion_list_and_an_unfinished_report_answer_clearly() {
    let w = web(|_| {}).await;
    let (admin, _) = w.admin().await;
    let view = seed_client(&w.ops, "Gone Co", "").await;
    // No daemon runs here: the job stays pending.
    let job = w
        .ops
        .delete_client(&Actor::cli(), &view.client.slug, &view.client.slug)
        .await
        .unwrap();
    let list = w.get("/deletions", &admin).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(
        list.body.contains(&format!("/deletions/{}", job.id)),
        "{}",
        list.body
    );
    let report = w
        .get(&format!("/deletions/{}/report.json", job.id), &admin)
        .await;
    assert_eq!(report.status, StatusCode::CONFLICT, "{}", report.body);
    assert!(report.body.contains("when it is done"), "{}", report.body);
}
