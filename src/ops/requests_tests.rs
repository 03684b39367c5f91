//! Requests over an in-memory store with no daemon: instances are created
//! as desired state and stay "pending" (so an approved request reads as
//! provisioning), which is all the decisions need.

use std::path::PathBuf;
use std::sync::Arc;

use crate::audit::Actor;
use crate::blueprint::Blueprints;
use crate::config::Config;
use crate::domain::size::SizeInput;
use crate::domain::{Approval, RequestStatus};
use crate::ops::{
    NewClientInput, Ops, OpsError, PlanEdit, PlanInput, RequestFilter, RequestInput, Requester,
};
use crate::store::{AuditFilter, Store};

pub(in crate::ops) async fn ops_with_plan(
    dir: &std::path::Path,
    max: Option<u32>,
    approval: Approval,
) -> Ops {
    let config = Config {
        data_dir: dir.to_owned(),
        blueprint_dir: Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("templates")),
        ..Config::default()
    };
    let blueprints = Blueprints::load_dir(&config.blueprint_dir()).unwrap();
    let ops = Ops::new(
        Store::open_in_memory().unwrap(),
        Arc::new(config),
        Arc::new(blueprints),
        Arc::default(),
    );
    let plan = PlanInput {
        name: "p".into(),
        cpus: 0.5,
        memory: SizeInput::Text("64MiB".into()),
        memory_reservation: None,
        storage: None,
        max_instances: max,
        approval,
        portal_restore: false,
        blueprints: Some(vec!["static-site".into()]),
        image_tag: None,
    };
    ops.create_plan(&Actor::cli(), plan).await.unwrap();
    ops
}

pub(in crate::ops) async fn add_client(ops: &Ops, name: &str) {
    let client = NewClientInput {
        name: name.into(),
        email: "owner@example.com".into(),
        plan: "p".into(),
        notes: String::new(),
        blueprint: Some("static-site".into()),
        domain: None,
        env: None,
    };
    ops.create_client(&Actor::cli(), client).await.unwrap();
}

fn owner() -> (Actor, Requester) {
    let actor = Actor {
        name: "client:acme:owner@example.com".into(),
        ip: Some("192.0.2.7".into()),
    };
    let requester = Requester {
        user_id: 41,
        label: "Olga Owner <owner@example.com>".into(),
    };
    (actor, requester)
}

async fn ask(
    ops: &Ops,
    name: &str,
    blueprint: Option<&str>,
) -> Result<crate::store::RequestRow, OpsError> {
    let (actor, requester) = owner();
    let input = RequestInput {
        name: name.into(),
        blueprint: blueprint.map(str::to_owned),
    };
    ops.request_instance(&actor, "acme", requester, input).await
}

async fn actions(ops: &Ops) -> Vec<String> {
    let filter = AuditFilter {
        client_slug: Some("acme".into()),
        limit: 100,
        ..AuditFilter::default()
    };
    let entries = ops.query_audit(filter).await.unwrap();
    entries.into_iter().map(|e| e.action).collect()
}

#[tokio::test]
async fn a_manual_request_waits_then_approval_creates_the_instance() {
    let dir = tempfile::tempdir().unwrap();
    let ops = ops_with_plan(dir.path(), Some(3), Approval::Manual).await;
    add_client(&ops, "Acme").await;
    let req = ask(&ops, "shop", None).await.unwrap();
    assert_eq!(req.status, RequestStatus::Requested);
    assert_eq!(
        (req.blueprint.as_str(), req.requested_by),
        ("static-site", 41)
    );
    assert_eq!(ops.pending_requests().await.unwrap().len(), 1);
    assert_eq!(
        ops.list_instances(Some("acme")).await.unwrap().len(),
        1,
        "nothing created yet"
    );

    let approved = ops.approve_request(&Actor::cli(), req.id).await.unwrap();
    let instance = approved.instance_id.expect("an instance was created");
    assert_eq!(approved.decision, RequestStatus::Approved);
    assert_eq!(
        approved.status,
        RequestStatus::Provisioning,
        "its instance is still pending"
    );
    assert_eq!(approved.decided_by.as_deref(), Some("cli"));
    assert_eq!(ops.get_instance(instance).await.unwrap().name, "shop");
    assert!(ops.pending_requests().await.unwrap().is_empty());

    match ops.approve_request(&Actor::cli(), req.id).await {
        Err(OpsError::Conflict(m)) => assert!(m.contains("already approved"), "{m}"),
        other => panic!("a second approval must conflict: {other:?}"),
    }
    match ops.reject_request(&Actor::cli(), req.id, "too late").await {
        Err(OpsError::Conflict(m)) => assert!(m.contains("already approved"), "{m}"),
        other => panic!("a reject after approval must conflict: {other:?}"),
    }
    let log = actions(&ops).await;
    for action in ["request.create", "request.approve", "instance.add"] {
        assert!(log.iter().any(|a| a == action), "{action} audited: {log:?}");
    }
}

#[tokio::test]
async fn a_rejection_needs_a_reason_and_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let ops = ops_with_plan(dir.path(), None, Approval::Manual).await;
    add_client(&ops, "Acme").await;
    let req = ask(&ops, "shop", Some("static-site")).await.unwrap();
    match ops.reject_request(&Actor::cli(), req.id, "  ").await {
        Err(OpsError::Invalid(e)) => assert_eq!(e.field, "reason"),
        other => panic!("an empty reason is bad input: {other:?}"),
    }
    let rejected = ops
        .reject_request(&Actor::cli(), req.id, "one shop per client")
        .await
        .unwrap();
    assert_eq!(rejected.status, RequestStatus::Rejected);
    assert_eq!(rejected.reason, "one shop per client");
    assert_eq!(rejected.instance_id, None);
    assert!(actions(&ops).await.iter().any(|a| a == "request.reject"));
    // The name is free again once its request is decided.
    assert!(ask(&ops, "shop", None).await.is_ok());
}

#[tokio::test]
async fn waiting_requests_count_against_max_instances() {
    let dir = tempfile::tempdir().unwrap();
    let ops = ops_with_plan(dir.path(), Some(3), Approval::Manual).await;
    add_client(&ops, "Acme").await;
    ask(&ops, "one", None).await.unwrap();
    match ask(&ops, "one", None).await {
        Err(OpsError::Invalid(e)) => assert_eq!(e.field, "name"),
        other => panic!("the same name twice is bad input: {other:?}"),
    }
    ask(&ops, "two", None).await.unwrap();
    match ask(&ops, "three", None).await {
        Err(OpsError::Refused(m)) => {
            assert!(
                m.contains("allows 3") && m.contains("2 request(s) waiting"),
                "{m}"
            )
        }
        other => panic!("the fourth instance does not fit: {other:?}"),
    }
    let filter = RequestFilter {
        status: Some(RequestStatus::Requested),
        client: Some("acme".into()),
    };
    assert_eq!(ops.list_requests(filter).await.unwrap().len(), 2);
}

#[tokio::test]
async fn a_plan_lowered_below_usage_refuses_new_requests_and_keeps_instances() {
    let dir = tempfile::tempdir().unwrap();
    let ops = ops_with_plan(dir.path(), Some(3), Approval::Auto).await;
    add_client(&ops, "Acme").await;
    ask(&ops, "two", None).await.unwrap();
    let lower = PlanEdit {
        max_instances: Some(1),
        ..PlanEdit::default()
    };
    ops.edit_plan(&Actor::cli(), "p", lower).await.unwrap();
    match ask(&ops, "three", None).await {
        Err(OpsError::Refused(m)) => {
            assert!(
                m.contains("now allows 1") && m.contains("keep running"),
                "{m}"
            )
        }
        other => panic!("a lowered plan refuses: {other:?}"),
    }
    assert_eq!(ops.list_instances(Some("acme")).await.unwrap().len(), 2);
}

#[tokio::test]
async fn auto_approval_creates_the_instance_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let ops = ops_with_plan(dir.path(), None, Approval::Auto).await;
    add_client(&ops, "Acme").await;
    let req = ask(&ops, "shop", None).await.unwrap();
    assert_eq!(req.decision, RequestStatus::Approved);
    assert_eq!(req.decided_by.as_deref(), Some("auto:plan:p"));
    let instance = ops.get_instance(req.instance_id.unwrap()).await.unwrap();
    assert_eq!(
        (instance.client_slug.as_str(), instance.name.as_str()),
        ("acme", "shop")
    );
    assert!(ops.pending_requests().await.unwrap().is_empty());
}

#[tokio::test]
async fn only_the_plans_blueprints_can_be_requested() {
    let dir = tempfile::tempdir().unwrap();
    let ops = ops_with_plan(dir.path(), None, Approval::Manual).await;
    add_client(&ops, "Acme").await;
    match ask(&ops, "chat", Some("open-webui")).await {
        Err(OpsError::Invalid(e)) => {
            assert_eq!(e.field, "blueprint");
            assert!(e.problem.contains("offered: static-site"), "{e}");
        }
        other => panic!("a blueprint the plan does not offer: {other:?}"),
    }
    let offered = ops.requestable_blueprints("p").await.unwrap();
    let names: Vec<&str> = offered.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["static-site"]);
}

/// The instance insert writes its row before its domain; a taken domain
/// must undo that row (savepoint) and leave the request failed, saying why.
#[tokio::test]
async fn an_approval_that_cannot_create_fails_the_request_and_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let ops = ops_with_plan(dir.path(), None, Approval::Manual).await;
    add_client(&ops, "Acme").await;
    let req = ask(&ops, "web", None).await.unwrap();
    // Its main instance takes acme-web.<base domain>, the request's default domain.
    add_client(&ops, "Acme Web").await;
    let failed = ops.approve_request(&Actor::cli(), req.id).await.unwrap();
    assert_eq!(failed.status, RequestStatus::Failed);
    assert!(failed.error.contains("already in use"), "{}", failed.error);
    assert_eq!(failed.instance_id, None);
    let names: Vec<String> = ops
        .list_instances(Some("acme"))
        .await
        .unwrap()
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(names, ["main"], "the half-made instance was undone");
    assert!(actions(&ops).await.iter().any(|a| a == "request.fail"));
}

#[tokio::test]
async fn a_suspended_client_cannot_request() {
    let dir = tempfile::tempdir().unwrap();
    let ops = ops_with_plan(dir.path(), None, Approval::Auto).await;
    add_client(&ops, "Acme").await;
    ops.set_client_status(
        &Actor::cli(),
        "acme",
        crate::domain::ClientStatus::Suspended,
    )
    .await
    .unwrap();
    assert!(matches!(
        ask(&ops, "shop", None).await,
        Err(OpsError::Refused(_))
    ));
}
