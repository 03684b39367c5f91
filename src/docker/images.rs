//! Images: presence check, registry pull, and "docker import" of a local
//! rootfs so berth can run with no registry at all.

use std::time::{Duration, Instant};

use bollard::auth::DockerCredentials;
use bollard::query_parameters::CreateImageOptionsBuilder;
use futures_util::StreamExt;

use super::client::status_code;
use super::{Docker, DockerError};

/// A pull that produces no progress for this long is treated as dead: an
/// unreachable or stalled registry must never hang the reconciler.
const PULL_IDLE_TIMEOUT: Duration = Duration::from_secs(60);
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

impl Docker {
    pub async fn image_present(&self, image: &str) -> Result<bool, DockerError> {
        match self.inner.inspect_image(image).await {
            Ok(_) => Ok(true),
            Err(e) if status_code(&e) == Some(404) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The engine's ID ("sha256:…") of `image` (a reference or an ID), if present.
    pub async fn image_id(&self, image: &str) -> Result<Option<String>, DockerError> {
        Ok(self.image_identity(image).await?.map(|i| i.id))
    }

    /// Removes an image by ID, unforced; `Ok(false)` when it is gone
    /// already or the engine refuses (409: a container, even a stopped one,
    /// still uses it, or several repositories name it).
    pub async fn remove_image(&self, id: &str) -> Result<bool, DockerError> {
        let opts = bollard::query_parameters::RemoveImageOptionsBuilder::new()
            .force(false)
            .build();
        match self.inner.remove_image(id, Some(opts), None).await {
            Ok(_) => Ok(true),
            Err(e) if matches!(status_code(&e), Some(404 | 409)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The engine's ID of the local image `image` and its repository digest
    /// (`repo@sha256:…`) for the same repository, if it came from a registry.
    /// `Ok(None)`: no such image here.
    pub async fn image_identity(&self, image: &str) -> Result<Option<ImageIdentity>, DockerError> {
        let inspect = match self.inner.inspect_image(image).await {
            Ok(i) => i,
            Err(e) if status_code(&e) == Some(404) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let Some(id) = inspect.id else {
            return Ok(None);
        };
        let digests = inspect.repo_digests.unwrap_or_default();
        Ok(Some(ImageIdentity {
            id,
            digest: pick_digest(image, &digests),
        }))
    }

    /// Pulls `image`, reporting short human lines to `progress` a few times a
    /// second at most.
    pub async fn pull(
        &self,
        image: &str,
        mut progress: impl FnMut(String) + Send,
    ) -> Result<(), DockerError> {
        let fail = |message: String| DockerError::Pull {
            image: image.to_string(),
            message,
        };
        let (repo, tag) = split_image_ref(image);
        let mut opts = CreateImageOptionsBuilder::new().from_image(repo);
        if let Some(tag) = tag {
            opts = opts.tag(tag);
        }
        // Docker Hub's login is keyed by its index URL, as `docker login` does.
        let credentials = self.login_for(image).map(|l| DockerCredentials {
            username: Some(l.username.clone()),
            password: Some(l.password.clone()),
            serveraddress: Some(if l.host == "docker.io" {
                "https://index.docker.io/v1/".to_owned()
            } else {
                l.host.clone()
            }),
            ..Default::default()
        });
        let mut stream = self
            .inner
            .create_image(Some(opts.build()), None, credentials);
        let mut last_report: Option<Instant> = None;
        let mut layers = PullProgress::default();
        loop {
            let item = match tokio::time::timeout(PULL_IDLE_TIMEOUT, stream.next()).await {
                Err(_) => {
                    return Err(fail(format!(
                        "no progress for {} s",
                        PULL_IDLE_TIMEOUT.as_secs()
                    )))
                }
                Ok(None) => return Ok(()),
                Ok(Some(item)) => item.map_err(|e| fail(engine_message(&e)))?,
            };
            layers.update(&item);
            if last_report.is_none_or(|t| t.elapsed() >= PROGRESS_EVERY) {
                if let Some(line) = layers.line().or_else(|| progress_line(&item)) {
                    progress(line);
                    last_report = Some(Instant::now());
                }
            }
        }
    }

    /// "docker import": turns a rootfs tar into image `name:tag` (tag
    /// defaults to "latest"). `changes` are Dockerfile instructions such as
    /// `CMD ["httpd","-f"]`.
    pub async fn import_rootfs(
        &self,
        rootfs_tar: Vec<u8>,
        image: &str,
        changes: &[&str],
    ) -> Result<(), DockerError> {
        let (repo, tag) = split_image_ref(image);
        let opts = CreateImageOptionsBuilder::new()
            .from_src("-")
            .repo(repo)
            .tag(tag.unwrap_or("latest"))
            .changes(changes.iter().map(|c| c.to_string()).collect())
            .build();
        let mut stream = self.inner.create_image(
            Some(opts),
            Some(bollard::body_full(rootfs_tar.into())),
            None,
        );
        while let Some(item) = stream.next().await {
            item.map_err(|e| DockerError::Import {
                image: image.to_string(),
                message: engine_message(&e),
            })?;
        }
        Ok(())
    }
}

/// What identifies an image: the engine's ID (`sha256:…` of its config)
/// and, when it was pulled, the registry's digest of its manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageIdentity {
    pub id: String,
    pub digest: Option<String>,
}

/// The repo digest of `image`'s own repository among an image's
/// RepoDigests (an image pushed to two registries has two); else the first.
fn pick_digest(image: &str, digests: &[String]) -> Option<String> {
    let (repo, _) = split_image_ref(image);
    let repo = repo.split('@').next().unwrap_or(repo);
    digests
        .iter()
        .find(|d| d.split('@').next() == Some(repo))
        .or(digests.first())
        .cloned()
}

/// Splits "registry:5000/name:tag" into ("registry:5000/name", Some("tag")).
/// Digest references are passed whole: the engine parses them itself.
pub(super) fn split_image_ref(image: &str) -> (&str, Option<&str>) {
    if image.contains('@') {
        return (image, None);
    }
    let name_start = image.rfind('/').map_or(0, |i| i + 1);
    match image[name_start..].rfind(':') {
        Some(i) => (&image[..name_start + i], Some(&image[name_start + i + 1..])),
        None => (image, None),
    }
}

/// Bytes and layers of a pull so far, from the engine's per-layer
/// messages: one line for the whole image rather than the last layer's.
#[derive(Default)]
struct PullProgress {
    /// Layer id → (bytes downloaded, bytes in all, finished).
    layers: std::collections::BTreeMap<String, (i64, i64, bool)>,
}

impl PullProgress {
    fn update(&mut self, info: &bollard::models::CreateImageInfo) {
        let (Some(id), Some(status)) = (info.id.as_deref(), info.status.as_deref()) else {
            return;
        };
        // The first line names the tag ("Pulling from x"), not a layer.
        if status.starts_with("Pulling from") {
            return;
        }
        let entry = self.layers.entry(id.to_owned()).or_insert((0, 0, false));
        match status {
            "Downloading" => {
                if let Some(d) = &info.progress_detail {
                    entry.0 = d.current.unwrap_or(entry.0);
                    entry.1 = d.total.unwrap_or(entry.1);
                }
            }
            "Download complete" | "Verifying Checksum" => entry.0 = entry.1.max(entry.0),
            "Pull complete" | "Already exists" => {
                entry.0 = entry.1.max(entry.0);
                entry.2 = true;
            }
            _ => {}
        }
    }

    /// "2/5 layers, 12.3 MiB / 80.0 MiB"; `None` before any layer is known.
    fn line(&self) -> Option<String> {
        if self.layers.is_empty() {
            return None;
        }
        let done = self.layers.values().filter(|l| l.2).count();
        let (got, all) = self
            .layers
            .values()
            .fold((0, 0), |(g, a), l| (g + l.0, a + l.1));
        Some(format!(
            "{done}/{} layers, {} / {}",
            self.layers.len(),
            mib(got),
            mib(all)
        ))
    }
}

fn progress_line(info: &bollard::models::CreateImageInfo) -> Option<String> {
    let status = info.status.as_deref()?;
    let detail = info.progress_detail.as_ref();
    match detail.and_then(|d| Some((d.current?, d.total?))) {
        Some((current, total)) if total > 0 => Some(format!(
            "{} {} / {}",
            status.to_lowercase(),
            mib(current),
            mib(total)
        )),
        _ => Some(match info.id.as_deref() {
            Some(id) => format!("{status} {id}"),
            None => status.to_string(),
        }),
    }
}

fn mib(bytes: i64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The engine's own words, on one line, without bollard's status-code prefix.
fn engine_message(e: &bollard::errors::Error) -> String {
    let text = match e {
        bollard::errors::Error::DockerResponseServerError { message, .. } => message.clone(),
        bollard::errors::Error::DockerStreamError { error } => error.clone(),
        other => other.to_string(),
    };
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_refs_split_at_the_tag_not_the_registry_port() {
        assert_eq!(split_image_ref("busybox"), ("busybox", None));
        assert_eq!(split_image_ref("busybox:1.36"), ("busybox", Some("1.36")));
        assert_eq!(
            split_image_ref("127.0.0.1:1/nope:latest"),
            ("127.0.0.1:1/nope", Some("latest"))
        );
        assert_eq!(
            split_image_ref("registry:5000/team/app"),
            ("registry:5000/team/app", None)
        );
        assert_eq!(
            split_image_ref("ghcr.io/x/y@sha256:abcd"),
            ("ghcr.io/x/y@sha256:abcd", None)
        );
    }

    #[test]
    fn the_digest_of_the_images_own_repository_is_picked() {
        let d = vec![
            "mirror:5000/app@sha256:aa".to_owned(),
            "127.0.0.1:5000/app@sha256:bb".to_owned(),
        ];
        assert_eq!(
            pick_digest("127.0.0.1:5000/app:v2", &d).as_deref(),
            Some("127.0.0.1:5000/app@sha256:bb")
        );
        assert_eq!(
            pick_digest("other/x:1", &d).as_deref(),
            Some("mirror:5000/app@sha256:aa")
        );
        assert_eq!(pick_digest("x", &[]), None);
    }

    #[test]
    fn progress_lines_are_short() {
        let info = bollard::models::CreateImageInfo {
            status: Some("Downloading".into()),
            progress_detail: Some(bollard::models::ProgressDetail {
                current: Some(12_897_484),
                total: Some(80 << 20),
            }),
            ..Default::default()
        };
        assert_eq!(
            progress_line(&info).unwrap(),
            "downloading 12.3 MiB / 80.0 MiB"
        );
    }

    #[test]
    fn a_pull_reports_layers_and_bytes_of_the_whole_image() {
        let msg =
            |id: &str, status: &str, cur: Option<(i64, i64)>| bollard::models::CreateImageInfo {
                id: Some(id.into()),
                status: Some(status.into()),
                progress_detail: cur.map(|(c, t)| bollard::models::ProgressDetail {
                    current: Some(c),
                    total: Some(t),
                }),
                ..Default::default()
            };
        let mut p = PullProgress::default();
        p.update(&msg("1", "Pulling from team/app", None));
        assert_eq!(p.line(), None);
        p.update(&msg("a", "Pulling fs layer", None));
        p.update(&msg("b", "Already exists", None));
        p.update(&msg("c", "Downloading", Some((1 << 20, 4 << 20))));
        p.update(&msg("a", "Downloading", Some((1 << 20, 2 << 20))));
        assert_eq!(p.line().unwrap(), "1/3 layers, 2.0 MiB / 6.0 MiB");
        p.update(&msg("a", "Download complete", None));
        p.update(&msg("a", "Pull complete", None));
        assert_eq!(p.line().unwrap(), "2/3 layers, 3.0 MiB / 6.0 MiB");
    }
}
