use std::process::{Command, Stdio};
use std::sync::Mutex;

/// True only when `BERTH_SKIP_DOCKER_TESTS=1`: a deliberate local opt-out.
/// CI never sets it, and a missing engine is a failure, not a reason to skip.
pub fn skip_docker() -> bool {
    std::env::var("BERTH_SKIP_DOCKER_TESTS").as_deref() == Ok("1")
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
