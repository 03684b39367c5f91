//! Spend warnings leaving berth: each threshold a key passes (80 %, 100 %
//! of its budget), once per budget period, is audited in the poll's
//! transaction and sent to the operator's failure webhook
//! (`[backup] failure_webhook`, the one alert hook berth has for "look at
//! this") when one is configured.

use serde_json::json;

use crate::audit::{self, Actor};
use crate::store::llm::SpendAlert;
use crate::store::{Conn, StoreError};

/// Audits each alert as berth's own doing.
pub(super) fn audit_alerts(tx: &Conn, alerts: &[SpendAlert]) -> Result<(), StoreError> {
    for a in alerts {
        audit::record(
            tx,
            &Actor::system(),
            "llm.spend_warning",
            &a.client,
            Some(&a.client),
            json!({
                "threshold": a.threshold,
                "warning": a.warning,
                "period": a.period,
                "key": a.key_label,
                "spent_usd": a.spent_usd,
                "limit_usd": a.limit_usd,
            }),
        )?;
    }
    Ok(())
}

/// The webhook's body for one alert.
pub fn body(a: &SpendAlert) -> serde_json::Value {
    json!({
        "event": "llm_spend_warning",
        "client": a.client,
        "threshold": a.threshold,
        "warning": a.warning,
        "period": a.period,
        "spent_usd": a.spent_usd,
        "limit_usd": a.limit_usd,
    })
}

/// POSTs one body per alert. Failures are logged, never retried: the
/// warning stays on the client's page and API, and the audit log has it.
pub(super) async fn notify(http: reqwest::Client, url: String, alerts: Vec<SpendAlert>) {
    for a in &alerts {
        match http.post(&url).json(&body(a)).send().await {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => {
                tracing::warn!(status = %r.status(), client = %a.client, "llm spend webhook refused")
            }
            Err(e) => tracing::warn!(error = %e, client = %a.client, "llm spend webhook failed"),
        }
    }
}
