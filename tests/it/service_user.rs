//! berth as the package runs it: the real daemon binary as a non-root uid in
//! the Docker socket's group, holding exactly the capabilities the unit
//! grants, against a tenant that writes root-owned private files, files of
//! another uid, a setuid program, a sticky tmp dir and links out of its
//! directory. Backup, verify, restore, clone and delete must all work and
//! keep every owner and mode; without the capabilities the error names the
//! file.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::harness::{
    api_call, api_client, berth_cli_as, delete_and_follow, eventually, skip_docker, BerthProcess,
    CaddyProcess, ChildSetup, DockerGuard, ServiceUser,
};

const UP: Duration = Duration::from_secs(90);
/// No passwd entry needed: berth never looks its own user up.
const SERVICE_UID: u32 = 4242;

/// A daemon running as the service user, with an API token.
struct Daemon {
    process: Option<BerthProcess>,
    user: ServiceUser,
    bin: PathBuf,
    config: berth::config::Config,
    /// The static-site image berth builds; tenant scripts run in it.
    image: String,
    token: String,
    http: reqwest::Client,
    dir: tempfile::TempDir,
    _caddy: CaddyProcess,
    _guard: DockerGuard,
}

impl Daemon {
    async fn start(caps: Vec<String>) -> Daemon {
        let ChildSetup {
            dir,
            guard,
            caddy,
            image,
            config,
            ..
        } = ChildSetup::new("svc").await;
        let user = ServiceUser::new(SERVICE_UID, &caps);
        // The temp dir (0700 root) and the blueprint copies become the
        // service user's, as /var/lib/berth is in the package. The binary
        // is linked in after: chown -R would reach the build's own file.
        user.own(dir.path());
        let bin = user.binary_in(dir.path());
        let (code, token, err) = berth_cli_as(&user, &bin, &config, &["token", "create", "svc"]);
        assert_eq!(code, 0, "{err}");
        let http = api_client(Duration::from_secs(60));
        let mut daemon = Daemon {
            process: None,
            user,
            bin,
            config,
            image,
            token: token.trim().to_owned(),
            http,
            dir,
            _caddy: caddy,
            _guard: guard,
        };
        daemon.run().await;
        daemon
    }

    async fn run(&mut self) {
        let process =
            self.process
                .insert(BerthProcess::start_as(&self.user, &self.bin, &self.config));
        process.wait_healthy(&self.http, &self.config).await;
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Value) -> (StatusCode, Value) {
        let api = format!("http://{}", self.config.listen);
        api_call(&self.http, &api, &self.token, method, path, Some(body)).await
    }

    async fn get(&self, path: &str) -> Value {
        let (status, body) = self.call(reqwest::Method::GET, path, json!({})).await;
        assert_eq!(status, StatusCode::OK, "{path}: {body}");
        body
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, body).await
    }

    /// A running static-site client; returns (slug, instance id, container id).
    async fn client(&self, name: &str) -> (String, i64, String) {
        let (status, plan) = self
            .post(
                "/api/v1/plans",
                json!({ "name": "p", "cpus": 0.5, "memory": "64MiB" }),
            )
            .await;
        assert!(
            status == StatusCode::CREATED || status == StatusCode::CONFLICT,
            "{plan}"
        );
        let (status, client) = self
            .post(
                "/api/v1/clients",
                json!({ "name": name, "email": "ops@example.com", "plan": "p", "blueprint": "static-site" }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{client}");
        let id = client["instances"][0]["id"].as_i64().unwrap();
        let inst = eventually("the instance runs", UP, || async {
            let inst = self.get(&format!("/api/v1/instances/{id}")).await;
            (inst["phase"] == "running").then_some(inst)
        })
        .await;
        (
            client["slug"].as_str().unwrap().to_owned(),
            id,
            inst["container_id"].as_str().unwrap().to_owned(),
        )
    }

    async fn backup(&self, instance: i64) -> Value {
        let (status, body) = self
            .post(&format!("/api/v1/instances/{instance}/backups"), json!({}))
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let id = body["id"].as_i64().unwrap();
        eventually(&format!("backup {id} finishes"), UP, || async move {
            let b = self.get(&format!("/api/v1/backups/{id}")).await;
            matches!(b["status"].as_str(), Some("ok" | "failed")).then_some(b)
        })
        .await
    }

    async fn restore(&self, backup: &Value, body: Value) -> Value {
        let (status, job) = self
            .post(&format!("/api/v1/backups/{}/restore", backup["id"]), body)
            .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{job}");
        let id = job["id"].as_i64().unwrap();
        eventually(
            &format!("restore {id} finishes"),
            Duration::from_secs(150),
            || async move {
                let r = self.get(&format!("/api/v1/restores/{id}")).await;
                matches!(r["status"].as_str(), Some("ok" | "failed")).then_some(r)
            },
        )
        .await
    }
}

/// Runs a shell script as root in a container of the tenant's image with
/// the tenant's data dir at /www, like the tenant app writing its files. A
/// sibling container and not `docker exec`: the instance's own container
/// may run with its capabilities dropped, and root there could not chown.
/// Unlabelled: berth removes a container with its owner label it did not
/// make; `--rm` cleans up.
fn tenant_sh(d: &Daemon, data: &Path, script: &str) {
    let out = std::process::Command::new("docker")
        .args(["run", "--rm", "--network", "none"])
        .arg(format!("--volume={}:/www", data.display()))
        .args([d.image.as_str(), "/bin/sh", "-c", script])
        .output()
        .expect("docker run");
    assert!(
        out.status.success(),
        "tenant script failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// What a restore must bring back for one entry.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    kind: &'static str,
    uid: u32,
    gid: u32,
    mode: u32,
    mtime: i64,
    /// File content or link target.
    content: Vec<u8>,
    xattr: Option<Vec<u8>>,
}

/// Every entry under `root` (and root itself as ""), never following links.
fn snapshot(root: &Path) -> BTreeMap<String, Entry> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(path) = stack.pop() {
        let meta = std::fs::symlink_metadata(&path).unwrap();
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        let (kind, content) = if meta.is_dir() {
            for e in std::fs::read_dir(&path).unwrap() {
                stack.push(e.unwrap().path());
            }
            ("dir", Vec::new())
        } else if meta.file_type().is_symlink() {
            let target = std::fs::read_link(&path).unwrap();
            ("link", target.into_os_string().into_encoded_bytes())
        } else {
            ("file", std::fs::read(&path).unwrap())
        };
        let xattr = if kind == "link" {
            None
        } else {
            let mut buf = [0u8; 64];
            rustix::fs::getxattr(&path, "user.origin", &mut buf[..])
                .ok()
                .map(|n| buf[..n].to_vec())
        };
        out.insert(
            rel,
            Entry {
                kind,
                uid: meta.uid(),
                gid: meta.gid(),
                mode: meta.mode() & 0o7777,
                mtime: meta.mtime(),
                content,
                xattr,
            },
        );
    }
    out
}

/// The tenant's files: a root-only database dir, an upload of uid 1000, a
/// setuid program, a sticky tmp dir holding another uid's file, and links
/// pointing out of the data dir at a host directory.
fn write_tenant_files(d: &Daemon, data: &Path, host_outside: &Path) {
    tenant_sh(
        d,
        data,
        &format!(
            "set -e; cd /www
             mkdir db && echo rows > db/app.db && chmod 0600 db/app.db && chmod 0700 db
             echo jpeg > upload.jpg && chown 1000:1000 upload.jpg && chmod 0640 upload.jpg
             echo '#!/bin/sh' > tool && chmod 4755 tool
             echo x > sgid && chmod 2755 sgid
             mkdir tmp && chmod 1777 tmp && echo t > tmp/theirs && chown 1000:1000 tmp/theirs
             ln -s {outside} outside-dir && ln -s {outside}/keep outside-file",
            outside = host_outside.display()
        ),
    );
}

/// Sets a user.* xattr from the host where the file system has them.
fn set_xattr(path: &Path) -> bool {
    rustix::fs::setxattr(
        path,
        "user.origin",
        b"tenant",
        rustix::fs::XattrFlags::empty(),
    )
    .is_ok()
}

/// What a restore of `before` must look like: the same, without set-id bits.
fn without_setid(before: &BTreeMap<String, Entry>) -> BTreeMap<String, Entry> {
    before
        .iter()
        .map(|(k, e)| {
            let mut e = e.clone();
            e.mode &= !0o6000;
            (k.clone(), e)
        })
        .collect()
}

fn assert_same(what: &str, want: &BTreeMap<String, Entry>, got: &BTreeMap<String, Entry>) {
    for (path, w) in want {
        assert_eq!(got.get(path), Some(w), "{what}: {path:?}");
    }
    let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
    assert!(extra.is_empty(), "{what}: unexpected {extra:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_verify_restore_clone_and_delete_work_as_the_service_user() {
    if skip_docker() {
        return;
    }
    let caps = ServiceUser::unit_caps("berth.service");
    let mut d = Daemon::start(caps).await;
    let (slug, id, _) = d.client("Service User").await;
    let outside = d.dir.path().join("outside");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::write(outside.join("keep"), "host file").unwrap();
    let data = d.config.instance_data_dir(&slug, "main");
    write_tenant_files(&d, &data, &outside);
    let xattrs = set_xattr(&data.join("db/app.db")) && set_xattr(&data.join("upload.jpg"));
    let before = snapshot(&data);
    assert_eq!(before["db"].uid, 0, "the tenant wrote as root");
    assert_eq!(before["db/app.db"].mode, 0o600);
    assert_eq!(before["tool"].mode, 0o4755);
    assert_eq!(before["upload.jpg"].uid, 1000);
    assert_eq!(before["db/app.db"].xattr.is_some(), xattrs);

    let b = d.backup(id).await;
    assert_eq!(b["status"], "ok", "{b}");
    let (status, v) = d
        .post(&format!("/api/v1/backups/{}/verify", b["id"]), json!({}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{v}");
    let bid = b["id"].as_i64().unwrap();
    let v = eventually("the backup is verified", UP, || async {
        let v = d.get(&format!("/api/v1/backups/{bid}")).await;
        matches!(v["verify_state"].as_str(), Some("ok" | "failed")).then_some(v)
    })
    .await;
    assert_eq!(v["verify_state"], "ok", "{v}");

    // Changed after the backup: the restore must bring the old state back.
    tenant_sh(
        &d,
        &data,
        "set -e; cd /www; echo changed > db/app.db; echo new > after-backup; rm upload.jpg",
    );
    let done = d.restore(&b, json!({})).await;
    assert_eq!(done["status"], "ok", "{done}");
    let want = without_setid(&before);
    assert_same("in-place restore", &want, &snapshot(&data));
    assert_eq!(
        std::fs::read_to_string(outside.join("keep")).unwrap(),
        "host file"
    );

    let done = d.restore(&b, json!({ "into": "copy" })).await;
    assert_eq!(done["status"], "ok", "{done}");
    let copy = d.config.instance_data_dir(&slug, "copy");
    assert_same("clone", &want, &snapshot(&copy));

    // The timer's one-shot unit holds less (read only): its backup works too.
    // The daemon is stopped so that the CLI, not the daemon, runs the job.
    d.process.take();
    let backup_user =
        ServiceUser::new(SERVICE_UID, &ServiceUser::unit_caps("berth-backup.service"));
    let (code, out, err) = berth_cli_as(
        &backup_user,
        &d.bin,
        &d.config,
        &["backup", "run", "--instance", &id.to_string()],
    );
    assert_eq!(code, 0, "{out}{err}");
    d.run().await;

    let api = format!("http://{}", d.config.listen);
    let report = delete_and_follow(
        &d.http,
        &api,
        &d.token,
        &format!("/api/v1/clients/{slug}"),
        json!({ "confirm": slug }),
    )
    .await;
    assert_eq!(report["client_deleted"], true, "{report}");
    let backups = d.config.backup_dir().join(&slug);
    for dir in [
        &data,
        &copy,
        &d.config.instances_dir().join(&slug),
        &backups,
    ] {
        assert!(
            std::fs::symlink_metadata(dir).is_err(),
            "{} is still there",
            dir.display()
        );
    }
    assert_eq!(
        std::fs::read_to_string(outside.join("keep")).unwrap(),
        "host file",
        "delete followed a tenant's link"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_capabilities_a_failed_backup_names_the_file() {
    if skip_docker() {
        return;
    }
    let d = Daemon::start(Vec::new()).await;
    let (slug, id, _) = d.client("No Caps").await;
    let data = d.config.instance_data_dir(&slug, "main");
    tenant_sh(
        &d,
        &data,
        "set -e; mkdir /www/private && echo s > /www/private/key && chmod 0600 /www/private/key && chmod 0700 /www/private",
    );
    let b = d.backup(id).await;
    assert_eq!(b["status"], "failed", "{b}");
    let private = data.join("private");
    let message = b["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("{}: Permission denied", private.display())),
        "{b}"
    );
}
