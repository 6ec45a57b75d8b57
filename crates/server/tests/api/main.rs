//! End-to-end tests of the service: a real listener on port 0, a real SQLite file, real signed tokens.
//!
//! One test binary; each module is a resource or a concern.

#![allow(clippy::unwrap_used, reason = "a test fails by panicking")]
#![allow(unreachable_pub, reason = "test helpers are shared between modules")]

/// Declares an end-to-end test that runs twice: on SQLite, and on PostgreSQL when
/// `PC_TEST_POSTGRES_URL` is set (else it says it was skipped).
macro_rules! e2e {
    (async fn $name:ident() $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test]
            async fn sqlite() {
                crate::helpers::on_backend(crate::helpers::Backend::Sqlite, async $body).await;
            }

            #[tokio::test]
            async fn postgres() {
                if let Some(url) = partner_center_store::testing::postgres_url() {
                    crate::helpers::on_backend(crate::helpers::Backend::Postgres(url), async $body).await;
                }
            }
        }
    };
    (multi_thread async fn $name:ident() $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                crate::helpers::on_backend(crate::helpers::Backend::Sqlite, async $body).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(url) = partner_center_store::testing::postgres_url() {
                    crate::helpers::on_backend(crate::helpers::Backend::Postgres(url), async $body).await;
                }
            }
        }
    };
}

mod activation;
mod admin_client;
mod auth;
mod customers;
mod dashboard;
mod helpers;
mod hostile;
mod idempotency;
mod identity_provider;
mod lifecycle;
mod negotiation;
mod operations;
mod products;
mod purchases;
mod registration;
mod routing;
mod sdk;
mod tls;
