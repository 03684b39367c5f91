//! Client users, roles and one-time links at the operations level, over an
//! in-memory store.

use std::path::PathBuf;
use std::sync::Arc;

use crate::audit::Actor;
use crate::blueprint::Blueprints;
use crate::config::Config;
use crate::domain::size::SizeInput;
use crate::domain::{ClientRole, LinkKind};
use crate::ops::{
    hash_link_token, new_link_token, LinkCheck, NewClientInput, NewClientUserInput, Ops, OpsError,
    PlanInput,
};
use crate::store::{PortalIdentity, Store};

async fn ops_with_clients(names: &[&str]) -> Ops {
    let config = Config {
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
        max_instances: None,
        approval: Default::default(),
        portal_restore: false,
        blueprints: None,
        image_tag: None,
    };
    ops.create_plan(&Actor::cli(), plan).await.unwrap();
    for name in names {
        let client = NewClientInput {
            name: (*name).into(),
            email: "a@example.com".into(),
            plan: "p".into(),
            notes: String::new(),
            blueprint: Some("static-site".into()),
            domain: None,
            env: None,
        };
        ops.create_client(&Actor::cli(), client).await.unwrap();
    }
    ops
}

fn input(email: &str, role: Option<ClientRole>) -> NewClientUserInput {
    NewClientUserInput {
        email: email.into(),
        name: String::new(),
        role,
    }
}

/// Adds a user and sets their password; who they are in the portal.
async fn active(ops: &Ops, slug: &str, email: &str, role: ClientRole) -> PortalIdentity {
    let inv = ops
        .add_client_user(&Actor::cli(), slug, input(email, Some(role)))
        .await
        .unwrap();
    let token = inv.link.rsplit('/').next().unwrap();
    let id = ops
        .use_portal_link(LinkKind::Invite, token, "long-enough-1", "127.0.0.1")
        .await
        .unwrap();
    ops.portal_identity(id).await.unwrap().unwrap()
}

#[test]
fn link_tokens_are_256_random_bits_stored_as_sha256() {
    let (a, b) = (new_link_token(), new_link_token());
    assert_eq!(a.len(), 64);
    assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a, b);
    let h = hash_link_token(&a);
    assert_eq!(h.len(), 64);
    assert_ne!(h, a);
    assert_eq!(h, hash_link_token(&a));
}

#[test]
fn roles_and_link_kinds_have_one_word_each() {
    assert_eq!(ClientRole::parse("owner").unwrap(), ClientRole::Owner);
    assert_eq!(ClientRole::Member.as_str(), "member");
    assert!(ClientRole::parse("admin")
        .unwrap_err()
        .to_string()
        .contains("owner, member"));
    assert_eq!(LinkKind::parse("reset").unwrap(), LinkKind::Reset);
}

#[tokio::test]
async fn an_email_belongs_to_one_client_and_defaults_are_member_and_local_part() {
    let ops = ops_with_clients(&["Alpha", "Beta"]).await;
    let inv = ops
        .add_client_user(&Actor::cli(), "alpha", input("Jo@x.example", None))
        .await
        .unwrap();
    assert_eq!(
        (inv.user.role, inv.user.name.as_str(), inv.user.active),
        (ClientRole::Member, "Jo", false)
    );
    assert_eq!(inv.kind, LinkKind::Invite);
    for slug in ["alpha", "beta"] {
        match ops
            .add_client_user(&Actor::cli(), slug, input("jo@X.example", None))
            .await
        {
            Err(OpsError::Conflict(m)) => {
                assert!(m.contains("already has a portal account"), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(
        ops.add_client_user(&Actor::cli(), "alpha", input("not-an-email", None))
            .await,
        Err(OpsError::Invalid(_))
    ));
}

#[tokio::test]
async fn a_link_works_once_and_a_newer_one_replaces_it() {
    let ops = ops_with_clients(&["Alpha"]).await;
    let first = ops
        .add_client_user(&Actor::cli(), "alpha", input("a@x.example", None))
        .await
        .unwrap();
    let second = ops
        .client_user_link(&Actor::cli(), "alpha", first.user.id)
        .await
        .unwrap();
    assert_eq!(
        second.kind,
        LinkKind::Invite,
        "no password yet: still an invitation"
    );
    let token = |l: &str| l.rsplit('/').next().unwrap().to_owned();
    let (t1, t2) = (token(&first.link), token(&second.link));
    assert_eq!(
        ops.check_portal_link(LinkKind::Invite, &t1).await.unwrap(),
        LinkCheck::Invalid
    );
    assert_eq!(
        ops.check_portal_link(LinkKind::Reset, &t2).await.unwrap(),
        LinkCheck::Invalid
    );
    assert!(matches!(
        ops.check_portal_link(LinkKind::Invite, &t2).await.unwrap(),
        LinkCheck::Valid { .. }
    ));
    ops.use_portal_link(LinkKind::Invite, &t2, "long-enough-1", "::1")
        .await
        .unwrap();
    assert_eq!(
        ops.check_portal_link(LinkKind::Invite, &t2).await.unwrap(),
        LinkCheck::Used
    );
    let again = ops
        .use_portal_link(LinkKind::Invite, &t2, "long-enough-2", "::1")
        .await;
    assert!(matches!(again, Err(OpsError::Refused(m)) if m.contains("already used")));
    let reset = ops
        .client_user_link(&Actor::cli(), "alpha", first.user.id)
        .await
        .unwrap();
    assert_eq!(reset.kind, LinkKind::Reset, "with a password: a reset link");
}

#[tokio::test]
async fn owners_manage_members_of_their_own_client_only() {
    let ops = ops_with_clients(&["Alpha", "Beta"]).await;
    let owner = active(&ops, "alpha", "o@a.example", ClientRole::Owner).await;
    let member = active(&ops, "alpha", "m@a.example", ClientRole::Member).await;
    let other = active(&ops, "beta", "o@b.example", ClientRole::Owner).await;
    let actor = Actor::client_user(&owner.email, &owner.client_slug, None);
    assert_eq!(actor.name, "client:alpha:o@a.example");

    let refused = ops
        .portal_invite_member(&actor, &member, "n@a.example", "")
        .await;
    assert!(matches!(refused, Err(OpsError::Refused(m)) if m.contains("only an owner")));
    let inv = ops
        .portal_invite_member(&actor, &owner, "n@a.example", "New")
        .await
        .unwrap();
    assert_eq!(
        (inv.user.role, inv.user.client_slug.as_str()),
        (ClientRole::Member, "alpha")
    );

    // Another client's user is "not found", exactly like a missing one.
    let cross = ops.portal_remove_user(&actor, &owner, other.user_id).await;
    let missing = ops.portal_remove_user(&actor, &owner, 999_999).await;
    match (cross, missing) {
        (Err(OpsError::NotFound(a)), Err(OpsError::NotFound(b))) => {
            assert_eq!(
                a.replace(&other.user_id.to_string(), "N"),
                b.replace("999999", "N")
            )
        }
        other => panic!("{other:?}"),
    }
    let last = ops.portal_remove_user(&actor, &owner, owner.user_id).await;
    assert!(matches!(last, Err(OpsError::Refused(m)) if m.contains("last owner")));
    let second = active(&ops, "alpha", "o2@a.example", ClientRole::Owner).await;
    let not_yours = ops.portal_remove_user(&actor, &owner, second.user_id).await;
    assert!(matches!(not_yours, Err(OpsError::Refused(m)) if m.contains("another owner")));
    ops.portal_remove_user(&actor, &owner, member.user_id)
        .await
        .unwrap();
    ops.portal_remove_user(&actor, &owner, owner.user_id)
        .await
        .unwrap();
    assert!(ops.portal_identity(owner.user_id).await.unwrap().is_none());
    let left: Vec<String> = ops
        .list_client_users("alpha")
        .await
        .unwrap()
        .into_iter()
        .map(|u| u.email)
        .collect();
    assert_eq!(left, ["n@a.example", "o2@a.example"]);
}

#[tokio::test]
async fn a_client_being_deleted_or_suspended_closes_its_portal() {
    let ops = ops_with_clients(&["Alpha", "Beta"]).await;
    let a = active(&ops, "alpha", "o@a.example", ClientRole::Owner).await;
    let b = active(&ops, "beta", "o@b.example", ClientRole::Owner).await;
    assert!(a.client_open && b.client_open);
    ops.set_client_status(
        &Actor::cli(),
        "alpha",
        crate::domain::ClientStatus::Suspended,
    )
    .await
    .unwrap();
    ops.delete_client(&Actor::cli(), "beta", "beta")
        .await
        .unwrap();
    for who in [a, b] {
        let now = ops.portal_identity(who.user_id).await.unwrap().unwrap();
        assert!(!now.client_open, "{}", who.client_slug);
        let login = ops
            .portal_login(&who.email, "long-enough-1", "10.0.0.1")
            .await;
        assert!(matches!(login, Err(OpsError::Refused(m)) if m.contains("suspended")));
    }
}
