//! [`Deadline`]: a store whose every call ends within a bound, whatever the database does.
//!
//! A PostgreSQL server that stops answering without closing its connections (a network partition,
//! a hung server, a proxy that forwards nothing) leaves a query in flight forever: the pool's
//! acquire timeout bounds only new connections, and the server's `statement_timeout` never fires
//! on a server that is not there. So every call of a PostgreSQL store runs under a deadline (the
//! acquire timeout plus the statement timeout); past it, the call is dropped (its connection with
//! it, and its transaction rolls back on the server) and fails as unavailable, which the service
//! answers with 503 and `Retry-After`. New connections to a server that answers again work, so the
//! store recovers by itself. Bulk operator calls (loading a fixture, a reset) are not bounded: they
//! may rightly take longer, and each of their statements is still bounded by `statement_timeout`.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use partner_center_domain::catalog::Catalog;
use partner_center_domain::customer::CustomerRecord;
use partner_center_domain::purchase::{
    CancelOutcome, Cart, CartOutcome, CheckoutOutcome, LineRequest, Order, OrderIds, OrderOutcome,
    OrderStatus,
};
use partner_center_domain::subscription::SubscriptionRecord;
use partner_center_domain::{
    ActivateOutcome, ClaimedRegistration, CompletedRegistration, CustomerKey, Lookup, Partner,
    RegisterOutcome, SeedReport, Settled, SubscriptionKey, Upserted,
};
use partner_center_model::fixture::FixtureSubscription;
use partner_center_model::{
    ClientId, CustomerId, Fixture, RegistrationEnding, RegistrationState, TenantId, Timestamp,
};

use crate::{
    AdminStore, Application, FixtureStore, Idempotency, IdentityStore, JobQueue, PurchaseStore,
    Recorded, RegistrationRecord, RequestStore, SigningKey, Store, StoreError, SubscriptionDetail,
};

/// A store whose calls fail as unavailable once `limit` has passed.
#[derive(Debug)]
pub struct Deadline {
    inner: Arc<dyn Store>,
    limit: Duration,
}

impl Deadline {
    /// `inner`, each call bounded by `limit`.
    #[must_use]
    pub fn new(inner: Arc<dyn Store>, limit: Duration) -> Self {
        Self { inner, limit }
    }

    async fn bounded<T>(
        &self,
        call: &'static str,
        work: impl Future<Output = Result<T, StoreError>> + Send,
    ) -> Result<T, StoreError> {
        tokio::time::timeout(self.limit, work)
            .await
            .unwrap_or_else(|_| {
                Err(StoreError::Unavailable(format!(
                    "the database did not answer {call} within {} ms",
                    self.limit.as_millis()
                )))
            })
    }
}

/// Implements `$trait` for [`Deadline`]: each method of the first list calls the inner store's
/// under the deadline; each of the `unbounded` list calls it as it is.
macro_rules! bounded {
    (
        $trait:ident { $( fn $name:ident(&self $(, $arg:ident : $ty:ty)* ) -> $ret:ty; )* }
        $( unbounded { $( fn $free:ident(&self $(, $farg:ident : $fty:ty)* ) -> $fret:ty; )* } )?
    ) => {
        #[async_trait]
        impl $trait for Deadline {
            $(
                async fn $name(&self $(, $arg: $ty)*) -> $ret {
                    self.bounded(stringify!($name), self.inner.$name($($arg),*)).await
                }
            )*
            $($(
                async fn $free(&self $(, $farg: $fty)*) -> $fret {
                    self.inner.$free($($farg),*).await
                }
            )*)?
        }
    };
}

bounded!(RequestStore {
    fn ping(&self) -> Result<(), StoreError>;
    fn partner(&self, tenant: TenantId) -> Result<Option<Partner>, StoreError>;
    fn service_key(&self, name: &str, candidate: Vec<u8>) -> Result<Vec<u8>, StoreError>;
    fn customer(&self, key: CustomerKey) -> Result<Option<CustomerRecord>, StoreError>;
    fn customers(&self, partner: TenantId, after: Option<i64>, limit: u32) -> Result<Vec<(i64, CustomerRecord)>, StoreError>;
    fn subscriptions(&self, customer: CustomerKey, order_id: Option<&str>) -> Result<Option<Vec<SubscriptionRecord>>, StoreError>;
    fn find_subscription(&self, key: &SubscriptionKey) -> Result<Lookup<SubscriptionRecord>, StoreError>;
    fn registration_status(&self, key: &SubscriptionKey) -> Result<Lookup<RegistrationState>, StoreError>;
    fn register(&self, key: &SubscriptionKey, now: Timestamp, idempotency: Option<&Idempotency>, ending: RegistrationEnding) -> Result<Recorded<Lookup<RegisterOutcome>>, StoreError>;
    fn activate(&self, key: &SubscriptionKey, now: Timestamp, idempotency: Option<&Idempotency>) -> Result<Recorded<Lookup<ActivateOutcome>>, StoreError>;
});

bounded!(PurchaseStore {
    fn catalog(&self) -> Result<Catalog, StoreError>;
    fn create_cart(&self, customer: CustomerKey, cart_id: &str, lines: &[LineRequest], now: Timestamp, lifetime: Duration, idempotency: Option<&Idempotency>) -> Result<Recorded<CartOutcome>, StoreError>;
    fn update_cart(&self, customer: CustomerKey, cart_id: &str, lines: &[LineRequest], now: Timestamp, lifetime: Duration, idempotency: Option<&Idempotency>) -> Result<Recorded<CartOutcome>, StoreError>;
    fn cart(&self, customer: CustomerKey, cart_id: &str) -> Result<Option<Cart>, StoreError>;
    fn checkout(&self, customer: CustomerKey, cart_id: &str, order_ids: OrderIds, now: Timestamp, idempotency: Option<&Idempotency>) -> Result<Recorded<CheckoutOutcome>, StoreError>;
    fn place_order(&self, customer: CustomerKey, order_id: &str, lines: &[LineRequest], now: Timestamp, idempotency: Option<&Idempotency>) -> Result<Recorded<OrderOutcome>, StoreError>;
    fn cancel_order(&self, customer: CustomerKey, order_id: &str, now: Timestamp, idempotency: Option<&Idempotency>) -> Result<Recorded<CancelOutcome>, StoreError>;
    fn order(&self, customer: CustomerKey, order_id: &str) -> Result<Option<Order>, StoreError>;
    fn orders(&self, customer: CustomerKey) -> Result<Option<Vec<Order>>, StoreError>;
    fn carts(&self, customer: CustomerKey) -> Result<Option<Vec<Cart>>, StoreError>;
});

bounded!(JobQueue {
    fn release_orphaned_claims(&self) -> Result<(), StoreError>;
    fn claim_registrations(&self, accepted_by: Timestamp, now: Timestamp, lease: Duration, limit: u32) -> Result<Vec<ClaimedRegistration>, StoreError>;
    fn complete_registrations(&self, claimed: &[ClaimedRegistration], now: Timestamp) -> Result<Vec<CompletedRegistration>, StoreError>;
    fn next_registration_due(&self, delay: Duration) -> Result<Option<Timestamp>, StoreError>;
    fn queue_depth(&self) -> Result<u64, StoreError>;
    fn claim_orders(&self, placed_by: Timestamp, now: Timestamp, lease: Duration, limit: u32) -> Result<Vec<String>, StoreError>;
    fn provision_orders(&self, claimed: &[String], now: Timestamp) -> Result<Vec<Order>, StoreError>;
    fn next_order_due(&self, delay: Duration) -> Result<Option<Timestamp>, StoreError>;
    fn order_counts(&self) -> Result<Vec<(OrderStatus, u64)>, StoreError>;
    fn purge_idempotency(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError>;
});

bounded!(IdentityStore {
    fn application(&self, tenant: TenantId, client_id: ClientId) -> Result<Option<Application>, StoreError>;
    fn signing_key(&self, candidate: SigningKey) -> Result<SigningKey, StoreError>;
});

bounded!(AdminStore {
    fn list_partners(&self) -> Result<Vec<Partner>, StoreError>;
    fn put_partner(&self, partner: &Partner, now: Timestamp) -> Result<Upserted, StoreError>;
    fn delete_partner(&self, tenant: TenantId) -> Result<bool, StoreError>;
    fn put_customer(&self, key: CustomerKey, company_name: &str, domain: Option<&str>, now: Timestamp) -> Result<Option<Upserted>, StoreError>;
    fn delete_customer(&self, tenant: TenantId, customer: CustomerId) -> Result<bool, StoreError>;
    fn put_subscription(&self, tenant: TenantId, customer: CustomerId, subscription: &FixtureSubscription, now: Timestamp) -> Result<Lookup<Upserted>, StoreError>;
    fn delete_subscription(&self, key: &SubscriptionKey) -> Result<bool, StoreError>;
    fn subscription(&self, key: &SubscriptionKey) -> Result<Lookup<SubscriptionDetail>, StoreError>;
    fn registration_history(&self, key: &SubscriptionKey) -> Result<Lookup<Vec<RegistrationRecord>>, StoreError>;
    fn settle_registration(&self, key: &SubscriptionKey, ending: RegistrationEnding, now: Timestamp) -> Result<Lookup<Settled>, StoreError>;
    fn advance_order(&self, customer: CustomerKey, order_id: &str, now: Timestamp) -> Result<Option<Order>, StoreError>;
} unbounded {
    fn reset(&self) -> Result<(), StoreError>;
});

bounded!(FixtureStore {} unbounded {
    fn apply_fixture(&self, fixture: &Fixture) -> Result<SeedReport, StoreError>;
});
