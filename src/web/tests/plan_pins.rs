//! A plan's image tag: set in the admin form and through the API, checked
//! against Docker's tag grammar (the error beside the field, a 422), audited,
//! and unpinned by clearing it.

use super::*;

#[tokio::test]
async fn a_plan_pins_an_image_tag_from_the_form_and_the_api() {
    let w = web(|_| {}).await;
    let (cookie, csrf) = w.admin().await;
    let form = |tag: &str| {
        format!("_csrf={csrf}&name=pinned&cpus=0.5&memory=64MiB&approval=manual&blueprints=&image_tag={tag}")
    };
    let bad = w
        .send(Method::POST, "/plans", Some(&cookie), Some(&form("-bad")))
        .await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", bad.body);
    assert!(bad.body.contains("is not a Docker tag"), "{}", bad.body);
    let ok = w
        .send(Method::POST, "/plans", Some(&cookie), Some(&form("0.6.5")))
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.body);
    let plan = w.ops.get_plan("pinned").await.unwrap();
    assert_eq!(plan.image_tag.as_deref(), Some("0.6.5"));
    let edit = w.get("/plans/pinned/edit", &cookie).await;
    assert!(
        edit.body.contains("value=\"0.6.5\""),
        "the form shows the pin"
    );

    // Clearing the field unpins; the audit entry has before and after.
    let cleared = w
        .send(
            Method::POST,
            "/plans/pinned/edit",
            Some(&cookie),
            Some(&form("")),
        )
        .await;
    assert_eq!(cleared.status, StatusCode::SEE_OTHER, "{}", cleared.body);
    assert_eq!(w.ops.get_plan("pinned").await.unwrap().image_tag, None);
    let audit = w
        .ops
        .query_audit(crate::store::AuditFilter {
            action: Some("plan.edit".into()),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    let details = audit[0].details.to_string();
    assert!(
        details.contains("\"image_tag\":\"0.6.5\"") && details.contains("\"image_tag\":null"),
        "{details}"
    );

    // The API: the same grammar, the same field.
    let token = w.ops.create_token(&Actor::cli(), "pins").await.unwrap();
    let bearer = format!("Bearer {token}");
    let api = |body: &'static str| {
        let req = request(
            Method::POST,
            "/api/v1/plans",
            &[
                ("authorization", bearer.as_str()),
                ("content-type", "application/json"),
            ],
            body.to_owned(),
            LOCAL,
        );
        w.app.clone().oneshot(req)
    };
    let res = api(r#"{"name":"api-pin","cpus":0.5,"memory":"64MiB","image_tag":"a b"}"#)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let res = api(r#"{"name":"api-pin","cpus":0.5,"memory":"64MiB","image_tag":"v2"}"#)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(
        w.ops
            .get_plan("api-pin")
            .await
            .unwrap()
            .image_tag
            .as_deref(),
        Some("v2")
    );
}
