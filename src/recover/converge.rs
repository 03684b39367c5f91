//! Step 3: berth's normal start-up, in this process (`App`, as `serve`
//! runs it: reconciler, Caddy routes, workers), until every live instance
//! is where its desired state says or the deadline passes; then a clean
//! stop. The containers keep running; `berth serve` takes over from here.

use std::collections::BTreeMap;
use std::time::Duration;

use super::Say;
use crate::config::Config;
use crate::domain::{ClientStatus, DesiredState, Phase};
use crate::store::{instances, InstanceRow};

/// Where an instance ended up, as the report shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Health {
    /// Running, its health check passing.
    Healthy,
    /// Stopped, as its desired state (or its suspended client) says.
    Stopped,
    /// Not there by the deadline: starting, unhealthy, failed.
    Unhealthy,
    /// Its data did not come back; kept stopped.
    NotRestored,
}

/// Whether `row` is where it should be, and what that is.
pub fn health(row: &InstanceRow) -> Health {
    let should_run =
        row.desired == DesiredState::Running && row.client_status == ClientStatus::Active;
    match (should_run, row.phase) {
        (true, Phase::Running) => Health::Healthy,
        (false, Phase::Stopped) => Health::Stopped,
        _ => Health::Unhealthy,
    }
}

/// Runs the daemon until `ids` all converge or `wait` passes; their rows then.
pub async fn converge(
    config: Config,
    ids: Vec<i64>,
    wait: Duration,
    say: &Say,
) -> Result<BTreeMap<i64, InstanceRow>, String> {
    let app = crate::app::App::build(config)
        .await
        .map_err(|e| format!("starting berth: {e:#}"))?;
    let store = app.store().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run(async {
        let _ = stopped.await;
    }));
    let deadline = tokio::time::Instant::now() + wait;
    let mut seen: BTreeMap<i64, Health> = BTreeMap::new();
    let rows = loop {
        let rows: BTreeMap<i64, InstanceRow> = store
            .read(instances::list_all)
            .await
            .map_err(|e| e.to_string())?
            .into_iter()
            .filter(|r| ids.contains(&r.id))
            .map(|r| (r.id, r))
            .collect();
        for row in rows.values() {
            let h = health(row);
            if seen.get(&row.id) != Some(&h) && h != Health::Unhealthy {
                say(format!(
                    "  {}/{}: {}",
                    row.client_slug,
                    row.name,
                    if h == Health::Healthy {
                        "running, healthy"
                    } else {
                        "stopped, as desired"
                    }
                ));
            }
            seen.insert(row.id, h);
        }
        let all = rows.values().all(|r| health(r) != Health::Unhealthy);
        if all || tokio::time::Instant::now() >= deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let _ = stop.send(());
    match running.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(error = %e, "berth stopped with an error after the recovery"),
        Err(e) => tracing::warn!(error = %e, "berth's run task failed after the recovery"),
    }
    Ok(rows)
}
