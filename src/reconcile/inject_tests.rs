use std::collections::HashMap;

use super::*;
use crate::blueprint::{Blueprint, Blueprints};
use crate::domain::DesiredState;
use crate::reconcile::desired::{desired, spec_for, tests::row, Unbuilt};

fn blueprints() -> Blueprints {
    let text = "image = \"app:1\"\ninternal_port = 80\ndata_mount = \"/data\"\n\
        [llm]\nkey_env = \"KEY\"\nbase_url_env = \"URL\"\nenv = { ON = \"1\" }\n\
        [admin]\nemail_env = \"AE\"\npassword_env = \"AP\"\n";
    Blueprints::from_list(vec![Blueprint::parse("app", text).unwrap()])
}

fn injections(key: Option<ClientKey>, exists: bool) -> Injections {
    Injections {
        url: Some("http://llm.example/v1".into()),
        keys: key.map(|k| HashMap::from([(1, k)])).unwrap_or_default(),
        admins: HashMap::from([(
            1,
            AdminSeed {
                email: "a@b.example".into(),
                name: "A".into(),
                password: Plain("pw".into()),
                exists,
            },
        )]),
    }
}

fn ready(id: i64, key: &str) -> ClientKey {
    ClientKey::Ready {
        key_id: id,
        key: Plain(key.into()),
    }
}

fn env_of(b: &crate::reconcile::desired::Built) -> BTreeMap<String, String> {
    b.spec.env.iter().cloned().collect()
}

#[test]
fn the_key_url_and_extra_env_are_injected_and_a_new_key_changes_the_hash() {
    let config = Config::default();
    let r = row(1, "active", "running");
    let one = spec_for(
        &r,
        &blueprints(),
        &config,
        &injections(Some(ready(7, "k1")), false),
    )
    .unwrap();
    let env = env_of(&one);
    assert_eq!(
        (env["KEY"].as_str(), env["URL"].as_str(), env["ON"].as_str()),
        ("k1", "http://llm.example/v1", "1")
    );
    assert_eq!(
        (env["AE"].as_str(), env["AP"].as_str()),
        ("a@b.example", "pw")
    );
    assert_eq!(
        (one.llm_key, one.admin_pending, one.also_ok.clone()),
        (Some(7), true, None)
    );
    let two = spec_for(
        &r,
        &blueprints(),
        &config,
        &injections(Some(ready(8, "k2")), false),
    )
    .unwrap();
    assert_ne!(one.spec.hash(), two.spec.hash(), "a rotated key recreates");
    // A client whose plan has no key: the instance starts without one.
    let none = spec_for(&r, &blueprints(), &config, &injections(None, false)).unwrap();
    assert!(!env_of(&none).contains_key("KEY"));
    assert_eq!(none.llm_key, None);
}

#[test]
fn once_the_account_exists_the_password_goes_at_the_next_recreate_only() {
    let config = Config::default();
    let r = row(1, "active", "running");
    let before = spec_for(
        &r,
        &blueprints(),
        &config,
        &injections(Some(ready(7, "k")), false),
    )
    .unwrap();
    let after = spec_for(
        &r,
        &blueprints(),
        &config,
        &injections(Some(ready(7, "k")), true),
    )
    .unwrap();
    assert!(!env_of(&after).contains_key("AP"));
    assert!(!after.admin_pending);
    // The running container (with the password) is still current.
    assert_eq!(after.also_ok.as_deref(), Some(before.spec.hash().as_str()));
    let d = desired(
        &[r],
        &blueprints(),
        &config,
        &injections(Some(ready(7, "k")), true),
    );
    assert!(d.instances[0].current(Some(&before.spec.hash())));
    assert!(d.instances[0].current(Some(&after.spec.hash())));
    assert!(!d.instances[0].current(Some("other")));
}

#[test]
fn no_usable_key_yet_makes_a_running_instance_wait_but_not_a_leaving_one() {
    let config = Config::default();
    let waiting = Some(ClientKey::Waiting(
        "waiting for its LLM key to be created".into(),
    ));
    let r = row(1, "active", "running");
    assert_eq!(
        spec_for(
            &r,
            &blueprints(),
            &config,
            &injections(waiting.clone(), false)
        )
        .err(),
        Some(Unbuilt::Waiting(
            "waiting for its LLM key to be created".into()
        ))
    );
    let rows = [r, row(1, "active", "absent")];
    let d = desired(&rows, &blueprints(), &config, &injections(waiting, false));
    assert_eq!(d.waiting.len(), 1);
    assert_eq!(d.instances.len(), 1);
    assert_eq!(d.instances[0].want, DesiredState::Absent);
}

fn key_row(id: i64, status: LlmKeyStatus, rotating: bool, sealer: &Sealer) -> KeyRow {
    KeyRow {
        id,
        client_id: 1,
        provider: crate::domain::LlmProvider::OpenRouter,
        label: format!("berth/o/acme/{id}"),
        provider_key_id: Some(format!("h{id}")),
        key_hint: String::new(),
        secret: (status != LlmKeyStatus::Creating).then(|| sealer.seal(&format!("key{id}"))),
        status,
        rotating,
        retired: false,
        budget: crate::domain::llm::LlmBudget {
            limit_usd: None,
            limit_reset: None,
        },
        usage_usd: None,
        usage_monthly_usd: None,
        limit_remaining_usd: None,
        polled_at: None,
        last_error: String::new(),
        attempts: 0,
        next_retry_at: None,
        created_at: String::new(),
        updated_at: String::new(),
    }
}

#[test]
fn a_rotation_injects_the_new_key_once_it_exists_and_the_old_one_until_then() {
    let sealer = Sealer::from_key(&[3; 32]);
    let client = |keys| ClientLlm {
        client_id: 1,
        slug: "acme".into(),
        status: crate::domain::ClientStatus::Active,
        plan: rows::PlanLlm {
            enabled: true,
            budget: crate::domain::llm::LlmBudget {
                limit_usd: None,
                limit_reset: None,
            },
        },
        budget_override: None,
        deleting: false,
        keys,
        live: Vec::new(),
    };
    let old = key_row(1, LlmKeyStatus::Active, true, &sealer);
    let pick = |c: &ClientLlm| match client_key(c, Ok(&sealer)) {
        ClientKey::Ready { key_id, key } => (key_id, key.expose().to_owned()),
        other => panic!("{other:?}"),
    };
    let creating = key_row(2, LlmKeyStatus::Creating, false, &sealer);
    assert_eq!(
        pick(&client(vec![old.clone(), creating])),
        (1, "key1".into())
    );
    let made = key_row(2, LlmKeyStatus::Active, false, &sealer);
    assert_eq!(pick(&client(vec![old, made])), (2, "key2".into()));
    let mut failed = key_row(1, LlmKeyStatus::Creating, false, &sealer);
    failed.last_error = "out of credits (402)".into();
    assert_eq!(
        client_key(&client(vec![failed]), Ok(&sealer)),
        ClientKey::Waiting("waiting for its LLM key: out of credits (402)".into())
    );
    // Debug shows no plaintext.
    let shown = format!(
        "{:?}",
        client_key(
            &client(vec![key_row(5, LlmKeyStatus::Active, false, &sealer)]),
            Ok(&sealer)
        )
    );
    assert!(!shown.contains("key5"), "{shown}");
}
