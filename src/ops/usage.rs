//! Usage reads every front end shares: chart series, top consumers, host
//! capacity and the billing export. Nothing here writes; the sampler
//! records history on its own.

use std::collections::HashMap;

use serde::Serialize;

use super::{Ops, OpsError};
use crate::domain::rollup::{align, totals, Bucket};
use crate::domain::{ClientStatus, DesiredState};
use crate::metrics::export::{self, BillingLine, BillingMonth};
use crate::metrics::quota::FREQUENT_OOM_PER_DAY;
use crate::metrics::{unix_now, Range};
use crate::store::metrics::HostSample;
use crate::store::usage::{self, QuotaWarning};
use crate::store::{clients, deletions, instances, ClientRow, Conn, InstanceRow, StoreError};

/// One chart point: averages over the bucket, plus its peaks.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Point {
    pub ts: i64,
    pub cpu: f64,
    pub cpu_max: f64,
    pub mem: f64,
    pub mem_max: u64,
    pub disk: f64,
    pub rx_rate: f64,
    pub tx_rate: f64,
    pub oom_kills: u64,
    /// Share of the bucket the container ran (0..=1).
    pub up: f64,
}

impl From<&Bucket> for Point {
    fn from(b: &Bucket) -> Self {
        Self {
            ts: b.ts,
            cpu: b.cpu_avg(),
            cpu_max: b.cpu_max,
            mem: b.mem_avg(),
            mem_max: b.mem_max,
            disk: b.disk_avg(),
            rx_rate: b.rx_rate(),
            tx_rate: b.tx_rate(),
            oom_kills: b.oom_kills,
            up: if b.secs > 0.0 {
                b.up_secs / b.secs
            } else {
                0.0
            },
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct InstanceUsage {
    pub id: i64,
    pub client: String,
    pub name: String,
    pub cpus: f64,
    pub memory_limit: u64,
    pub storage_quota: Option<u64>,
    pub disk: u64,
    pub series: Vec<Point>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ClientUsage {
    pub client: String,
    pub range: Range,
    /// Seconds per point; 0 = one point per raw sample.
    pub step: i64,
    pub from: i64,
    pub to: i64,
    pub instances: Vec<InstanceUsage>,
    pub warnings: Vec<QuotaWarning>,
    /// LLM spend against budget over the range; absent when the client
    /// has no key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub llm: Option<super::llm_views::LlmUsage>,
}

/// One row of the "top consumers" table over a range.
#[derive(Debug, Clone, Serialize)]
pub struct Consumer {
    pub instance_id: i64,
    pub client: String,
    pub instance: String,
    pub cpu_avg: f64,
    pub cpus: f64,
    pub mem_avg: f64,
    pub mem_max: u64,
    pub memory_limit: u64,
    pub disk: u64,
    pub storage_quota: Option<u64>,
    pub rx: u64,
    pub tx: u64,
    pub oom_kills: u64,
    pub over_quota: bool,
    pub frequent_oom: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Capacity {
    pub cpus: u32,
    pub cpus_allocated: f64,
    pub mem_total: u64,
    pub mem_allocated: u64,
    pub disk_total: u64,
    pub storage_allocated: u64,
    pub instances: usize,
}

impl Capacity {
    pub fn cpu_overcommit(&self) -> f64 {
        ratio(self.cpus_allocated, f64::from(self.cpus))
    }
    pub fn mem_overcommit(&self) -> f64 {
        ratio(self.mem_allocated as f64, self.mem_total as f64)
    }
    pub fn storage_overcommit(&self) -> f64 {
        ratio(self.storage_allocated as f64, self.disk_total as f64)
    }
}

fn ratio(a: f64, b: f64) -> f64 {
    if b > 0.0 {
        a / b
    } else {
        0.0
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct HostUsage {
    pub range: Range,
    pub latest: Option<HostSample>,
    pub capacity: Capacity,
    pub series: Vec<HostSample>,
}

/// `[from, to)` of a chart ending now, `from` aligned to the step.
pub fn window(range: Range) -> (i64, i64) {
    let now = unix_now();
    (align(now - range.secs(), range.step()), now + 1)
}

fn instance_usage(
    conn: &Conn,
    row: &InstanceRow,
    disk: &HashMap<i64, u64>,
    range: Range,
) -> Result<InstanceUsage, StoreError> {
    let (from, to) = window(range);
    let series = usage::buckets(conn, row.id, from, to, range.step())?
        .iter()
        .map(Point::from)
        .collect();
    Ok(InstanceUsage {
        id: row.id,
        client: row.client_slug.clone(),
        name: row.name.clone(),
        cpus: row.cpus,
        memory_limit: row.memory,
        storage_quota: row.storage,
        disk: disk.get(&row.id).copied().unwrap_or(0),
        series,
    })
}

/// A client's charts over `range`: each live instance's series and limits.
pub(super) fn usage_of(
    conn: &Conn,
    client: ClientRow,
    range: Range,
) -> Result<ClientUsage, StoreError> {
    let disk = usage::disk_usage_of_client(conn, client.id)?;
    let (from, to) = window(range);
    let instances = instances::list_for_client(conn, client.id)?
        .iter()
        .filter(|i| i.desired.is_live())
        .map(|i| instance_usage(conn, i, &disk, range))
        .collect::<Result<_, _>>()?;
    let llm = llm_of(conn, &client.slug, from)?;
    Ok(ClientUsage {
        client: client.slug,
        range,
        step: range.step(),
        from,
        to,
        instances,
        warnings: usage::warnings(conn, Some(client.id))?,
        llm,
    })
}

/// The client's LLM spend since `from` (unix seconds).
fn llm_of(
    conn: &Conn,
    slug: &str,
    from: i64,
) -> Result<Option<super::llm_views::LlmUsage>, StoreError> {
    let since = time::OffsetDateTime::from_unix_timestamp(from)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_default();
    let client = super::llm::client_llm(conn, slug)?;
    let spend = crate::store::llm::spend_series(conn, slug, &since)?;
    Ok(super::llm_views::llm_usage(&client, spend))
}

impl Ops {
    pub async fn client_usage(&self, slug: &str, range: Range) -> Result<ClientUsage, OpsError> {
        let slug = slug.to_owned();
        Ok(self
            .store
            .read(move |conn| usage_of(conn, clients::get(conn, &slug)?, range))
            .await?)
    }

    pub async fn instance_usage(&self, id: i64, range: Range) -> Result<InstanceUsage, OpsError> {
        Ok(self
            .store
            .read(move |conn| {
                let row = instances::get(conn, id)?;
                instance_usage(conn, &row, &usage::disk_usage(conn)?, range)
            })
            .await?)
    }

    pub async fn quota_warnings(&self) -> Result<Vec<QuotaWarning>, OpsError> {
        Ok(self.store.read(|conn| usage::warnings(conn, None)).await?)
    }

    /// Instances by CPU used over `range`, with their limits and flags.
    pub async fn top_consumers(&self, range: Range) -> Result<Vec<Consumer>, OpsError> {
        let mut list = self
            .store
            .read(move |conn| {
                let (from, to) = window(range);
                let disk = usage::disk_usage(conn)?;
                let warned = usage::warnings(conn, None)?;
                let day = align(unix_now() - 86400, 300);
                let mut out = Vec::new();
                for row in instances::list_all(conn)?
                    .iter()
                    .filter(|r| r.desired.is_live())
                {
                    let t = totals(usage::buckets(
                        conn,
                        row.id,
                        from,
                        to,
                        range.step().max(300),
                    )?)
                    .remove(&row.id)
                    .unwrap_or_default();
                    let day_kills: u64 = if range == Range::Day {
                        t.oom_kills
                    } else {
                        usage::buckets(conn, row.id, day, to, 300)?
                            .iter()
                            .map(|b| b.oom_kills)
                            .sum()
                    };
                    out.push(Consumer {
                        instance_id: row.id,
                        client: row.client_slug.clone(),
                        instance: row.name.clone(),
                        cpu_avg: t.cpu_avg(),
                        cpus: row.cpus,
                        mem_avg: t.mem_avg(),
                        mem_max: t.mem_max,
                        memory_limit: row.memory,
                        disk: disk.get(&row.id).copied().unwrap_or(0),
                        storage_quota: row.storage,
                        rx: t.rx,
                        tx: t.tx,
                        oom_kills: t.oom_kills,
                        over_quota: warned.iter().any(|w| w.instance_id == row.id),
                        frequent_oom: day_kills >= FREQUENT_OOM_PER_DAY,
                    });
                }
                Ok(out)
            })
            .await?;
        list.sort_by(|a, b| b.cpu_avg.total_cmp(&a.cpu_avg));
        Ok(list)
    }

    pub async fn host_usage(&self, range: Range) -> Result<HostUsage, OpsError> {
        Ok(self
            .store
            .read(move |conn| {
                let (from, to) = window(range);
                let latest = usage::latest_host(conn)?;
                let rows: Vec<InstanceRow> = instances::list_all(conn)?
                    .into_iter()
                    .filter(|r| {
                        r.desired == DesiredState::Running
                            && r.client_status == ClientStatus::Active
                    })
                    .collect();
                let capacity = Capacity {
                    cpus: latest.as_ref().map_or(0, |h| h.cpus),
                    cpus_allocated: rows.iter().map(|r| r.cpus).sum(),
                    mem_total: latest.as_ref().map_or(0, |h| h.mem_total),
                    mem_allocated: rows.iter().map(|r| r.memory).sum(),
                    disk_total: latest.as_ref().map_or(0, |h| h.disk_total),
                    storage_allocated: rows.iter().filter_map(|r| r.storage).sum(),
                    instances: rows.len(),
                };
                let series = usage::host_series(conn, from, to, range.step().max(60))?;
                Ok(HostUsage {
                    range,
                    latest,
                    capacity,
                    series,
                })
            })
            .await?)
    }

    /// Per-client billing lines for a calendar month (UTC).
    pub async fn billing_export(&self, month: &str) -> Result<Vec<BillingLine>, OpsError> {
        let month = BillingMonth::parse(month).map_err(OpsError::Refused)?;
        let label = month.label();
        let (from, to) = export::rfc3339_bounds(&month);
        let (totals, erased, llm) = self
            .store
            .read(move |conn| {
                let totals = usage::totals_between(conn, month.start_ts(), month.end_ts())?;
                let llm = crate::store::llm::spend_between(conn, &from, &to)?;
                Ok((totals, deletions::list(conn)?, llm))
            })
            .await?;
        let mut lines = export::with_llm(&month, export::lines(&month, &totals), &llm);
        // Erased clients' months live on in their deletion reports only.
        for report in erased.iter().filter_map(|d| d.report.as_ref()) {
            let kept = report.billing_kept.iter().filter(|k| k.month == label);
            lines.extend(kept.map(|k| export::kept_line(&report.client, report.client_id, k)));
        }
        Ok(lines)
    }
}
