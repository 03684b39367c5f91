//! Engine events, used only to wake the reconciler early; the reconciler's
//! timer still catches anything missed while the stream was down.

use std::collections::HashMap;

use bollard::query_parameters::EventsOptionsBuilder;
use futures_util::{Stream, StreamExt};

use super::{labels, Docker, DockerError};

// Health checks run as execs: without this allow-list every check of every
// container would wake the reconciler. health_status matches
// "health_status: healthy" etc. (the engine fuzzy-matches that one).
const WAKE_ON: &[&str] = &[
    "create",
    "start",
    "restart",
    "die",
    "kill",
    "oom",
    "stop",
    "pause",
    "unpause",
    "destroy",
    "rename",
    "update",
    "health_status",
];

impl Docker {
    /// Yields `()` for each lifecycle event of a container labelled
    /// MANAGED=<owner>. Ends (or errors) when the engine connection drops;
    /// the caller resubscribes.
    pub fn events(&self) -> impl Stream<Item = Result<(), DockerError>> + Send + 'static {
        let filters = HashMap::from([
            ("type", vec!["container".to_string()]),
            ("label", vec![labels::managed_filter(&self.owner)]),
            ("event", WAKE_ON.iter().map(|s| s.to_string()).collect()),
        ]);
        let opts = EventsOptionsBuilder::new().filters(&filters).build();
        self.inner
            .events(Some(opts))
            .map(|item| item.map(|_| ()).map_err(DockerError::from))
    }
}
