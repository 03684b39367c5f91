//! A real image registry on loopback (Debian's `docker-registry`), and
//! images pushed to it from the host's busybox: what pull, update-check and
//! rollout tests run against.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{free_port, try_http_get, wait_until};

pub struct Registry {
    child: Child,
    /// "127.0.0.1:PORT": the prefix of image references in this registry.
    pub addr: String,
    _dir: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n", dir.path().join("data").display()),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .args(["serve", config.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry from Debian's package (installed by .ci/run)");
        wait_until("registry up", Duration::from_secs(30), || {
            matches!(try_http_get(&addr, "localhost", "/v2/"), Ok((200, _)))
        });
        Registry {
            child,
            addr,
            _dir: dir,
        }
    }

    /// Imports the host's busybox as `image` (a reference in this registry)
    /// with Dockerfile `changes` (e.g. `ENV VERSION=v2`: images that differ
    /// only there get their own IDs), pushes it and removes the local copy,
    /// so berth has to pull it. Returns the image's ID.
    pub fn push_busybox(&self, image: &str, changes: &[&str]) -> String {
        let rootfs = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            rootfs.path(),
            berth::docker::busybox_rootfs(std::path::Path::new("/bin/busybox")).unwrap(),
        )
        .unwrap();
        let mut args = vec!["import".to_owned()];
        for c in changes {
            args.push("--change".into());
            args.push((*c).to_owned());
        }
        args.push(rootfs.path().to_str().unwrap().to_owned());
        args.push(image.to_owned());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        docker(&args);
        let id = docker(&["image", "inspect", "-f", "{{.Id}}", image]);
        docker(&["push", image]);
        docker(&["rmi", image]);
        id.trim().to_owned()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}
