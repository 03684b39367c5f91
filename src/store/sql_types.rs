//! The domain's state enums as SQLite text columns. A word the enum does not
//! know (a hand-edited row, a newer berth's value) is a column error naming
//! the value, never a panic and never a silent default.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use crate::domain::{
    Approval, BackupStatus, ClientRole, ClientStatus, DeletionStatus, DesiredState, LimitReset,
    LinkKind, LlmKeyStatus, LlmProvider, OffsiteKind, OffsiteRunKind, Phase, RequestStatus,
    RestoreMode, RolloutKind, RolloutStatus, StepState, Trigger,
};

macro_rules! sql_text {
    ($($state:ty),+ $(,)?) => {
        $(
            impl ToSql for $state {
                fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
                    Ok(ToSqlOutput::from(self.as_str()))
                }
            }

            impl FromSql for $state {
                fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
                    <$state>::parse(value.as_str()?).map_err(FromSqlError::other)
                }
            }
        )+
    };
}

sql_text!(
    Approval,
    BackupStatus,
    OffsiteKind,
    OffsiteRunKind,
    ClientRole,
    ClientStatus,
    LinkKind,
    DeletionStatus,
    DesiredState,
    Phase,
    RequestStatus,
    RestoreMode,
    Trigger,
    LlmProvider,
    LlmKeyStatus,
    LimitReset,
    RolloutKind,
    RolloutStatus,
    StepState
);

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;

    /// Each value goes in as its word and comes back as itself.
    fn round_trip<T>(conn: &Connection, all: &[T], as_str: fn(T) -> &'static str)
    where
        T: ToSql + FromSql + Copy + PartialEq + std::fmt::Debug,
    {
        for &value in all {
            let (word, back): (String, T) = conn
                .query_row("SELECT ?1, ?1", [&value], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap();
            assert_eq!((word.as_str(), back), (as_str(value), value));
        }
    }

    #[test]
    fn states_are_stored_as_their_words_and_read_back() {
        let conn = Connection::open_in_memory().unwrap();
        round_trip(&conn, DesiredState::ALL, DesiredState::as_str);
        round_trip(&conn, Phase::ALL, Phase::as_str);
        round_trip(&conn, ClientStatus::ALL, ClientStatus::as_str);
        round_trip(&conn, BackupStatus::ALL, BackupStatus::as_str);
        round_trip(&conn, Trigger::ALL, Trigger::as_str);
        round_trip(&conn, RestoreMode::ALL, RestoreMode::as_str);
        round_trip(&conn, Approval::ALL, Approval::as_str);
        round_trip(&conn, RequestStatus::ALL, RequestStatus::as_str);
    }

    #[test]
    fn an_unknown_word_or_a_number_is_a_column_error() {
        let conn = Connection::open_in_memory().unwrap();
        let read = |sql: &str| conn.query_row(sql, [], |r| r.get::<_, Phase>(0));
        let err = read("SELECT 'hibernating'").unwrap_err();
        assert!(
            matches!(err, rusqlite::Error::FromSqlConversionFailure(0, _, _)),
            "{err:?}"
        );
        assert!(err.to_string().contains("hibernating"), "{err}");
        assert!(matches!(
            read("SELECT 3").unwrap_err(),
            rusqlite::Error::InvalidColumnType(..)
        ));
        assert!(read("SELECT NULL").is_err());
        let none: Option<BackupStatus> = conn.query_row("SELECT NULL", [], |r| r.get(0)).unwrap();
        assert_eq!(none, None);
    }
}
