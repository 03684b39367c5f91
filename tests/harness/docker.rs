use std::process::{Command, Stdio};
use std::sync::Mutex;

/// The old local opt-outs. They made skipped tests read as passed, so they
/// are gone: a Docker or Caddy test always runs, and a missing engine fails.
const RETIRED_SKIP_VARS: [&str; 2] = ["BERTH_SKIP_DOCKER_TESTS", "BERTH_SKIP_CADDY_TESTS"];

/// Panics when a retired opt-out variable is set, so whoever set it learns
/// at once that it no longer skips anything (instead of a green run that
/// did not test what they think).
pub fn refuse_skip_vars() {
    for var in RETIRED_SKIP_VARS {
        if std::env::var_os(var).is_some() {
            panic!(
                "{var} is set, but Docker/Caddy tests are never skipped any more: \
                 unset it (a test that cannot reach Docker or Caddy fails)"
            );
        }
    }
}

/// Always false: kept only so tests written against the retired opt-out
/// still compile. Panics when an opt-out variable is set (see
/// [`refuse_skip_vars`]); new tests do not call it.
pub fn skip_docker() -> bool {
    refuse_skip_vars();
    false
}

/// Runs `docker <args>` and returns its trimmed stdout. Panics with docker's
/// stderr when it fails, so a broken engine never reads as "nothing there".
pub fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run docker {args:?}: {e}"));
    assert!(
        out.status.success(),
        "docker {args:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Proves that no Docker object of `kind` ("container", "network", "volume",
/// "image", or "object" for any kind) is called `name`: `docker inspect`
/// must fail with the engine's not-found answer. Any other outcome (the
/// object exists, the engine is down, a bad argument) panics.
pub fn assert_absent(kind: &str, name: &str) {
    let mut args = vec!["inspect"];
    if kind != "object" {
        args.extend(["--type", kind]);
    }
    args.push(name);
    let out = Command::new("docker")
        .args(&args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run docker {args:?}: {e}"));
    let stderr = String::from_utf8_lossy(&out.stderr).to_lowercase();
    assert!(
        !out.status.success(),
        "{kind} {name} still exists: {}",
        String::from_utf8_lossy(&out.stdout).trim()
    );
    // The engine words "not found" differently per kind.
    let lname = name.to_lowercase();
    let not_found = match kind {
        "network" => stderr.contains(&format!("network {lname} not found")),
        "object" => stderr.contains(&format!("no such object: {lname}")),
        other => stderr.contains(&format!("no such {other}")),
    };
    assert!(
        not_found,
        "docker {args:?} failed, but not with \"no such {kind}\": {}",
        stderr.trim()
    );
}

/// Removes, on drop, everything a test created in the Docker engine: the
/// containers, networks and volumes labelled `berth.managed=<owner>`, and the
/// images registered with [`DockerGuard::track_image`]. Give berth the same
/// owner value so its objects carry the label. Create the guard before the
/// objects so it drops after everything that uses them.
pub struct DockerGuard {
    owner: String,
    images: Mutex<Vec<String>>,
}

impl DockerGuard {
    pub fn new(label_owner: &str) -> DockerGuard {
        refuse_skip_vars();
        DockerGuard {
            owner: label_owner.to_owned(),
            images: Mutex::new(Vec::new()),
        }
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The `--filter` value selecting this guard's objects.
    pub fn label_filter(&self) -> String {
        format!("label=berth.managed={}", self.owner)
    }

    /// Remove this image (name or id) on drop, after the containers using it.
    pub fn track_image(&self, name: &str) {
        self.images
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(name.to_owned());
    }

    /// Runs the clean-up now; drop calls it again, which is harmless.
    /// A daemon stopped a moment ago may have requests still in flight in
    /// the engine (a create it sent before it stopped), so the sweep repeats
    /// until one finds nothing left.
    pub fn cleanup(&self) {
        let filter = self.label_filter();
        for _ in 0..10 {
            // Containers first: networks and volumes in use cannot go.
            let containers = docker_lines(&["ps", "-aq", "--filter", &filter]);
            docker_quiet("rm", &["-f", "-v"], &containers);
            let networks = docker_lines(&["network", "ls", "-q", "--filter", &filter]);
            docker_quiet("network", &["rm"], &networks);
            let volumes = docker_lines(&["volume", "ls", "-q", "--filter", &filter]);
            docker_quiet("volume", &["rm", "-f"], &volumes);
            if containers.is_empty() && networks.is_empty() && volumes.is_empty() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
        let images = self
            .images
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        let present: Vec<String> = images
            .into_iter()
            .filter(|i| !docker_lines(&["images", "-q", i]).is_empty())
            .collect();
        docker_quiet("rmi", &["-f"], &present);
    }
}

impl Drop for DockerGuard {
    fn drop(&mut self) {
        self.cleanup();
    }
}

/// Output lines of a docker command; empty when docker is missing or fails,
/// since clean-up runs in drop, possibly while a test is already panicking.
fn docker_lines(args: &[&str]) -> Vec<String> {
    match Command::new("docker")
        .args(args)
        .stderr(Stdio::inherit())
        .output()
    {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn docker_quiet(cmd: &str, flags: &[&str], targets: &[String]) {
    if targets.is_empty() {
        return;
    }
    let result = Command::new("docker")
        .arg(cmd)
        .args(flags)
        .args(targets)
        .stdout(Stdio::null())
        .status();
    match result {
        Ok(s) if s.success() => {}
        other => eprintln!("DockerGuard: docker {cmd} {flags:?} {targets:?}: {other:?}"),
    }
}
