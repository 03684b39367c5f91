//! Storage quotas: a plan's `storage` limits each instance's data
//! directory (like its CPU and memory limits). Going over does not stop
//! anything: the client gets a warning (shown by the API and pages) and,
//! once per crossing, an optional webhook. OOM kills and memory-limit hits
//! are counted in every sample.

use std::collections::HashMap;

use serde_json::json;

use crate::store::usage::QuotaWarning;
use crate::store::InstanceRow;

/// OOM kills within 24 h from which an instance is flagged on the dashboard.
pub const FREQUENT_OOM_PER_DAY: u64 = 3;

/// (instance id, bytes used, quota) of every instance over its quota.
pub fn over_quota(instances: &[InstanceRow], disk: &HashMap<i64, u64>) -> Vec<(i64, u64, u64)> {
    over(
        instances
            .iter()
            .filter(|i| i.desired.is_live())
            .map(|i| (i.id, i.storage)),
        disk,
    )
}

fn over(
    quotas: impl Iterator<Item = (i64, Option<u64>)>,
    disk: &HashMap<i64, u64>,
) -> Vec<(i64, u64, u64)> {
    quotas
        .filter_map(|(id, quota)| {
            let quota = quota?;
            let used = *disk.get(&id)?;
            (used > quota).then_some((id, used, quota))
        })
        .collect()
}

/// POSTs one JSON body per new warning; failures are logged, never retried
/// (the warning itself stays visible until the usage drops).
pub async fn notify(http: &reqwest::Client, url: &str, started: &[QuotaWarning]) {
    for w in started {
        let body = json!({
            "event": "storage_over_quota",
            "client": w.client_slug,
            "instance": w.instance,
            "instance_id": w.instance_id,
            "used_bytes": w.used,
            "quota_bytes": w.quota,
            "since": w.since,
        });
        match http.post(url).json(&body).send().await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => {
                tracing::warn!(status = %r.status(), client = %w.client_slug, "quota webhook refused")
            }
            Err(e) => tracing::warn!(error = %e, client = %w.client_slug, "quota webhook failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_instances_with_a_quota_and_a_walk_can_be_over() {
        let rows = [(1, Some(100)), (2, Some(100)), (3, None), (4, Some(10))];
        let disk = HashMap::from([(1, 150), (2, 100), (3, 1 << 40)]);
        assert_eq!(over(rows.into_iter(), &disk), vec![(1, 150, 100)]);
    }
}
