//! The monthly billing export: per client, what its instances used.

use std::collections::BTreeMap;

use serde::Serialize;
use time::{Date, Month};

use crate::domain::rollup::Bucket;
use crate::domain::KeptBillingMonth;
use crate::store::usage::Subject;

const GIB: f64 = (1u64 << 30) as f64;

/// A calendar month in UTC, as `YYYY-MM`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BillingMonth {
    pub start: Date,
    pub end: Date,
}

impl BillingMonth {
    pub fn parse(s: &str) -> Result<Self, String> {
        let bad = || format!("month {s:?} is not YYYY-MM");
        let (y, m) = s.split_once('-').ok_or_else(bad)?;
        if y.len() != 4 || m.len() != 2 {
            return Err(bad());
        }
        let year: i32 = y.parse().map_err(|_| bad())?;
        let month = m
            .parse::<u8>()
            .ok()
            .and_then(|m| Month::try_from(m).ok())
            .ok_or_else(bad)?;
        let start = Date::from_calendar_date(year, month, 1).map_err(|_| bad())?;
        let (ny, nm) = if month == Month::December {
            (year + 1, Month::January)
        } else {
            (year, month.next())
        };
        let end = Date::from_calendar_date(ny, nm, 1).map_err(|_| bad())?;
        Ok(Self { start, end })
    }

    pub fn start_ts(&self) -> i64 {
        self.start.midnight().assume_utc().unix_timestamp()
    }

    pub fn end_ts(&self) -> i64 {
        self.end.midnight().assume_utc().unix_timestamp()
    }

    pub fn label(&self) -> String {
        format!(
            "{:04}-{:02}",
            self.start.year(),
            u8::from(self.start.month())
        )
    }
}

/// One client's month. Quantities are exact sums of samples: instance-hours
/// count time a container ran; storage is the average size over the month.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BillingLine {
    pub month: String,
    /// The client's slug then. A deleted client keeps its own line, marked
    /// `client_deleted`, even when a new client took its slug.
    pub client: String,
    pub client_id: Option<i64>,
    pub client_deleted: bool,
    pub instances: u32,
    pub instance_hours: f64,
    pub cpu_core_hours: f64,
    pub memory_gib_hours: f64,
    pub storage_gib_months: f64,
    pub network_in_gib: f64,
    pub network_out_gib: f64,
    pub oom_kills: u64,
    /// What the client's LLM keys spent in the month (USD), from the
    /// polled series: see [`with_llm`].
    pub llm_usd: f64,
}

/// Sums per-instance totals into one line per client (by id: slugs are
/// reused after a delete), sorted by slug, live clients before deleted ones.
pub fn lines(month: &BillingMonth, totals: &[(Subject, Bucket)]) -> Vec<BillingLine> {
    let month_secs = (month.end_ts() - month.start_ts()) as f64;
    let mut by_client: BTreeMap<(&str, bool, Option<i64>), BillingLine> = BTreeMap::new();
    for (s, b) in totals {
        let line = by_client
            .entry((s.client_slug.as_str(), s.client_deleted, s.client_id))
            .or_insert_with(|| BillingLine {
                month: month.label(),
                client: s.client_slug.clone(),
                client_id: s.client_id,
                client_deleted: s.client_deleted,
                instances: 0,
                instance_hours: 0.0,
                cpu_core_hours: 0.0,
                memory_gib_hours: 0.0,
                storage_gib_months: 0.0,
                network_in_gib: 0.0,
                network_out_gib: 0.0,
                oom_kills: 0,
                llm_usd: 0.0,
            });
        line.instances += 1;
        line.instance_hours += b.up_secs / 3600.0;
        line.cpu_core_hours += b.cpu_secs / 3600.0;
        line.memory_gib_hours += b.mem_byte_secs / GIB / 3600.0;
        line.storage_gib_months += b.disk_byte_secs / GIB / month_secs;
        line.network_in_gib += b.rx as f64 / GIB;
        line.network_out_gib += b.tx as f64 / GIB;
        line.oom_kills += b.oom_kills;
    }
    by_client.into_values().collect()
}

/// The line of an erased client's month, as its deletion report kept it
/// (the usage rows are gone; the books are not): named by the erasure's
/// pseudonym, never by the client's slug.
pub fn kept_line(client: &str, client_id: i64, kept: &KeptBillingMonth) -> BillingLine {
    BillingLine {
        month: kept.month.clone(),
        client: client.to_owned(),
        client_id: Some(client_id),
        client_deleted: true,
        instances: kept.instances,
        instance_hours: kept.instance_hours,
        cpu_core_hours: kept.cpu_core_hours,
        memory_gib_hours: kept.memory_gib_hours,
        storage_gib_months: kept.storage_gib_months,
        network_in_gib: kept.network_in_gib,
        network_out_gib: kept.network_out_gib,
        oom_kills: 0,
        llm_usd: kept.llm_usd,
    }
}

impl BillingLine {
    /// A month in which a client had LLM spend and no instance hours.
    fn llm_only(month: String, client: &str, client_id: Option<i64>, usd: f64) -> Self {
        Self {
            month,
            client: client.to_owned(),
            client_id,
            client_deleted: false,
            instances: 0,
            instance_hours: 0.0,
            cpu_core_hours: 0.0,
            memory_gib_hours: 0.0,
            storage_gib_months: 0.0,
            network_in_gib: 0.0,
            network_out_gib: 0.0,
            oom_kills: 0,
            llm_usd: usd,
        }
    }
}

/// Adds each client's LLM spend of the month to its line: the live
/// client of that slug if there is one (a reused slug's old owner keeps
/// its instance line, the series is by slug), else a line of its own (a
/// client with a key and no instance still owes its spend). `spend` is per
/// slug, in USD, as [`crate::store::llm::spend_between`] computes it: per
/// key the rises of its polled counter through the month, a fall read as
/// a reset (the counter restarted, the new reading is all new spend).
pub fn with_llm(
    month: &BillingMonth,
    mut lines: Vec<BillingLine>,
    spend: &[(String, f64)],
) -> Vec<BillingLine> {
    for (slug, usd) in spend {
        let existing = lines
            .iter()
            .position(|l| l.client == *slug && !l.client_deleted)
            .or_else(|| lines.iter().position(|l| l.client == *slug));
        match existing {
            Some(i) => lines[i].llm_usd += usd,
            None => lines.push(BillingLine::llm_only(month.label(), slug, None, *usd)),
        }
    }
    lines
}

/// One client's monthly lines (from [`monthly`]) with its LLM spend per
/// month (from [`crate::store::llm::monthly_spend`]) added: a month with
/// spend and no instance hours gets a line of its own.
pub fn with_llm_months(
    mut lines: Vec<BillingLine>,
    client: &str,
    client_id: i64,
    spend: &[(String, f64)],
) -> Vec<BillingLine> {
    for (month, usd) in spend {
        match lines.iter_mut().find(|l| l.month == *month) {
            Some(line) => line.llm_usd += usd,
            None => lines.push(BillingLine::llm_only(
                month.clone(),
                client,
                Some(client_id),
                *usd,
            )),
        }
    }
    lines.sort_by(|a, b| a.month.cmp(&b.month));
    lines
}

/// `[from, to)` of the month as the LLM series writes its times.
pub fn rfc3339_bounds(month: &BillingMonth) -> (String, String) {
    let fmt = |ts: i64| {
        time::OffsetDateTime::from_unix_timestamp(ts)
            .ok()
            .and_then(|t| {
                t.format(&time::format_description::well_known::Rfc3339)
                    .ok()
            })
            .unwrap_or_default()
    };
    (fmt(month.start_ts()), fmt(month.end_ts()))
}

/// One client's billing lines for every month its hourly history covers,
/// oldest first: [`lines`] per month over the hours that fall in it (an
/// hour never straddles two months).
pub fn monthly(subjects: &[Subject], hourly: &[Bucket]) -> Vec<BillingLine> {
    let mut months: BTreeMap<String, Vec<Bucket>> = BTreeMap::new();
    for b in hourly {
        let Ok(t) = time::OffsetDateTime::from_unix_timestamp(b.ts) else {
            continue;
        };
        let label = format!("{:04}-{:02}", t.year(), u8::from(t.month()));
        months.entry(label).or_default().push(b.clone());
    }
    let mut out = Vec::new();
    for (label, rows) in months {
        let Ok(month) = BillingMonth::parse(&label) else {
            continue;
        };
        let totals = crate::domain::rollup::totals(rows);
        let per_instance: Vec<(Subject, Bucket)> = subjects
            .iter()
            .filter_map(|s| Some((s.clone(), totals.get(&s.instance_id)?.clone())))
            .collect();
        out.extend(lines(&month, &per_instance));
    }
    out
}

pub fn csv(lines: &[BillingLine]) -> String {
    let mut out = String::from(
        "month,client,instances,instance_hours,cpu_core_hours,memory_gib_hours,storage_gib_months,network_in_gib,network_out_gib,oom_kills,client_id,client_deleted,llm_usd\n",
    );
    for l in lines {
        // Slugs are [a-z0-9-]: no quoting needed.
        out.push_str(&format!(
            "{},{},{},{:.6},{:.6},{:.6},{:.6},{:.6},{:.6},{},{},{},{:.6}\n",
            l.month,
            l.client,
            l.instances,
            l.instance_hours,
            l.cpu_core_hours,
            l.memory_gib_hours,
            l.storage_gib_months,
            l.network_in_gib,
            l.network_out_gib,
            l.oom_kills,
            l.client_id.map(|i| i.to_string()).unwrap_or_default(),
            l.client_deleted,
            l.llm_usd
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::rollup::Sample;

    /// One sampled hour of instance `id`, early in `month`, up and idle.
    fn idle_hour(month: &BillingMonth, id: i64) -> Sample {
        Sample {
            instance_id: id,
            ts: month.start_ts() + 3600,
            secs: 3600.0,
            up: true,
            cpu: 0.0,
            mem: 0,
            mem_limit: 0,
            disk: 0,
            rx: 0,
            tx: 0,
            blk_read: 0,
            blk_write: 0,
            pids: 1,
            oom_kills: 0,
            mem_hits: 0,
        }
    }

    #[test]
    fn months_parse_strictly() {
        let m = BillingMonth::parse("2026-12").unwrap();
        assert_eq!(m.end_ts() - m.start_ts(), 31 * 86400);
        assert_eq!(m.label(), "2026-12");
        let feb = BillingMonth::parse("2028-02").unwrap();
        assert_eq!(feb.end_ts() - feb.start_ts(), 29 * 86400);
        for bad in ["2026-13", "2026-1", "26-01", "2026/01", "", "abcd-ef"] {
            assert!(BillingMonth::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_client_line_sums_its_instances() {
        let month = BillingMonth::parse("2026-11").unwrap();
        let subject = |id, slug: &str| Subject {
            instance_id: id,
            client_id: Some(if slug == "acme" { 1 } else { 2 }),
            client_slug: slug.into(),
            client_deleted: false,
            instance_name: "main".into(),
        };
        let hour = |id| {
            let s = Sample {
                cpu: 0.5,
                mem: 1 << 30,
                mem_limit: 2 << 30,
                disk: 30 << 30,
                rx: 1 << 30,
                tx: 1 << 29,
                oom_kills: 1,
                ..idle_hour(&month, id)
            };
            Bucket::from_sample(&s, 0)
        };
        let l = lines(
            &month,
            &[
                (subject(1, "acme"), hour(1)),
                (subject(2, "acme"), hour(2)),
                (subject(3, "b"), hour(3)),
            ],
        );
        assert_eq!(l.len(), 2);
        assert_eq!((l[0].client.as_str(), l[0].instances), ("acme", 2));
        assert_eq!(l[0].instance_hours, 2.0);
        assert_eq!(l[0].cpu_core_hours, 1.0);
        assert_eq!(l[0].memory_gib_hours, 2.0);
        assert!((l[0].storage_gib_months - 2.0 * 30.0 / 720.0).abs() < 1e-12);
        assert_eq!(
            (l[0].network_in_gib, l[0].network_out_gib, l[0].oom_kills),
            (2.0, 1.0, 2)
        );
        assert!(csv(&l)
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("2026-11,acme,2,2.000000,1.000000"));
    }

    /// A deleted client whose slug was taken again keeps its own line.
    #[test]
    fn a_deleted_client_keeps_its_usage_apart_from_a_new_one() {
        let month = BillingMonth::parse("2026-11").unwrap();
        let subject = |id, client_id, deleted| Subject {
            instance_id: id,
            client_id: Some(client_id),
            client_slug: "acme".into(),
            client_deleted: deleted,
            instance_name: "main".into(),
        };
        let hour = |id| Bucket::from_sample(&idle_hour(&month, id), 0);
        let l = lines(
            &month,
            &[
                (subject(1, 1, true), hour(1)),
                (subject(2, 5, false), hour(2)),
            ],
        );
        let got: Vec<_> = l
            .iter()
            .map(|l| (l.client_id, l.client_deleted, l.instances))
            .collect();
        assert_eq!(got, vec![(Some(5), false, 1), (Some(1), true, 1)]);
        let text = csv(&l);
        assert!(
            text.lines().nth(1).unwrap().ends_with(",5,false,0.000000"),
            "{text}"
        );
        assert!(
            text.lines().nth(2).unwrap().ends_with(",1,true,0.000000"),
            "{text}"
        );

        // LLM spend goes to the live client of the slug; a slug with spend
        // and no instance gets a line of its own.
        let spend = [("acme".to_owned(), 2.5), ("keyonly".to_owned(), 1.0)];
        let l = with_llm(&month, l, &spend);
        let got: Vec<_> = l
            .iter()
            .map(|l| (l.client.as_str(), l.client_deleted, l.llm_usd))
            .collect();
        assert_eq!(
            got,
            vec![
                ("acme", false, 2.5),
                ("acme", true, 0.0),
                ("keyonly", false, 1.0)
            ]
        );
        assert!(csv(&l)
            .lines()
            .nth(1)
            .unwrap()
            .ends_with(",5,false,2.500000"));
    }
}
