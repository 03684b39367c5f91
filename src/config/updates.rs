//! The `[updates]` section: how rollouts wait and clean up.

use std::time::Duration;

use serde::Deserialize;

use super::duration as humantime_serde_lite;

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpdatesConfig {
    /// How long an updated (or rolled back) instance may take to become
    /// healthy before the update counts as failed and is rolled back.
    #[serde(with = "humantime_serde_lite")]
    pub health_timeout: Duration,
    /// After a rollout, remove images no instance runs or wants and that are
    /// no instance's rollback point.
    pub remove_old_images: bool,
}

impl Default for UpdatesConfig {
    fn default() -> Self {
        Self {
            health_timeout: Duration::from_secs(5 * 60),
            remove_old_images: true,
        }
    }
}
