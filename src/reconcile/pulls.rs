//! Image pulls in the background: a pull can take minutes and must not hold
//! up a pass, so a pass starts one, reports its progress as the instance's
//! phase, and the pull wakes the reconciler when it ends. A failed pull is
//! retried after [`PULL_RETRY`], not on every pass.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::docker::Docker;

/// A failed pull is retried after this long, not on every pass.
const PULL_RETRY: Duration = Duration::from_secs(30);

enum PullState {
    Running(String),
    Failed { message: String, at: Instant },
}

/// The pulls running or recently failed, by image; cheap to clone.
#[derive(Clone, Default)]
pub struct Pulls(Arc<Mutex<HashMap<String, PullState>>>);

impl Pulls {
    /// `Ok(Some(progress))` while `image` is being pulled, starting the pull
    /// if none runs; `Err` while its last pull failed less than
    /// [`PULL_RETRY`] ago. `wake` hears when a pull ends.
    pub fn ensure(
        &self,
        docker: &Docker,
        wake: &Arc<Notify>,
        image: &str,
        timeout: Duration,
    ) -> Result<Option<String>, String> {
        let mut pulls = self.lock();
        match pulls.get(image) {
            Some(PullState::Running(progress)) => return Ok(Some(progress.clone())),
            Some(PullState::Failed { message, at }) if at.elapsed() < PULL_RETRY => {
                return Err(message.clone())
            }
            _ => {}
        }
        pulls.insert(image.to_owned(), PullState::Running("pull starting".into()));
        let (me, docker, wake, image) =
            (self.clone(), docker.clone(), wake.clone(), image.to_owned());
        tokio::spawn(async move {
            let progress = me.clone();
            let key = image.clone();
            let pull = docker.pull(&image, move |line| {
                progress
                    .lock()
                    .insert(key.clone(), PullState::Running(line));
            });
            let result = match tokio::time::timeout(timeout, pull).await {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(_) => Err(format!(
                    "pulling {image} timed out after {} s (docker.pull_timeout)",
                    timeout.as_secs()
                )),
            };
            let mut pulls = me.lock();
            match result {
                Ok(()) => {
                    pulls.remove(&image);
                    tracing::info!(%image, "image pulled");
                }
                Err(e) => {
                    tracing::warn!(%image, error = %e, "pull failed");
                    pulls.insert(
                        image,
                        PullState::Failed {
                            message: e.clone(),
                            at: Instant::now(),
                        },
                    );
                }
            }
            drop(pulls);
            wake.notify_one();
        });
        Ok(Some("pull starting".into()))
    }

    /// A std mutex: it is held only to read or write the map, never across
    /// an `.await`.
    fn lock(&self) -> MutexGuard<'_, HashMap<String, PullState>> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}
