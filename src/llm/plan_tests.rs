use super::*;
use crate::domain::LimitReset;
use crate::store::llm::PlanLlm;

const NOW: &str = "2026-12-02T06:00:00Z";

fn budget(usd: f64) -> LlmBudget {
    LlmBudget::monthly(usd).unwrap()
}

fn client(keys: Vec<KeyRow>) -> ClientLlm {
    ClientLlm {
        client_id: 1,
        slug: "acme".into(),
        status: ClientStatus::Active,
        plan: PlanLlm {
            enabled: true,
            budget: budget(10.0),
        },
        budget_override: None,
        deleting: false,
        keys,
        live: Vec::new(),
    }
}

fn key(id: i64, status: LlmKeyStatus) -> KeyRow {
    KeyRow {
        id,
        client_id: 1,
        provider: crate::domain::LlmProvider::OpenRouter,
        label: format!("berth/o/acme/{id}"),
        provider_key_id: Some(format!("h{id}")),
        key_hint: String::new(),
        secret: None,
        status,
        rotating: false,
        retired: false,
        budget: budget(10.0),
        usage_usd: None,
        usage_monthly_usd: None,
        limit_remaining_usd: None,
        polled_at: None,
        last_error: String::new(),
        attempts: 0,
        next_retry_at: None,
        created_at: NOW.into(),
        updated_at: NOW.into(),
    }
}

fn run(c: ClientLlm) -> Vec<KeyAction> {
    plan(&[c], true, NOW)
}

#[test]
fn a_client_on_an_llm_plan_gets_one_key_with_its_budget() {
    let actions = run(client(vec![]));
    assert_eq!(
        actions,
        vec![KeyAction::Create {
            client_id: 1,
            slug: "acme".into(),
            budget: budget(10.0)
        }]
    );
    assert!(run(client(vec![key(1, LlmKeyStatus::Active)])).is_empty());
    let mut off = client(vec![]);
    off.plan.enabled = false;
    assert!(run(off).is_empty());
    assert!(
        plan(&[client(vec![])], false, NOW).is_empty(),
        "no provider"
    );
}

#[test]
fn suspend_disables_and_resume_enables() {
    let mut c = client(vec![key(1, LlmKeyStatus::Active)]);
    c.status = ClientStatus::Suspended;
    let actions = run(c.clone());
    assert!(
        matches!(
            &actions[..],
            [KeyAction::Update {
                key_id: 1,
                change: KeyChange {
                    disabled: Some(true),
                    budget: None
                },
                status: LlmKeyStatus::Disabled,
                ..
            }]
        ),
        "{actions:?}"
    );
    c.keys[0].status = LlmKeyStatus::Disabled;
    assert!(run(c.clone()).is_empty());
    c.status = ClientStatus::Active;
    assert!(matches!(
        &run(c)[..],
        [KeyAction::Update {
            change: KeyChange {
                disabled: Some(false),
                ..
            },
            status: LlmKeyStatus::Active,
            ..
        }]
    ));
}

#[test]
fn a_budget_change_patches_the_limit_and_an_override_wins() {
    let mut c = client(vec![key(1, LlmKeyStatus::Active)]);
    c.plan.budget = budget(25.0);
    let actions = run(c.clone());
    assert!(
        matches!(
            &actions[..],
            [KeyAction::Update { change: KeyChange { disabled: None, budget: Some(b) }, .. }] if b.limit_usd == Some(25.0)
        ),
        "{actions:?}"
    );
    c.budget_override = Some(LlmBudget::new(Some(3.0), Some(LimitReset::Daily)).unwrap());
    assert!(matches!(
        &run(c)[..],
        [KeyAction::Update { budget: b, .. }] if b.limit_usd == Some(3.0) && b.limit_reset == Some(LimitReset::Daily)
    ));
}

#[test]
fn an_unconfirmed_create_is_resumed_not_repeated() {
    let actions = run(client(vec![key(4, LlmKeyStatus::Creating)]));
    assert!(
        matches!(&actions[..], [KeyAction::Resume { key_id: 4, .. }]),
        "{actions:?}"
    );
}

#[test]
fn failed_keys_wait_for_their_retry_time() {
    let mut k = key(4, LlmKeyStatus::Creating);
    k.next_retry_at = Some("2026-12-02T06:00:30Z".into());
    assert!(
        run(client(vec![k.clone()])).is_empty(),
        "not due: and no second create"
    );
    k.next_retry_at = Some("2026-12-02T05:59:59Z".into());
    assert_eq!(run(client(vec![k])).len(), 1);
}

#[test]
fn rotation_creates_first_and_deletes_the_old_key_after() {
    let mut old = key(1, LlmKeyStatus::Active);
    old.rotating = true;
    let actions = run(client(vec![old.clone()]));
    assert!(
        matches!(&actions[..], [KeyAction::Create { .. }]),
        "{actions:?}"
    );
    let actions = run(client(vec![old.clone(), key(2, LlmKeyStatus::Creating)]));
    assert!(
        matches!(&actions[..], [KeyAction::Resume { key_id: 2, .. }]),
        "{actions:?}"
    );
    let actions = run(client(vec![old, key(2, LlmKeyStatus::Active)]));
    assert_eq!(actions, vec![KeyAction::Delete { key_id: 1 }]);
}

#[test]
fn a_rotated_key_waits_for_every_instance_to_run_the_new_one() {
    let mut old = key(1, LlmKeyStatus::Active);
    old.rotating = true;
    let mut c = client(vec![old, key(2, LlmKeyStatus::Active)]);
    // One instance healthy with the new key, one still on the old one (its
    // recreate failed or is under way), one never healthy yet.
    for live in [vec![Some(2), Some(1)], vec![Some(2), None]] {
        c.live = live;
        assert_eq!(run(c.clone()), vec![], "{:?}", c.live);
    }
    c.live = vec![Some(2), Some(2)];
    assert_eq!(run(c), vec![KeyAction::Delete { key_id: 1 }]);
}

#[test]
fn deleting_a_client_or_leaving_the_plan_deletes_every_key() {
    let mut retired = key(1, LlmKeyStatus::Active);
    retired.retired = true;
    let mut gone = key(3, LlmKeyStatus::Deleted);
    gone.retired = true;
    let mut c = client(vec![retired, key(2, LlmKeyStatus::Disabled), gone]);
    c.deleting = true;
    assert_eq!(
        run(c.clone()),
        vec![
            KeyAction::Delete { key_id: 1 },
            KeyAction::Delete { key_id: 2 }
        ]
    );
    c.deleting = false;
    c.plan.enabled = false;
    assert_eq!(run(c).len(), 2);
}

#[test]
fn two_current_keys_keep_the_newest() {
    let actions = run(client(vec![
        key(1, LlmKeyStatus::Active),
        key(2, LlmKeyStatus::Active),
    ]));
    assert_eq!(actions, vec![KeyAction::Delete { key_id: 1 }]);
}
