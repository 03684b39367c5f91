//! A client's LLM key inside its instance, through the whole daemon (real
//! Docker and Caddy, the fake OpenRouter), with a static-site blueprint that
//! takes a key and declares an admin account: the instance waits (with its
//! reason) until the key exists, then runs with it injected; the admin
//! password is revealed once; a rotation recreates the instance with the new
//! key and deletes the old one only once the new container is healthy (an
//! unhealthy one keeps it); the password leaves the env at that recreate;
//! suspend/resume keep the key injected; no answer, export, audit entry,
//! database page or Debug output holds a key or the password.

use std::collections::BTreeMap;
use std::time::Duration;

use berth::config::ManagementKey;
use berth::domain::LlmProvider;
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{eventually, unique, Fault, LlmFake, TestApp};

/// The static site with a key, an admin account and a health check that
/// fails while `/www/unhealthy` exists (checked every second).
fn chat_site(static_site: &str) -> String {
    let site = static_site
        .replace(
            r#"test = ["CMD", "/bin/wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]"#,
            r#"test = ["CMD-SHELL", "test ! -e /www/unhealthy && /bin/wget -q -O /dev/null http://127.0.0.1:8080/"]"#,
        )
        .replace("interval = 5", "interval = 1")
        .replace("retries = 3", "retries = 1")
        .replace("start_period = 5", "start_period = 0");
    assert!(
        site.contains("CMD-SHELL"),
        "static-site.toml changed: {site}"
    );
    format!(
        "{site}\n[llm]\nkey_env = \"OPENAI_API_KEY\"\nbase_url_env = \"OPENAI_API_BASE_URL\"\n\
         env = {{ ENABLE_OPENAI_API = \"true\" }}\n\n[admin]\nemail_env = \"ADMIN_EMAIL\"\n\
         password_env = \"ADMIN_PASSWORD\"\nname_env = \"ADMIN_NAME\"\n"
    )
}

async fn spawn(fake: &LlmFake) -> TestApp {
    let (url, mgmt) = (fake.openrouter_url(), fake.management_key.clone());
    let inference = fake.inference_url("127.0.0.1");
    TestApp::spawn_with(move |c| {
        c.llm.provider = Some(LlmProvider::OpenRouter);
        c.llm.base_url = url;
        c.llm.management_key = Some(ManagementKey::new(mgmt));
        c.llm.inference_url = Some(inference);
        c.llm.timeout = Duration::from_secs(2);
        c.llm.retry_base = Duration::from_millis(200);
        let dir = c.blueprint_dir.clone().unwrap();
        let site = std::fs::read_to_string(dir.join("static-site.toml")).unwrap();
        std::fs::write(dir.join("chat-site.toml"), chat_site(&site)).unwrap();
    })
    .await
}

/// The running container of instance `id`: (container id, env).
fn container(app: &TestApp, id: i64) -> Option<(String, BTreeMap<String, String>)> {
    let owner = &app.config.docker.owner;
    let cid = app.docker(&[
        "ps",
        "-q",
        "--filter",
        &format!("label=berth.managed={owner}"),
        "--filter",
        &format!("label=berth.instance={id}"),
    ]);
    if cid.is_empty() || cid.contains('\n') {
        return None;
    }
    // Not `app.docker`: a recreate may remove the container between the
    // listing and this, which is "no container right now", not a failure.
    let out = std::process::Command::new("docker")
        .args([
            "inspect",
            "-f",
            "{{range .Config.Env}}{{println .}}{{end}}",
            &cid,
        ])
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let env = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    Some((cid, env))
}

async fn llm(app: &TestApp, slug: &str) -> Value {
    let (code, body) = app.get(&format!("/api/v1/clients/{slug}/llm")).await;
    assert_eq!(code, StatusCode::OK, "{body}");
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_key_is_injected_rotated_through_the_instance_and_never_shown() {
    let fake = LlmFake::start().await;
    let app = spawn(&fake).await;
    let plan = unique("ai");
    app.create_plan(&plan, 0.25, "64MiB").await;
    app.enable_llm(&plan, 20.0).await;

    // The provider is out of credits: the instance waits, saying why.
    fake.inject("POST /api/v1/keys", Fault::Status(402), 10_000);
    let name = unique("chat");
    let (code, client) = app
        .post(
            "/api/v1/clients",
            json!({ "name": name, "email": "owner@chat.example", "plan": plan, "blueprint": "chat-site" }),
        )
        .await;
    assert_eq!(code, StatusCode::CREATED, "{client}");
    let slug = client["slug"].as_str().unwrap().to_owned();
    let id = client["instances"][0]["id"].as_i64().unwrap();
    let waiting = app
        .wait_phase(id, &["pending"], Duration::from_secs(20))
        .await;
    eventually("the reason is shown", Duration::from_secs(20), || async {
        let inst = app.instance(id).await;
        let msg = inst["message"].as_str().unwrap_or("").to_owned();
        (msg.contains("waiting for its LLM key") && msg.contains("credits")).then_some(())
    })
    .await;
    assert!(container(&app, id).is_none(), "{waiting}");
    fake.clear_faults();

    // The key arrives: the instance starts with it, the base URL and the extra env.
    let inst = app
        .wait_phase(id, &["running"], Duration::from_secs(60))
        .await;
    let key1 = fake.keys()[0].key.clone();
    let (cid1, env) = container(&app, id).expect("a container");
    assert_eq!(env["OPENAI_API_KEY"], key1);
    assert_eq!(env["OPENAI_API_BASE_URL"], fake.inference_url("127.0.0.1"));
    assert_eq!(env["ENABLE_OPENAI_API"], "true");
    assert_eq!(env["ADMIN_EMAIL"], "owner@chat.example");
    assert_eq!(env["ADMIN_NAME"], name);

    // The admin password: shown once, the account state without it.
    let reveal = format!("/api/v1/instances/{id}/admin/reveal");
    let (code, creds) = app.post(&reveal, json!({})).await;
    assert_eq!(code, StatusCode::OK, "{creds}");
    let password = creds["password"].as_str().unwrap().to_owned();
    assert_eq!(env["ADMIN_PASSWORD"], password);
    let (code, again) = app.post(&reveal, json!({})).await;
    assert_eq!(code, StatusCode::CONFLICT, "{again}");
    assert!(!again.to_string().contains(&password));
    let account = eventually("the account exists", Duration::from_secs(30), || async {
        let (_, a) = app.get(&format!("/api/v1/instances/{id}/admin")).await;
        (a["created"] == true).then_some(a)
    })
    .await;
    assert_eq!(account["revealed_to_provider"], true, "{account}");
    assert_eq!(
        container(&app, id).unwrap().0,
        cid1,
        "knowing the account exists recreates nothing"
    );

    // Rotate while a new container would be unhealthy: the old key stays.
    let data = app.config.instance_data_dir(&slug, "main");
    std::fs::write(data.join("unhealthy"), "").unwrap();
    let (code, body) = app
        .post(&format!("/api/v1/clients/{slug}/llm/rotate"), json!({}))
        .await;
    assert_eq!(code, StatusCode::ACCEPTED, "{body}");
    let (cid2, env2) = eventually(
        "recreated with a new key",
        Duration::from_secs(30),
        || async { container(&app, id).filter(|(c, e)| *c != cid1 && e["OPENAI_API_KEY"] != key1) },
    )
    .await;
    let key2 = env2["OPENAI_API_KEY"].clone();
    assert!(fake.keys().iter().any(|k| k.key == key2));
    assert!(
        !env2.contains_key("ADMIN_PASSWORD"),
        "the password left the env at the recreate"
    );
    app.wait_phase(id, &["unhealthy"], Duration::from_secs(30))
        .await;
    // Passes keep going (reconcile, key worker): the old key is still there.
    let seen = llm(&app, &slug).await;
    eventually("a few more passes", Duration::from_secs(20), || async {
        let inst = app.instance(id).await;
        (inst["phase"] == "unhealthy" && llm(&app, &slug).await["sync"] == "ok").then_some(())
    })
    .await;
    assert!(
        fake.keys().iter().any(|k| k.key == key1),
        "an unhealthy recreate keeps the old key: {seen}"
    );

    // Healthy again: now the old key goes.
    std::fs::remove_file(data.join("unhealthy")).unwrap();
    app.wait_phase(id, &["running"], Duration::from_secs(30))
        .await;
    eventually(
        "the old key is deleted",
        Duration::from_secs(30),
        || async { (!fake.keys().iter().any(|k| k.key == key1)).then_some(()) },
    )
    .await;
    assert_eq!(container(&app, id).unwrap().0, cid2);

    // Suspend disables the key (the stopped container keeps it), resume
    // enables it, and the instance comes back with the same key.
    let (code, _) = app
        .post(&format!("/api/v1/clients/{slug}/suspend"), json!({}))
        .await;
    assert_eq!(code, StatusCode::OK);
    eventually("key disabled", Duration::from_secs(30), || async {
        fake.keys()
            .iter()
            .any(|k| k.key == key2 && k.disabled)
            .then_some(())
    })
    .await;
    let (code, _) = app
        .post(&format!("/api/v1/clients/{slug}/resume"), json!({}))
        .await;
    assert_eq!(code, StatusCode::OK);
    app.wait_phase(id, &["running"], Duration::from_secs(30))
        .await;
    eventually("key enabled", Duration::from_secs(30), || async {
        fake.keys()
            .iter()
            .any(|k| k.key == key2 && !k.disabled)
            .then_some(())
    })
    .await;
    // The phase may still read "running" from before the suspend was
    // observed: wait for the started container itself.
    let (cid3, env3) = eventually(
        "container running again",
        Duration::from_secs(30),
        || async { container(&app, id) },
    )
    .await;
    assert_eq!((cid3, env3["OPENAI_API_KEY"].clone()), (cid2, key2.clone()));

    // Nowhere else: answers, the export, the audit log, the database file,
    // the key rows' and the config's Debug.
    let secrets = [key1.as_str(), key2.as_str(), password.as_str()];
    let mut seen = String::new();
    for path in [
        format!("/api/v1/clients/{slug}"),
        format!("/api/v1/clients/{slug}/llm"),
        format!("/api/v1/clients/{slug}/export"),
        format!("/api/v1/instances/{id}"),
        format!("/api/v1/instances/{id}/admin"),
        "/api/v1/instances".to_owned(),
        "/api/v1/llm/overview".to_owned(),
    ] {
        let (code, body) = app.get(&path).await;
        assert_eq!(code, StatusCode::OK, "{path}: {body}");
        seen.push_str(&body.to_string());
    }
    seen.push_str(&app.get_text("/metrics").await);
    let audit: Vec<String> = app
        .store()
        .read(|c| {
            let mut stmt = c.prepare("SELECT action || target || details FROM audit_log")?;
            let rows = stmt
                .query_map([], |r| r.get(0))?
                .collect::<Result<Vec<String>, _>>()?;
            Ok(rows)
        })
        .await
        .unwrap();
    assert!(audit
        .iter()
        .any(|a| a.starts_with("instance.admin_password.reveal")));
    seen.push_str(&audit.join("\n"));
    let keys = app.store().read(berth::store::llm::all_keys).await.unwrap();
    seen.push_str(&format!("{keys:?}{:?}{inst:?}", app.config));
    let mut db = Vec::new();
    for entry in std::fs::read_dir(app.data_dir()).unwrap() {
        let path = entry.unwrap().path();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        if file.starts_with("berth.db") {
            db.extend(std::fs::read(&path).unwrap());
        }
    }
    for secret in secrets {
        assert!(!seen.contains(secret), "a secret in an answer or Debug");
        assert!(
            !db.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "a secret in the database file"
        );
    }

    // The confirmed delete deletes the key and lists it.
    let report = app
        .delete_and_follow(
            &format!("/api/v1/clients/{slug}"),
            json!({ "confirm": slug }),
        )
        .await;
    assert!(fake.keys().is_empty(), "{report}");
    assert_eq!(
        report["llm_keys_deleted"].as_array().unwrap().len(),
        2,
        "{report}"
    );
}
