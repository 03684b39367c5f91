//! How the CLI prints: JSON with `--json`, otherwise short aligned tables.

use serde::Serialize;

/// Prints `value` as JSON for scripts, or `human` for people.
pub fn show<T: Serialize>(as_json: bool, value: &T, human: impl FnOnce(&T)) {
    if as_json {
        json(value);
    } else {
        human(value);
    }
}

/// What a command that changes something and has nothing else to show prints.
pub fn done(as_json: bool, key: &str, name: &str, line: String) {
    show(as_json, &serde_json::json!({ key: name }), |_| {
        println!("{line}")
    });
}

/// A document that list commands print as one table row.
pub trait Row: Serialize {
    const HEADER: &'static [&'static str];
    fn cells(&self) -> Vec<String>;
}

/// `found` (store rows or ops views) as their documents: JSON, or a table.
pub fn rows<T: Row>(as_json: bool, found: Vec<impl Into<T>>) {
    let items: Vec<T> = found.into_iter().map(Into::into).collect();
    if as_json {
        json(&items);
    } else {
        table_of(&items);
    }
}

pub fn table_of<T: Row>(items: &[T]) {
    table(T::HEADER, items.iter().map(T::cells).collect());
}

/// A list as JSON, or as a table of `cells` under `header`.
pub fn list<T: Serialize>(
    as_json: bool,
    items: &[T],
    header: &[&str],
    cells: impl Fn(&T) -> Vec<String>,
) {
    if as_json {
        json(&items);
    } else {
        table(header, items.iter().map(cells).collect());
    }
}

pub fn json<T: Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_default()
    );
}

/// Prints rows under a header, each column as wide as its widest cell.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) {
    if rows.is_empty() {
        println!("(none)");
        return;
    }
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: Vec<String>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        println!("{}", padded.join("  ").trim_end());
    };
    line(header.iter().map(|h| h.to_uppercase()).collect());
    for row in rows {
        line(row);
    }
}

pub fn size(bytes: u64) -> String {
    crate::domain::ByteSize(bytes).to_string()
}

/// `key: value` lines with the values aligned, for one record.
pub fn fields(rows: &[(&str, String)]) {
    let width = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0)
        + 1;
    for (key, value) in rows {
        let key = format!("{key}:");
        println!("{}", format!("{key:<width$} {value}").trim_end());
    }
}
