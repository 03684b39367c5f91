//! A real image registry on loopback: Debian's `docker-registry`
//! (distribution 2.x), optionally behind htpasswd basic auth, and the
//! pushes a test makes to it. The engine trusts 127.0.0.0/8 registries
//! over plain HTTP, so no TLS is needed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::{free_port, try_http_get, wait_until};

/// The bcrypt hash (cost 5) of [`PASSWORD`] for user [`USER`]: the registry
/// only reads bcrypt, and a fixed hash needs no `htpasswd` tool on the host.
const HTPASSWD: &str = "berth:$2b$05$MpMeeXi.vqx8dyq/IndzqunD6v9.xvH3RTqW9Kj9ndtWlmuGNzGVy";
pub const USER: &str = "berth";
pub const PASSWORD: &str = "registry-pass-1";

pub struct Registry {
    child: Child,
    /// `127.0.0.1:PORT`, as image references start.
    pub addr: String,
    pub auth: bool,
    dir: tempfile::TempDir,
}

impl Registry {
    pub fn start() -> Registry {
        Self::spawn(false)
    }

    /// Asks for [`USER`]/[`PASSWORD`] on every request.
    pub fn start_with_auth() -> Registry {
        Self::spawn(true)
    }

    fn spawn(auth: bool) -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let addr = format!("127.0.0.1:{}", free_port());
        let mut config = format!(
            "version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
            dir.path().join("data").display()
        );
        if auth {
            let file = dir.path().join("htpasswd");
            std::fs::write(&file, format!("{HTPASSWD}\n")).unwrap();
            config.push_str(&format!(
                "auth:\n  htpasswd:\n    realm: berth-test\n    path: {}\n",
                file.display()
            ));
        }
        let config_file = dir.path().join("config.yml");
        std::fs::write(&config_file, config).unwrap();
        let child = Command::new("docker-registry")
            .args(["serve", config_file.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry from Debian's package (installed by .ci/run)");
        let wanted = if auth { 401 } else { 200 };
        wait_until(
            "registry up",
            Duration::from_secs(30),
            || matches!(try_http_get(&addr, "localhost", "/v2/"), Ok((s, _)) if s == wanted),
        );
        Registry {
            child,
            addr,
            auth,
            dir,
        }
    }

    /// A docker CLI config dir of this registry's own, so `docker login`
    /// never writes to the host user's `~/.docker`.
    fn docker_config(&self) -> PathBuf {
        self.dir.path().join("docker-cli")
    }

    /// Imports the host's busybox as `image` with Dockerfile `changes` (e.g.
    /// `ENV V=2`: images that differ only there get their own IDs), pushes
    /// it and removes the local copy, so berth has to pull it. Returns the
    /// image's ID.
    pub fn push_busybox(&self, image: &str, changes: &[&str]) -> String {
        let rootfs = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(
            rootfs.path(),
            berth::docker::busybox_rootfs(Path::new("/bin/busybox")).unwrap(),
        )
        .unwrap();
        let mut args = vec!["import"];
        for change in changes {
            args.extend(["-c", change]);
        }
        args.extend([rootfs.path().to_str().unwrap(), image]);
        run_docker(None, &args, None);
        if self.auth {
            run_docker(
                Some(&self.docker_config()),
                &["login", "-u", USER, "--password-stdin", &self.addr],
                Some(PASSWORD),
            );
        }
        let id = run_docker(None, &["image", "inspect", "-f", "{{.Id}}", image], None);
        run_docker(Some(&self.docker_config()), &["push", image], None);
        run_docker(None, &["rmi", image], None);
        id
    }
}

fn run_docker(config: Option<&Path>, args: &[&str], stdin: Option<&str>) -> String {
    use std::io::Write;
    let mut cmd = Command::new("docker");
    if let Some(dir) = config {
        cmd.arg("--config").arg(dir);
    }
    let mut child = cmd
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
