//! The backup pages without Docker: "back up now" needs the CSRF token and
//! queues exactly one job; the policy form reports errors beside the field.

use axum::http::{Method, StatusCode};

use super::super::routes::{self, Access};
use super::web;
use crate::store::AuditFilter;

#[test]
fn every_backup_page_needs_a_session() {
    let pages: Vec<_> = routes::all()
        .into_iter()
        .filter(|r| {
            !r.path.starts_with("/api/")
                && (r.path.contains("backup") || r.path.contains("restore"))
        })
        .collect();
    assert!(pages.len() >= 7, "{}", pages.len());
    for r in pages {
        // The portal's backup pages need a client user's session instead.
        let want = if r.path.starts_with("/portal/") {
            Access::Portal
        } else {
            Access::Session
        };
        assert_eq!(r.access, want, "{} {}", r.method, r.path);
    }
}

#[tokio::test]
async fn back_up_now_needs_the_csrf_token_and_queues_one_backup() {
    let w = web(|_| {}).await;
    let (cookie, csrf) = w.admin().await;
    let view = super::seed_client(&w.ops, "Acme", "").await;
    let id = view.instances[0].id;
    let path = format!("/instances/{id}/backups");

    let dash = w.get("/", &cookie).await;
    assert!(
        dash.body.contains("id=\"backups-missing\">1<"),
        "{}",
        dash.body
    );
    for bad in [
        "back=client".to_owned(),
        "_csrf=nope&back=client".to_owned(),
    ] {
        let res = w.send(Method::POST, &path, Some(&cookie), Some(&bad)).await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        assert!(w.ops.list_backups(id).await.unwrap().is_empty());
    }
    let form = format!("_csrf={csrf}&back=history");
    let res = w
        .send(Method::POST, &path, Some(&cookie), Some(&form))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location(), path);
    let list = w.ops.list_backups(id).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(
        (list[0].status.as_str(), list[0].trigger.as_str()),
        ("queued", "ui")
    );
    let audit = w
        .ops
        .query_audit(AuditFilter {
            action: Some("backup.request".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].actor, "user:admin");

    // A second one while the first is queued: refused with a message, no job.
    let res = w
        .send(Method::POST, &path, Some(&cookie), Some(&form))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(w.ops.list_backups(id).await.unwrap().len(), 1);
    let page = w.get(&path, &cookie).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("already queued"), "{}", page.body);
    assert!(page
        .body
        .contains(&format!("data-backup=\"{}\"", list[0].id)));
    let status = w
        .get(&format!("/clients/{}/status", view.client.slug), &cookie)
        .await;
    assert!(
        status.body.contains("\"status\":\"queued\""),
        "{}",
        status.body
    );
    let detail = w
        .get(&format!("/clients/{}", view.client.slug), &cookie)
        .await;
    assert!(detail.body.contains("Back up now"), "{}", detail.body);
}

#[tokio::test]
async fn a_bad_backup_policy_is_reported_beside_its_field() {
    let w = web(|_| {}).await;
    let (cookie, csrf) = w.admin().await;
    let form = format!("_csrf={csrf}&name=p&cpus=0.5&memory=64MiB");
    let res = w
        .send(Method::POST, "/plans", Some(&cookie), Some(&form))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let edit = w.get("/plans/p/edit", &cookie).await;
    assert!(edit.body.contains("name=\"keep_daily\""), "{}", edit.body);
    for (bad, field) in [
        ("schedule=whenever", "schedule"),
        ("keep_last=-1", "keep_last"),
    ] {
        let form = format!("_csrf={csrf}&{bad}");
        let res = w
            .send(
                Method::POST,
                "/plans/p/backup-policy",
                Some(&cookie),
                Some(&form),
            )
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
        let label = res
            .body
            .split(&format!("for=\"f-{field}\""))
            .nth(1)
            .unwrap();
        let label = label.split("</label>").next().unwrap();
        assert!(label.contains("field-error"), "{bad}: {label}");
    }
    assert_eq!(
        w.ops.get_backup_policy("p").await.unwrap(),
        Default::default()
    );
    let form = format!("_csrf={csrf}&schedule=0+2+*+*+*&keep_last=5&keep_daily=");
    let res = w
        .send(
            Method::POST,
            "/plans/p/backup-policy",
            Some(&cookie),
            Some(&form),
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let p = w.ops.get_backup_policy("p").await.unwrap();
    assert_eq!(
        (p.schedule.as_deref(), p.keep_last, p.keep_daily),
        (Some("0 2 * * *"), Some(5), None)
    );
}
