//! The LLM key worker and meter against the fake providers: the lifecycle
//! (create → usage polled → suspend disables → resume → budget → rotate →
//! delete) for both APIs; the failure paths are in `llm_failures`. No
//! Docker: the operations write desired state, the worker is driven pass
//! by pass.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use berth::audit::Actor;
use berth::config::{Config, ManagementKey};
use berth::domain::{ClientStatus, LlmKeyStatus, LlmProvider, SpendWarning};
use berth::llm::secret::Sealer;
use berth::llm::KeyWorker;
use berth::ops::{LlmBudgetInput, NewClientInput, Ops, PlanInput, PlanLlmInput};
use berth::store::{llm as rows, Store};

use crate::harness::{eventually, unique, LlmFake};

pub(crate) struct Setup {
    pub ops: Ops,
    pub store: Store,
    pub worker: KeyWorker,
    pub fake: LlmFake,
    pub config: Config,
    pub slug: String,
    _dir: tempfile::TempDir,
}

pub(crate) async fn setup(provider: LlmProvider) -> Setup {
    let fake = LlmFake::start().await;
    let dir = tempfile::tempdir().unwrap();
    let mut config = Config {
        data_dir: dir.path().join("data"),
        blueprint_dir: Some(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("templates")),
        ..Config::default()
    };
    config.docker.owner = unique("owner");
    config.llm.provider = Some(provider);
    config.llm.base_url = match provider {
        LlmProvider::OpenRouter => fake.openrouter_url(),
        LlmProvider::LiteLlm => fake.litellm_url(),
    };
    config.llm.management_key = Some(ManagementKey::new(fake.management_key.clone()));
    config.llm.timeout = Duration::from_millis(700);
    config.llm.retry_base = Duration::from_millis(200);
    let store = Store::open(&config.db_path()).unwrap();
    let blueprints = berth::blueprint::Blueprints::load_dir(&config.blueprint_dir()).unwrap();
    let shared = Arc::new(config.clone());
    let ops = Ops::new(
        store.clone(),
        shared.clone(),
        Arc::new(blueprints),
        Arc::default(),
    );
    let worker = KeyWorker::from_config(store.clone(), shared, Arc::default(), Arc::default())
        .unwrap()
        .expect("a provider is configured");
    let actor = Actor::cli();
    let plan = PlanInput {
        name: "ai".into(),
        cpus: 0.5,
        memory: berth::domain::size::SizeInput::Text("64MiB".into()),
        memory_reservation: None,
        storage: None,
        max_instances: None,
        approval: Default::default(),
        portal_restore: false,
        blueprints: None,
        image_tag: None,
    };
    ops.create_plan(&actor, plan).await.unwrap();
    ops.set_plan_llm(&actor, "ai", plan_llm(Some(10.0)))
        .await
        .unwrap();
    let slug = unique("acme");
    let client = NewClientInput {
        name: slug.clone(),
        email: "ops@example.com".into(),
        plan: "ai".into(),
        notes: String::new(),
        blueprint: Some("static-site".into()),
        domain: None,
        env: None,
    };
    let created = ops.create_client(&actor, client).await.unwrap();
    assert_eq!(created.client.slug, slug);
    Setup {
        ops,
        store,
        worker,
        fake,
        config,
        slug,
        _dir: dir,
    }
}

fn plan_llm(limit: Option<f64>) -> PlanLlmInput {
    PlanLlmInput {
        enabled: true,
        limit_usd: limit,
        limit_reset: limit.map(|_| "monthly".into()),
    }
}

impl Setup {
    pub async fn keys(&self) -> Vec<rows::KeyRow> {
        self.store.read(rows::all_keys).await.unwrap()
    }

    /// Passes until the worker has nothing left to do (retries included).
    pub async fn settle(&self) {
        eventually(
            "the key worker settles",
            Duration::from_secs(20),
            || async {
                let outcome = self.worker.pass().await.unwrap();
                let view = self.ops.llm_status(&self.slug).await.unwrap();
                (outcome.actions == 0 && view.sync == "ok").then_some(())
            },
        )
        .await;
    }

    /// The plaintext of a stored key, decrypted as berth would.
    pub fn plaintext(&self, row: &rows::KeyRow) -> String {
        let sealer =
            Sealer::open_or_create(&self.config.llm.secret_file(&self.config.data_dir)).unwrap();
        sealer.open(row.secret.as_ref().unwrap()).unwrap()
    }

    /// Nothing a front end shows, and nothing in the database file, holds
    /// any key's plaintext.
    pub async fn assert_no_plaintext_shown(&self) {
        let view = serde_json::to_string(&self.ops.llm_status(&self.slug).await.unwrap()).unwrap();
        let overview = serde_json::to_string(&self.ops.llm_overview().await.unwrap()).unwrap();
        let audit = format!(
            "{:?}",
            self.store
                .read(|c| {
                    let mut s = c.prepare("SELECT details FROM audit_log").unwrap();
                    let all: Vec<String> = s
                        .query_map([], |r| r.get(0))
                        .unwrap()
                        .map(Result::unwrap)
                        .collect();
                    Ok(all)
                })
                .await
                .unwrap()
        );
        let mut db = std::fs::read(self.config.db_path()).unwrap();
        db.extend(
            std::fs::read(self.config.db_path().with_extension("db-wal")).unwrap_or_default(),
        );
        for key in self.fake.keys() {
            for shown in [&view, &overview, &audit] {
                assert!(!shown.contains(&key.key), "plaintext shown: {shown}");
            }
            assert!(
                !db.windows(key.key.len()).any(|w| w == key.key.as_bytes()),
                "plaintext in the database"
            );
        }
    }
}

async fn lifecycle(provider: LlmProvider) {
    let s = setup(provider).await;
    let actor = Actor::cli();
    s.settle().await;
    let keys = s.keys().await;
    assert_eq!(keys.len(), 1);
    let label = keys[0].label.clone();
    assert_eq!(
        label,
        format!("berth/{}/{}/{}", s.config.docker.owner, s.slug, keys[0].id)
    );
    let at = s.fake.key_named(&label).expect("made at the provider");
    assert_eq!(
        (at.limit, at.limit_reset.as_deref()),
        (Some(10.0), Some("monthly"))
    );
    assert_eq!(
        s.plaintext(&keys[0]),
        at.key,
        "the stored key is the provider's"
    );
    assert_eq!(s.fake.keys().len(), 1);

    // Usage is polled into the rows and the series.
    s.fake.set_usage(&label, 2.5, 1.25);
    s.fake.set_credits(50.0, 12.0);
    let polled = s.worker.poll().await.unwrap();
    assert_eq!((polled.keys, polled.error), (1, None));
    let view = s.ops.llm_status(&s.slug).await.unwrap();
    assert_eq!(view.usage_usd, Some(2.5));
    assert_eq!(view.spend.len(), 1);
    let overview = s.ops.llm_overview().await.unwrap();
    if provider == LlmProvider::OpenRouter {
        assert_eq!(view.usage_monthly_usd, Some(1.25));
        assert_eq!(overview.credits_left, Some(38.0));
    }
    assert_eq!(overview.top[0].client, s.slug);

    // Suspend disables, resume enables.
    s.ops
        .set_client_status(&actor, &s.slug, ClientStatus::Suspended)
        .await
        .unwrap();
    s.settle().await;
    assert!(s.fake.key_named(&label).unwrap().disabled);
    assert_eq!(s.keys().await[0].status, LlmKeyStatus::Disabled);
    s.ops
        .set_client_status(&actor, &s.slug, ClientStatus::Active)
        .await
        .unwrap();
    s.settle().await;
    assert!(!s.fake.key_named(&label).unwrap().disabled);

    // A plan change patches the limit; the client's own budget wins.
    s.ops
        .set_plan_llm(&actor, "ai", plan_llm(Some(25.0)))
        .await
        .unwrap();
    s.settle().await;
    assert_eq!(s.fake.key_named(&label).unwrap().limit, Some(25.0));
    let own = LlmBudgetInput {
        limit_usd: Some(3.0),
        limit_reset: Some("daily".into()),
        use_plan: false,
    };
    let view = s.ops.set_llm_budget(&actor, &s.slug, own).await.unwrap();
    assert_eq!(view.budget_source, "client");
    s.settle().await;
    let at = s.fake.key_named(&label).unwrap();
    assert_eq!(
        (at.limit, at.limit_reset.as_deref()),
        (Some(3.0), Some("daily"))
    );

    // Past 80 % of the limit the key is near it, then at it.
    s.fake.set_usage(&label, 2.9, 2.9);
    s.worker.poll().await.unwrap();
    let view = s.ops.llm_status(&s.slug).await.unwrap();
    assert_eq!(view.warning, Some(SpendWarning::NearLimit), "{view:?}");
    s.fake.set_usage(&label, 3.0, 3.0);
    s.worker.poll().await.unwrap();
    let overview = s.ops.llm_overview().await.unwrap();
    assert_eq!(overview.near_limit.len(), 1);
    assert_eq!(
        overview.near_limit[0].warning,
        Some(SpendWarning::LimitReached)
    );

    // Rotation: a new key, then the old one goes.
    let view = s.ops.rotate_llm_key(&actor, &s.slug).await.unwrap();
    assert!(view.rotating);
    s.settle().await;
    let keys = s.keys().await;
    assert_eq!(keys.len(), 2);
    assert_eq!(
        (keys[0].status, keys[0].retired),
        (LlmKeyStatus::Deleted, true)
    );
    assert_eq!(keys[1].status, LlmKeyStatus::Active);
    let at = s.fake.keys();
    assert_eq!(at.len(), 1);
    assert_eq!(at[0].name, keys[1].label);
    assert_eq!(
        at[0].limit,
        Some(3.0),
        "the new key has the client's budget"
    );
    assert_eq!(s.plaintext(&keys[1]), at[0].key);
    s.assert_no_plaintext_shown().await;

    // A delete takes every key at the provider.
    s.ops.delete_client(&actor, &s.slug, &s.slug).await.unwrap();
    eventually("keys deleted", Duration::from_secs(20), || async {
        s.worker.pass().await.unwrap();
        s.fake.keys().is_empty().then_some(())
    })
    .await;
    let undeleted = s
        .store
        .read({
            let id = s.keys().await[0].client_id;
            move |c| rows::undeleted_labels(c, id)
        })
        .await
        .unwrap();
    assert!(undeleted.is_empty(), "{undeleted:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openrouter_key_lifecycle() {
    lifecycle(LlmProvider::OpenRouter).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn litellm_key_lifecycle() {
    lifecycle(LlmProvider::LiteLlm).await;
}
