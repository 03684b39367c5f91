use rusqlite::Connection;
use rusqlite_migration::{Migrations, M};

use super::StoreError;

/// Append only: a shipped migration is never edited. One file per feature
/// area, numbered, so parallel work adds lines here rather than editing SQL.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/001_core.sql"),
    include_str!("migrations/002_backups.sql"),
    include_str!("migrations/003_accounts.sql"),
    include_str!("migrations/004_metrics.sql"),
];

pub fn run(conn: &mut Connection) -> Result<(), StoreError> {
    let migrations = Migrations::new(MIGRATIONS.iter().map(|sql| M::up(sql)).collect());
    migrations.to_latest(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn migrations_are_valid() {
        let migrations = rusqlite_migration::Migrations::new(
            super::MIGRATIONS
                .iter()
                .map(|s| rusqlite_migration::M::up(s))
                .collect(),
        );
        migrations.validate().unwrap();
    }
}
