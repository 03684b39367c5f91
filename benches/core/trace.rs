//! Reads back the reconciler's `timing` debug lines from the daemon's log
//! (see `PassClock` in `src/reconcile/worker.rs` and `apply.rs`) so a create
//! figure comes with where its time went.

use std::collections::BTreeMap;
use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// One `timing` line: when it was logged (ms after the measured start),
/// what it times and its fields.
pub struct Event {
    pub at_ms: i64,
    pub what: String,
    pub fields: BTreeMap<String, String>,
}

pub struct Trace(Vec<Event>);

impl Trace {
    /// Lines logged at or after `since`; the log's timestamps are UTC
    /// times of day, as is `since` here (a run never spans midnight).
    pub fn parse(log: &str, since: SystemTime) -> Trace {
        let start = since.duration_since(UNIX_EPOCH).unwrap();
        let start_ms = (start.as_millis() % 86_400_000) as i64;
        let events = log
            .lines()
            .filter_map(|raw| {
                let line = strip_ansi(raw);
                let (head, rest) = line.split_once(" timing ")?;
                let at = time_of_day_ms(head.split_whitespace().next()?)?;
                let mut words = rest.split_whitespace();
                let what = words.next()?.to_owned();
                let fields = words
                    .filter_map(|w| w.split_once('='))
                    .map(|(k, v)| (k.to_owned(), v.trim_matches('"').to_owned()))
                    .collect();
                Some(Event {
                    at_ms: at - start_ms,
                    what,
                    fields,
                })
            })
            .filter(|e| e.at_ms >= 0)
            .collect();
        Trace(events)
    }

    /// Only what happened within `elapsed` of the start.
    pub fn until(self, elapsed: Duration) -> Trace {
        let end = elapsed.as_millis() as i64;
        Trace(self.0.into_iter().filter(|e| e.at_ms <= end).collect())
    }

    /// For many instances: every pass and Caddy load on a timeline, and each
    /// step's count, median and maximum.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let mut steps: BTreeMap<String, Vec<u64>> = BTreeMap::new();
        let mut create_at: BTreeMap<String, u64> = BTreeMap::new();
        for e in &self.0 {
            let num = |k: &str| e.fields.get(k).and_then(|v| v.parse::<u64>().ok());
            match e.what.as_str() {
                "pass" | "caddy" => out.push_str(&format!("{:>7} ms  {}\n", e.at_ms, line(e))),
                "action" => {
                    let step = e.fields.get("step").cloned().unwrap_or_default();
                    steps
                        .entry(format!("action {step}"))
                        .or_default()
                        .extend(num("ms"));
                }
                "create" => {
                    // `at_ms` counts from the create's start: a step's own
                    // time is the difference to the instance's previous step.
                    let instance = e.fields.get("instance").cloned().unwrap_or_default();
                    let (Some(step), Some(at)) = (e.fields.get("step"), num("at_ms")) else {
                        continue;
                    };
                    let before = create_at.insert(instance, at).unwrap_or(0);
                    let own = if step == "image" {
                        at
                    } else {
                        at.saturating_sub(before)
                    };
                    steps.entry(format!("create {step}")).or_default().push(own);
                }
                _ => {}
            }
        }
        out.push_str("step                    count  median ms  max ms\n");
        for (step, mut ms) in steps {
            ms.sort_unstable();
            out.push_str(&format!(
                "{step:<22} {:>6} {:>10} {:>7}\n",
                ms.len(),
                ms[ms.len() / 2],
                ms[ms.len() - 1]
            ));
        }
        out
    }
}

/// For one instance: every line, in order.
impl fmt::Display for Trace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.0 {
            writeln!(f, "{:>7} ms  {}", e.at_ms, line(e))?;
        }
        Ok(())
    }
}

fn line(e: &Event) -> String {
    let fields: Vec<String> = e.fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{} {}", e.what, fields.join(" "))
}

/// "2026-12-02T03:52:27.123456Z" → ms since midnight.
fn time_of_day_ms(stamp: &str) -> Option<i64> {
    let time = stamp.split_once('T')?.1.trim_end_matches('Z');
    let mut parts = time.split(':');
    let h: i64 = parts.next()?.parse().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let s: f64 = parts.next()?.parse().ok()?;
    Some((h * 3600 + m * 60) * 1000 + (s * 1000.0) as i64)
}

/// The log is written with colours when the subscriber decides so.
fn strip_ansi(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
