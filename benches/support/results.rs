//! One row of the benchmark table (`scripts/bench-table.sh`). Every
//! benchmark prints its own detail and, when `BERTH_BENCH_RESULTS` names a
//! file, appends one JSON line per figure it has a target for; the script
//! reads those lines and prints them as one table. Without the variable a
//! benchmark behaves as before, so each can still be run on its own.
//!
//! Included by path (`#[path = ...] mod results;`) from benches and from
//! `examples/backup_bench.rs`, so it uses only std and serde_json.

#![allow(dead_code)] // each benchmark uses the parts it needs

use std::io::Write;

/// What a figure must be to pass.
#[derive(Clone, Copy)]
pub enum Target {
    /// value <= limit
    AtMost(f64),
    /// value < limit
    Below(f64),
    /// value >= limit
    AtLeast(f64),
    /// No target: shown for comparison between runs, never fails.
    Reference(f64),
}

impl Target {
    fn limit(self) -> f64 {
        match self {
            Target::AtMost(l) | Target::Below(l) | Target::AtLeast(l) | Target::Reference(l) => l,
        }
    }

    fn passes(self, value: f64) -> Option<bool> {
        match self {
            Target::AtMost(l) => Some(value <= l),
            Target::Below(l) => Some(value < l),
            Target::AtLeast(l) => Some(value >= l),
            Target::Reference(_) => None,
        }
    }

    fn text(self, unit: &str) -> String {
        let l = self.limit();
        match self {
            Target::AtMost(_) => format!("<= {}", fmt(l, unit)),
            Target::Below(_) => format!("< {}", fmt(l, unit)),
            Target::AtLeast(_) => format!(">= {}", fmt(l, unit)),
            Target::Reference(_) => format!("ref {}", fmt(l, unit)),
        }
    }
}

/// A figure against its target; `ratio` is value/target unless
/// [`Row::versus`] names a status quo to compare with instead.
pub struct Row {
    figure: String,
    target: Target,
    value: f64,
    unit: &'static str,
    versus: Option<(String, f64)>,
}

impl Row {
    pub fn new(figure: impl Into<String>, target: Target, value: f64, unit: &'static str) -> Row {
        Row {
            figure: figure.into(),
            target,
            value,
            unit,
            versus: None,
        }
    }

    /// Shows the ratio against the status quo's figure (same unit) instead
    /// of against the target, e.g. "0.09x compose (6.8 s)".
    pub fn versus(mut self, name: &str, status_quo: f64) -> Row {
        self.versus = Some((name.to_owned(), status_quo));
        self
    }

    /// Appends the row to `$BERTH_BENCH_RESULTS`, if set. A bench that cannot
    /// write its row says so and goes on: the detail it printed still stands.
    pub fn record(self) {
        let Some(path) = std::env::var_os("BERTH_BENCH_RESULTS") else {
            return;
        };
        let ratio = match &self.versus {
            Some((name, quo)) => {
                format!("{:.2}x {name} ({})", self.value / quo, fmt(*quo, self.unit))
            }
            None => {
                let of = match self.target {
                    Target::Reference(_) => "ref",
                    _ => "target",
                };
                format!("{:.2}x {of}", self.value / self.target.limit())
            }
        };
        let line = serde_json::json!({
            "figure": self.figure,
            "target": self.target.text(self.unit),
            "value": fmt(self.value, self.unit),
            "ratio": ratio,
            "pass": self.target.passes(self.value),
        });
        let written = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| writeln!(f, "{line}"));
        if let Err(e) = written {
            eprintln!("cannot append to {}: {e}", path.to_string_lossy());
        }
    }
}

fn fmt(v: f64, unit: &str) -> String {
    match unit {
        "x" => format!("{v:.2}x"),
        "%" => format!("{v:.3} %"),
        "" => format!("{v:.0}"),
        _ if v >= 100.0 => format!("{v:.0} {unit}"),
        _ if v >= 10.0 => format!("{v:.1} {unit}"),
        _ => format!("{v:.2} {unit}"),
    }
}
