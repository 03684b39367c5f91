use super::*;

fn load(text: &str, env: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("c.toml");
    std::fs::write(&path, text).unwrap();
    let env: Vec<(String, String)> = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Config::load(Some(&path), |k| {
        env.iter().find(|(e, _)| e == k).map(|(_, v)| v.clone())
    })
}

#[test]
fn the_example_is_valid() {
    let config = load(EXAMPLE, &[]).expect("example config loads");
    assert!(config.caddy.tls);
}

#[test]
fn env_overrides_file() {
    let c = load(
        "port_range = \"9000-9010\"\n[caddy]\nhttp_port = 81\n",
        &[("BERTH_CADDY_HTTP_PORT", "8089")],
    )
    .unwrap();
    assert_eq!(c.caddy.http_port, 8089);
    assert_eq!(c.port_range.len(), 11);
}

#[test]
fn instance_subnets_are_distinct_and_inside_the_pool() {
    let c = load("", &[]).unwrap();
    assert_eq!(c.instance_subnet(8001), "10.209.244.16/28");
    assert_ne!(c.instance_subnet(8001), c.instance_subnet(8002));
    assert_eq!(c.instance_subnet(65535), "10.223.255.240/28");
    assert!(load("[docker]\nsubnet_pool = \"10.0.0.0/24\"", &[])
        .unwrap_err()
        .to_string()
        .contains("subnet_pool"));
}

#[test]
fn errors_name_the_key() {
    let e = load("port_range = \"9-1\"", &[]).unwrap_err().to_string();
    assert!(e.contains("port_range"), "{e}");
    let e = load("[caddy]\nhttp_port = \"x\"", &[])
        .unwrap_err()
        .to_string();
    assert!(e.contains("http_port"), "{e}");
    let e = load("nonsense = 1", &[]).unwrap_err().to_string();
    assert!(e.contains("nonsense"), "{e}");
    let e = load("[caddy]\ntls = true", &[]).unwrap_err().to_string();
    assert!(e.contains("acme_email"), "{e}");
    assert!(!e.contains('\n'));
}

#[test]
fn relative_paths_become_absolute_against_the_current_dir() {
    let mut c = Config {
        backup_dir: Some("bk".into()),
        ..Config::default()
    };
    c.caddy.bin = "./bin/caddy".into();
    let cwd = tempfile::tempdir().unwrap();
    std::fs::create_dir(cwd.path().join("templates")).unwrap();
    c.resolve_paths(cwd.path());
    assert_eq!(c.data_dir, cwd.path().join("berth-data"));
    assert_eq!(c.backup_dir(), cwd.path().join("bk"));
    assert_eq!(c.blueprint_dir(), cwd.path().join("templates"));
    assert_eq!(c.caddy.bin, cwd.path().join("bin/caddy"));
    assert_eq!(c.docker.socket, PathBuf::from("/var/run/docker.sock"));

    // A bare binary name stays a PATH lookup; absolute paths are kept.
    let mut c = Config {
        data_dir: "/srv/berth".into(),
        ..Config::default()
    };
    c.resolve_paths(cwd.path());
    assert_eq!(c.caddy.bin, PathBuf::from("caddy"));
    assert_eq!(c.data_dir, PathBuf::from("/srv/berth"));
    assert_eq!(c.backup_dir(), PathBuf::from("/srv/berth/backups"));
    let elsewhere = tempfile::tempdir().unwrap();
    c.blueprint_dir = None;
    c.resolve_paths(elsewhere.path());
    assert_eq!(
        c.blueprint_dir(),
        PathBuf::from("/usr/share/berth/templates")
    );
}

#[test]
fn load_resolves_relative_paths() {
    let c = load("data_dir = \"rel/data\"", &[("BERTH_BACKUP_DIR", "bk")]).unwrap();
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(c.data_dir, cwd.join("rel/data"));
    assert_eq!(c.backup_dir(), cwd.join("bk"));
    assert!(c.blueprint_dir().is_absolute());
}

#[test]
fn schedule_tick_defaults_to_a_minute_and_stays_within_one() {
    assert_eq!(
        load("", &[]).unwrap().backup.schedule_tick,
        Duration::from_secs(60)
    );
    let c = load("[backup]\nschedule_tick = \"1s\"", &[]).unwrap();
    assert_eq!(c.backup.schedule_tick, Duration::from_secs(1));
    for bad in ["0s", "2m"] {
        let e = load(&format!("[backup]\nschedule_tick = \"{bad}\""), &[])
            .unwrap_err()
            .to_string();
        assert!(e.contains("backup.schedule_tick"), "{bad}: {e}");
    }
}

#[test]
fn llm_management_key_comes_from_env_or_file_and_is_masked() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mgmt");
    std::fs::write(&file, "sk-or-mgmt-from-file\n").unwrap();
    let text = format!(
        "[llm]\nprovider = \"openrouter\"\nmanagement_key_file = {:?}\n",
        file.display().to_string()
    );
    let c = load(&text, &[]).unwrap();
    let key = c.llm.management_key.clone().unwrap();
    assert_eq!(key.expose(), "sk-or-mgmt-from-file");
    assert_eq!(c.llm.poll_interval, Duration::from_secs(300));
    let c = load(&text, &[(MANAGEMENT_KEY_ENV, "sk-from-env")]).unwrap();
    assert_eq!(
        c.llm.management_key.as_ref().unwrap().expose(),
        "sk-from-env"
    );
    let shown = format!("{c:?}");
    assert!(
        !shown.contains("sk-from-env") && shown.contains("<set>"),
        "{shown}"
    );
    let none = load("[llm]\nprovider = \"litellm\"\n", &[]).unwrap_err();
    assert!(none.to_string().contains(MANAGEMENT_KEY_ENV), "{none}");
    let in_toml = load("[llm]\nmanagement_key = \"x\"\n", &[]).unwrap_err();
    assert!(in_toml.to_string().contains("management_key"), "{in_toml}");
    assert!(load("[llm]\nprovider = \"azure\"\n", &[]).is_err());
    let url = load(
        "[llm]\nprovider = \"litellm\"\nbase_url = \"ftp://x\"\n",
        &[(MANAGEMENT_KEY_ENV, "k")],
    )
    .unwrap_err();
    assert!(url.to_string().contains("llm.base_url"), "{url}");
}

#[test]
fn smtp_and_portal_sections_load_with_defaults_and_masked_password() {
    let c = load(
        "[smtp]\nhost = \"smtp.example.com\"\nfrom = \"Hosting <no@example.com>\"\nusername = \"u\"\ntls = \"tls\"\n[portal]\nbrand_name = \"Harbour\"\npublic_url = \"https://panel.example.com/\"\n",
        &[("BERTH_SMTP_PASSWORD", "s3cret-value")],
    )
    .unwrap();
    let smtp = c.smtp.as_ref().unwrap();
    assert_eq!((smtp.port(), smtp.tls), (465, SmtpTls::Tls));
    assert_eq!(smtp.password.as_deref(), Some("s3cret-value"));
    assert!(!format!("{c:?}").contains("s3cret-value"), "Debug masks it");
    assert_eq!(c.portal_base_url(), "https://panel.example.com");
    let plain = load("", &[]).unwrap();
    assert!(plain.smtp.is_none());
    assert_eq!(plain.portal.brand_name, "berth");
    assert_eq!(plain.portal_base_url(), "http://127.0.0.1:7070");
}

#[test]
fn smtp_and_portal_mistakes_name_the_key() {
    for (text, key) in [
        (
            "[smtp]\nhost = \"smtp.example.com\"\nfrom = \"not a mailbox\"\n",
            "smtp.from",
        ),
        (
            "[smtp]\nhost = \"bad host!\"\nfrom = \"a@b.example\"\n",
            "smtp.host",
        ),
        (
            "[smtp]\nhost = \"h.example\"\nfrom = \"a@b.example\"\nusername = \"u\"\n",
            "smtp.username",
        ),
        (
            "[smtp]\nhost = \"h.example\"\nfrom = \"a@b.example\"\ntls = \"ssl\"\n",
            "ssl",
        ),
        (
            "[portal]\npublic_url = \"ftp://x.example\"\n",
            "portal.public_url",
        ),
        ("[portal]\nbrand_name = \"\"\n", "portal.brand_name"),
    ] {
        let err = load(text, &[]).unwrap_err().to_string();
        assert!(err.contains(key), "{text}: {err}");
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pw");
    std::fs::write(&file, "from-file\n").unwrap();
    let text = format!(
        "[smtp]\nhost = \"h.example\"\nfrom = \"a@b.example\"\nusername = \"u\"\npassword_file = {:?}\n",
        file.display().to_string()
    );
    let c = load(&text, &[]).unwrap();
    assert_eq!(c.smtp.unwrap().password.as_deref(), Some("from-file"));
}

#[test]
fn registry_logins_read_their_secret_from_env_or_file_and_mask_it() {
    let c = load(
        "[[registry]]\nhost = \"ghcr.io\"\nusername = \"bot\"\npassword_env = \"GHCR_TOKEN\"\n",
        &[("GHCR_TOKEN", "s3cret-token")],
    )
    .unwrap();
    let r = c
        .registry_for("ghcr.io/acme/app:1")
        .expect("a login for ghcr.io");
    assert_eq!(r.password.as_ref().unwrap().expose(), "s3cret-token");
    assert!(c.registry_for("docker.io/library/busybox").is_none());
    assert!(!format!("{c:?}").contains("s3cret-token"), "Debug masks it");

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("token");
    std::fs::write(&file, "from-file\n").unwrap();
    let text = format!(
        "[[registry]]\nhost = \"127.0.0.1:5000\"\nusername = \"u\"\npassword_file = {:?}\n",
        file.display().to_string()
    );
    let c = load(&text, &[]).unwrap();
    assert_eq!(
        c.registries[0].password.as_ref().unwrap().expose(),
        "from-file"
    );

    for (text, want) in [
        (
            "[[registry]]\nhost = \"ghcr.io\"\nusername = \"u\"\n",
            "password_env or password_file",
        ),
        (
            "[[registry]]\nhost = \"ghcr.io\"\nusername = \"u\"\npassword_env = \"UNSET_VAR\"\n",
            "UNSET_VAR is not set",
        ),
        (
            "[[registry]]\nhost = \"https://ghcr.io/\"\nusername = \"u\"\npassword_env = \"X\"\n",
            "registry[0]",
        ),
        (
            "[[registry]]\nhost = \"ghcr.io\"\nusername = \"u\"\npassword = \"inline\"\n",
            "password",
        ),
        (
            "[updates]\ncheck_schedule = \"not cron\"\n",
            "updates.check_schedule",
        ),
    ] {
        let err = load(text, &[("X", "x")]).unwrap_err().to_string();
        assert!(err.contains(want), "{text}: {err}");
    }
    assert_eq!(load("", &[]).unwrap().updates.check_schedule, "30 4 * * *");
}
