//! Test support (feature `testing`): a fresh PostgreSQL schema per test, on the server that
//! `PC_TEST_POSTGRES_URL` names.
//!
//! When the variable is unset, PostgreSQL tests are skipped, and say so on the terminal (once per
//! test binary, outside the test harness's output capture) rather than pass silently. In CI (`CI`
//! set) an unset variable is an error instead.

use std::io::Write as _;
use std::sync::Once;

use sqlx::Connection as _;

/// The variable naming the PostgreSQL database tests may create schemas in.
pub const POSTGRES_URL_VARIABLE: &str = "PC_TEST_POSTGRES_URL";

/// The PostgreSQL database to test against, or `None` (with a notice) when tests should skip it.
///
/// # Panics
///
/// In CI (`CI` set) when `PC_TEST_POSTGRES_URL` is not.
#[must_use]
pub fn postgres_url() -> Option<String> {
    if let Ok(url) = std::env::var(POSTGRES_URL_VARIABLE) {
        return Some(url);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{POSTGRES_URL_VARIABLE} must be set in CI: .ci/run creates a database and sets it"
    );
    static NOTICE: Once = Once::new();
    NOTICE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "\nnote: PostgreSQL tests SKIPPED: {POSTGRES_URL_VARIABLE} is not set \
             (e.g. {POSTGRES_URL_VARIABLE}=postgres://postgres@127.0.0.1:5432/postgres; see the README)\n"
        );
    });
    None
}

/// A schema of its own for one test, dropped by [`PostgresSchema::drop`].
#[derive(Debug)]
pub struct PostgresSchema {
    base: String,
    /// The schema's name.
    pub schema: String,
    /// A URL whose connections use the schema.
    pub url: String,
}

impl PostgresSchema {
    /// Creates a fresh schema in the database `base` names.
    ///
    /// # Panics
    ///
    /// When the database cannot be reached.
    pub async fn create(base: &str) -> Self {
        let schema = format!("pc_test_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(base)
            .await
            .expect("PC_TEST_POSTGRES_URL must be reachable");
        sqlx::query(sqlx::AssertSqlSafe(format!("create schema {schema}")))
            .execute(&mut conn)
            .await
            .expect("can create a schema");
        conn.close().await.ok();
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options[search_path]={schema}");
        Self {
            base: base.to_owned(),
            schema,
            url,
        }
    }

    /// Drops the schema and everything in it.
    pub async fn drop(self) {
        if let Ok(mut conn) = sqlx::PgConnection::connect(&self.base).await {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "drop schema if exists {} cascade",
                self.schema
            )))
            .execute(&mut conn)
            .await;
            conn.close().await.ok();
        }
    }
}
