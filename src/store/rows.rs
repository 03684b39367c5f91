//! How rows are read: a one-table row type declares its columns once
//! ([`select_row!`]), and queries go through [`one`] and [`all`] instead of
//! repeating the prepare/map/collect steps.

use rusqlite::types::FromSql;
use rusqlite::{Connection, OptionalExtension, Params, Row};

use super::StoreError;

/// The row `sql` returns, or `NotFound` with the message `missing` makes.
pub(crate) fn one<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    map: fn(&Row) -> rusqlite::Result<T>,
    missing: impl FnOnce() -> String,
) -> Result<T, StoreError> {
    conn.query_row(sql, params, map)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(missing()))
}

/// Every row `sql` returns, in its order.
pub(crate) fn all<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    map: fn(&Row) -> rusqlite::Result<T>,
) -> Result<Vec<T>, StoreError> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params, map)?.collect::<Result<_, _>>()?;
    Ok(rows)
}

/// Reads a row's columns in SELECT order, so a mapper names no indices.
pub(crate) struct Columns<'a, 'r> {
    row: &'a Row<'r>,
    next: usize,
}

impl<'a, 'r> Columns<'a, 'r> {
    pub(crate) fn new(row: &'a Row<'r>) -> Self {
        Self { row, next: 0 }
    }

    pub(crate) fn next<T: FromSql>(&mut self) -> rusqlite::Result<T> {
        self.next += 1;
        self.row.get(self.next - 1)
    }
}

/// A byte or file count stored as INTEGER (SQLite has no unsigned type).
pub(crate) fn count(value: i64) -> u64 {
    value.max(0) as u64
}

pub(crate) fn count_opt(value: Option<i64>) -> Option<u64> {
    value.map(count)
}

/// A row type read from one table; implemented by [`select_row!`].
pub(crate) trait SelectRow: Sized {
    /// `SELECT <every column> FROM <table>`, ready for a `WHERE`.
    const SELECT: &'static str;
    /// What one row is, for "backup 7 not found".
    const NOUN: &'static str;
    fn from_row(r: &Row) -> rusqlite::Result<Self>;
}

/// The row with this id, or `NotFound` naming it.
pub(crate) fn by_id<T: SelectRow>(conn: &Connection, id: i64) -> Result<T, StoreError> {
    let sql = format!("{} WHERE id = ?1", T::SELECT);
    one(conn, &sql, [id], T::from_row, || {
        format!("{} {id} not found", T::NOUN)
    })
}

/// A job table's rows in this state, oldest first.
pub(crate) fn jobs_by_status<T: SelectRow>(
    conn: &Connection,
    status: crate::domain::BackupStatus,
) -> Result<Vec<T>, StoreError> {
    let sql = format!("{} WHERE status = ?1 ORDER BY id", T::SELECT);
    all(conn, &sql, [status], T::from_row)
}

/// Declares how a one-table row type is read, from one list of columns
/// named like the struct's fields, so the SELECT and the mapping cannot
/// drift apart. `column as convert` reads the column as `convert`'s argument type.
macro_rules! select_row {
    (
        $row:ident from $table:literal as $noun:literal {
            $( $column:ident $(as $convert:path)? ),+ $(,)?
        }
    ) => {
        impl $crate::store::rows::SelectRow for $row {
            const SELECT: &'static str =
                concat!("SELECT ", stringify!($($column),+), " FROM ", $table);
            const NOUN: &'static str = $noun;

            fn from_row(r: &rusqlite::Row) -> rusqlite::Result<Self> {
                let mut columns = $crate::store::rows::Columns::new(r);
                Ok($row {
                    $( $column: {
                        let value = columns.next()?;
                        $( let value = $convert(value); )?
                        value
                    }, )+
                })
            }
        }
    };
}
pub(crate) use select_row;
