//! The SQLite schema's migrations (`migrations/sqlite/`), applied in order and recorded in
//! `_sqlx_migrations`, the table (and checksums, SHA-384 of each script) of sqlx's migrator, which
//! applied them before this store moved to rusqlite; databases made either way read the same.
//!
//! A script whose first line is `-- no-transaction` manages its own transaction (it has to switch
//! foreign keys off, which SQLite ignores inside one); every other runs in a transaction with its
//! record.

use rusqlite::{Connection, OptionalExtension as _, params};

use crate::StoreError;

/// One migration.
pub(crate) struct Migration {
    pub(crate) version: i64,
    pub(crate) description: &'static str,
    sql: &'static str,
}

macro_rules! migration {
    ($version:literal, $description:literal, $file:literal) => {
        Migration {
            version: $version,
            description: $description,
            sql: include_str!(concat!("../../migrations/sqlite/", $file)),
        }
    };
}

/// Every migration this build knows, oldest first.
pub(crate) const MIGRATIONS: &[Migration] = &[
    migration!(20_261_121_000_001, "initial", "20261121000001_initial.sql"),
    migration!(
        20_261_121_000_002,
        "idempotency",
        "20261121000002_idempotency.sql"
    ),
    migration!(
        20_261_121_000_003,
        "identity provider",
        "20261121000003_identity_provider.sql"
    ),
    migration!(
        20_261_121_000_004,
        "registration failures",
        "20261121000004_registration_failures.sql"
    ),
    migration!(
        20_261_126_000_005,
        "customers and subscriptions",
        "20261126000005_customers_and_subscriptions.sql"
    ),
    migration!(
        20_261_126_000_006,
        "purchases",
        "20261126000006_purchases.sql"
    ),
    migration!(
        20_261_202_000_007,
        "checks without lists",
        "20261202000007_checks_without_lists.sql"
    ),
    migration!(
        20_261_207_000_008,
        "idempotency log",
        "20261207000008_idempotency_log.sql"
    ),
    migration!(
        20_261_207_000_009,
        "idempotency tags",
        "20261207000009_idempotency_tags.sql"
    ),
];

fn checksum(sql: &str) -> Vec<u8> {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA384, sql.as_bytes())
        .as_ref()
        .to_vec()
}

/// Applies the first `count` migrations (all with `None`) that are not applied yet. Returns each
/// migration up to there with whether it had been applied before.
pub(crate) fn apply(
    conn: &Connection,
    count: Option<usize>,
) -> Result<Vec<(i64, String, bool)>, StoreError> {
    conn.execute_batch(
        "create table if not exists _sqlx_migrations (
             version bigint primary key,
             description text not null,
             installed_on timestamp not null default current_timestamp,
             success boolean not null,
             checksum blob not null,
             execution_time bigint not null
         )",
    )?;
    let mut report = Vec::new();
    for migration in MIGRATIONS.iter().take(count.unwrap_or(MIGRATIONS.len())) {
        let applied: Option<(bool, Vec<u8>)> = conn
            .query_row(
                "select success, checksum from _sqlx_migrations where version = ?1",
                [migration.version],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        match applied {
            Some((true, sum)) if sum == checksum(migration.sql) => {
                report.push((migration.version, migration.description.to_owned(), true));
                continue;
            }
            Some((true, _)) => {
                return Err(StoreError::Corrupt(format!(
                    "migration {} was applied but differs from this build's",
                    migration.version
                )));
            }
            Some((false, _)) => {
                return Err(StoreError::Corrupt(format!(
                    "migration {} was left half-applied; restore a backup",
                    migration.version
                )));
            }
            None => {}
        }
        let started = std::time::Instant::now();
        let own_transaction = migration.sql.trim_start().starts_with("-- no-transaction");
        if !own_transaction {
            conn.execute_batch("begin immediate")?;
        }
        let applied = conn.execute_batch(migration.sql).and_then(|()| {
            conn.execute(
                "insert into _sqlx_migrations (version, description, success, checksum, execution_time)
                 values (?1, ?2, true, ?3, ?4)",
                params![
                    migration.version,
                    migration.description,
                    checksum(migration.sql),
                    i64::try_from(started.elapsed().as_nanos()).unwrap_or(i64::MAX)
                ],
            )
        });
        match applied {
            Ok(_) if !own_transaction => conn.execute_batch("commit")?,
            Ok(_) => {}
            Err(err) => {
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("rollback");
                }
                return Err(StoreError::Migrate(format!(
                    "migration {} ({}) failed: {err}",
                    migration.version, migration.description
                )));
            }
        }
        report.push((migration.version, migration.description.to_owned(), false));
    }
    Ok(report)
}
