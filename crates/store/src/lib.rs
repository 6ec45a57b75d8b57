//! Durable state of the Partner Center service: it loads, locks and persists; it decides nothing.
//!
//! Every write is one transaction inside one method: the store loads and locks what a decision of
//! the domain core (`partner-center-domain`) needs, calls it, and persists the
//! [`Change`]s it returns. The capabilities are separate traits, so
//! that a reader sees what each part of the server may touch: [`RequestStore`] (the request path),
//! [`JobQueue`] (the worker and the janitor), [`IdentityStore`] (the built-in identity provider),
//! [`AdminStore`] (operators) and [`FixtureStore`] (seeding); [`Store`] is all of them.
//! [`SqliteStore`] is the embedded implementation and the default; [`open`] picks the
//! implementation from a database URL.
//!
//! # Layout
//!
//! - this file: the traits and the types they speak;
//! - [`sqlite`]: the SQLite implementation and its embedded migrations (`migrations/sqlite/`);
//! - [`postgres`]: the PostgreSQL implementation (`migrations/postgres/`);
//! - [`secret`]: client secrets, hashed and checked off the write path.
//!
//! # The registration queue
//!
//! Accepting a registration ([`RequestStore::register`]) writes, in one transaction, the
//! subscription's new state, a row of registration history and a job in the durable queue. The
//! worker claims due jobs ([`JobQueue::claim_registrations`]) under a lease and settles them
//! ([`JobQueue::complete_registrations`]). Work is at-least-once; a job whose registration was
//! settled before only loses its job, so a registration is settled exactly once however often its
//! job runs.

use std::fmt::Debug;
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
    ActivateOutcome, Change, ClaimedRegistration, CompletedRegistration, CustomerKey, Lookup,
    Partner, RegisterOutcome, SeedReport, Settled, SubscriptionKey, Upserted,
};
use partner_center_model::fixture::FixtureSubscription;
use partner_center_model::{
    ClientId, CustomerId, Fixture, RegistrationEnding, RegistrationState, TenantId, Timestamp,
};

mod codec;
mod deadline;
mod outcome;
mod partners;
pub mod postgres;
mod purchase_context;
pub mod secret;
pub mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

pub use deadline::Deadline;
pub use postgres::PostgresStore;
pub use sqlite::SqliteStore;

/// A failure of the storage layer. Callers answer 500 (503 when it [is
/// unavailable](StoreError::is_unavailable)) and log it; it is never shown to clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database (PostgreSQL) failed or could not be reached.
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    /// The database (SQLite) failed.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The database is busy, locked by another process, or cannot be written: a request may
    /// succeed later.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// A migration could not be applied.
    #[error("migration failed: {0}")]
    Migrate(String),
    /// The database holds a value this version cannot read.
    #[error("unreadable stored value: {0}")]
    Corrupt(String),
    /// The database URL names no supported backend, or is malformed.
    #[error(
        "unsupported database URL `{0}`: expected sqlite://FILE, sqlite::memory: or postgres://..."
    )]
    UnsupportedUrl(String),
    /// One failure of a statement that answered several requests together (PostgreSQL's batched
    /// status reads), as each of them sees it.
    #[error(transparent)]
    Shared(std::sync::Arc<StoreError>),
}

impl From<sqlx::migrate::MigrateError> for StoreError {
    fn from(err: sqlx::migrate::MigrateError) -> Self {
        Self::Migrate(err.to_string())
    }
}

impl StoreError {
    /// Whether the failure is the database being unreachable or overloaded (a timeout, a refused or
    /// broken connection, a lock held too long) rather than a bug: the request may succeed if
    /// retried later.
    #[must_use]
    pub fn is_unavailable(&self) -> bool {
        match self {
            Self::Unavailable(_) => true,
            Self::Shared(err) => err.is_unavailable(),
            Self::Database(
                sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_),
            ) => true,
            // A connection cut while it was being opened, during its TLS negotiation: sqlx reports
            // the missing or garbled answer to its `SSLRequest` as a protocol error.
            Self::Database(sqlx::Error::Protocol(message)) => {
                message.starts_with("unexpected response from SSLRequest")
            }
            // PostgreSQL: statement or lock timeout, too many connections, shutting down.
            Self::Database(sqlx::Error::Database(db)) => db.code().is_some_and(|code| {
                matches!(
                    code.as_ref(),
                    "57014" | "55P03" | "53300" | "57P01" | "57P02" | "57P03"
                )
            }),
            Self::Sqlite(rusqlite::Error::SqliteFailure(err, _)) => matches!(
                err.code,
                rusqlite::ErrorCode::DatabaseBusy
                    | rusqlite::ErrorCode::DatabaseLocked
                    | rusqlite::ErrorCode::DiskFull
                    | rusqlite::ErrorCode::SystemIoFailure
                    | rusqlite::ErrorCode::CannotOpen
            ),
            _ => false,
        }
    }
}

/// Connection settings of a store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// Most connections open at once (PostgreSQL; SQLite's readers).
    pub max_connections: u32,
    /// How long a request may wait for a free connection (PostgreSQL; SQLite's readers), or for
    /// the writer to take its write (SQLite), before failing as unavailable.
    pub acquire_timeout: Duration,
    /// How long a statement may run, or wait for a lock, before failing.
    pub statement_timeout: Duration,
    /// SQLite: how many subscriptions' registration states are kept in memory for reads (about 18
    /// bytes each).
    pub memory_index: usize,
    /// SQLite: open without claiming the database for this process, beside the process that serves
    /// it. Only for short-lived tools (`partner-center token` reading the signing key) that change
    /// nothing the serving process keeps in memory (partners, subscriptions, registrations).
    pub shared: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(10),
            memory_index: 1 << 20,
            shared: false,
        }
    }
}

/// A migration this build knows, as `partner-center migrate` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MigrationStatus {
    /// Its version.
    pub version: i64,
    /// What it does.
    pub description: String,
    /// Whether this run applied it (else it was applied before).
    pub applied_now: bool,
}

/// The idempotency key of a POST that carried an `MS-RequestId`: with the partner of the
/// [`SubscriptionKey`], it identifies the request; its outcome is kept until `expires_at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Idempotency {
    /// The client's `MS-RequestId`, as sent.
    pub request_id: String,
    /// The HTTP method.
    pub method: String,
    /// The normalised path (version `v1`, lower-case literals and ids).
    pub path: String,
    /// Until when a repeat gets this request's outcome.
    pub expires_at: Timestamp,
}

/// An outcome, and whether it is the stored outcome of an earlier request with the same
/// idempotency key rather than the effect of this one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recorded<T> {
    /// What the request did (or what its first occurrence did).
    pub outcome: T,
    /// `true` when this is a repeat: nothing was executed.
    pub replayed: bool,
    /// The carts and orders the request saved, as it saved them (none when it is a repeat).
    pub saved: Saved,
}

impl<T> Recorded<T> {
    /// A request's own outcome, with what it saved.
    #[must_use]
    pub fn fresh(outcome: T, saved: Saved) -> Self {
        Self {
            outcome,
            replayed: false,
            saved,
        }
    }

    /// An earlier request's stored outcome: nothing was executed, or saved.
    #[must_use]
    pub fn repeat(outcome: T) -> Self {
        Self {
            outcome,
            replayed: true,
            saved: Saved::default(),
        }
    }
}

/// The carts and orders a write saved, as it saved them: what its answer shows, without reading
/// them again. A repeat's is empty: its answer reads them as they are now.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Saved {
    carts: Vec<Cart>,
    orders: Vec<Order>,
}

impl Saved {
    /// The carts and orders that `changes` put.
    pub(crate) fn of(changes: impl IntoIterator<Item = Change>) -> Self {
        let mut saved = Self::default();
        for change in changes {
            saved.keep(change);
        }
        saved
    }

    /// Keeps the cart or the order that `change` puts, persisted already; hands back any other
    /// change.
    pub(crate) fn keep(&mut self, change: Change) -> Option<Change> {
        match change {
            Change::CartPut(cart) => self.carts.push(cart),
            Change::OrderPut(order) => self.orders.push(order),
            other => return Some(other),
        }
        None
    }

    /// Cart `id`, as the write last saved it.
    #[must_use]
    pub fn cart(&self, id: &str) -> Option<&Cart> {
        self.carts.iter().rev().find(|cart| cart.id == id)
    }

    /// Order `id`, as the write last saved it.
    #[must_use]
    pub fn order(&self, id: &str) -> Option<&Order> {
        self.orders.iter().rev().find(|order| order.id == id)
    }
}

/// An application registered in a partner's tenant, for the built-in identity provider.
#[derive(Clone, PartialEq, Eq)]
pub struct Application {
    /// The partner's tenant.
    pub tenant: TenantId,
    /// The application (client) id.
    pub client_id: ClientId,
    /// Display name.
    pub name: String,
    /// The client secret's hash (see [`secret`]).
    pub secret_hash: String,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("tenant", &self.tenant)
            .field("client_id", &self.client_id)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

/// The built-in identity provider's signing key.
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey {
    /// Its key id (`kid`).
    pub kid: String,
    /// The private key, PKCS#8 DER (RSA).
    pub private_key_pkcs8: Vec<u8>,
    /// When it was made.
    pub created_at: Timestamp,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("created_at", &self.created_at)
            .finish_non_exhaustive()
    }
}

/// One registration of a subscription, from its history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RegistrationRecord {
    /// When it was accepted.
    pub requested_at: Timestamp,
    /// When it was settled, if it was.
    pub completed_at: Option<Timestamp>,
    /// How it ended; `None` while it is in progress.
    pub ending: Option<RegistrationEnding>,
}

impl RegistrationRecord {
    /// `Registering` while in progress, then how it ended (`Registered` or `Failed`): the name
    /// the history stores, and the admin API shows.
    #[must_use]
    pub const fn state_name(&self) -> &'static str {
        record_state(self.ending)
    }
}

/// How a registration's history row stores where it stands: `Registering` while in progress, then
/// how it ended.
pub(crate) const fn record_state(ending: Option<RegistrationEnding>) -> &'static str {
    match ending {
        None => RegistrationState::Registering.as_str(),
        Some(ending) => ending.as_str(),
    }
}

/// A history row's stored state, read back.
pub(crate) fn record_ending(stored: &str) -> Result<Option<RegistrationEnding>, StoreError> {
    if stored == record_state(None) {
        return Ok(None);
    }
    stored
        .parse()
        .map(Some)
        .map_err(|e| StoreError::Corrupt(format!("registration state: {e}")))
}

/// How a queued registration is to end, from its job's `fails` flag.
pub(crate) const fn planned_ending(fails: bool) -> RegistrationEnding {
    if fails {
        RegistrationEnding::Failed
    } else {
        RegistrationEnding::Registered
    }
}

/// A subscription with its registration history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionDetail {
    /// The subscription.
    pub subscription: SubscriptionRecord,
    /// Its registrations, oldest first.
    pub registrations: Vec<RegistrationRecord>,
}

/// What the request path may touch: the partner of a token, and the three routes' reads and
/// writes. Every write runs a decision of the domain core in one transaction.
#[async_trait]
pub trait RequestStore: Debug + Send + Sync {
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// The partner with this tenant id, if any.
    async fn partner(&self, tenant: TenantId) -> Result<Option<Partner>, StoreError>;

    /// The service's own key `name`: the stored one, or `candidate` stored now if there is none
    /// yet. Several processes racing to create it all end up with the same key.
    async fn service_key(&self, name: &str, candidate: Vec<u8>) -> Result<Vec<u8>, StoreError>;

    /// A customer of a partner, if it is one.
    async fn customer(&self, key: CustomerKey) -> Result<Option<CustomerRecord>, StoreError>;

    /// Up to `limit` customers of a partner in the order they were added, after the customer at
    /// `after` (from the first when `None`), each with its position in that order (the cursor of
    /// the next page).
    async fn customers(
        &self,
        partner: TenantId,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<(i64, CustomerRecord)>, StoreError>;

    /// A customer's subscriptions (only those the order `order_id` created, when given), by id;
    /// `None` when the partner has no such customer.
    async fn subscriptions(
        &self,
        customer: CustomerKey,
        order_id: Option<&str>,
    ) -> Result<Option<Vec<SubscriptionRecord>>, StoreError>;

    /// A subscription of a partner's customer.
    async fn find_subscription(
        &self,
        key: &SubscriptionKey,
    ) -> Result<Lookup<SubscriptionRecord>, StoreError>;

    /// The registration state of a subscription.
    async fn registration_status(
        &self,
        key: &SubscriptionKey,
    ) -> Result<Lookup<RegistrationState>, StoreError>;

    /// Registers a subscription for Reserved Instance purchase
    /// ([`registration::register`](partner_center_domain::registration::register)); a
    /// registration it accepts will end as `ending` says (fault injection may make it fail).
    ///
    /// With an [`Idempotency`] key: when an unexpired record of the same key exists, returns its
    /// outcome (`replayed`) and changes nothing; otherwise records this outcome with the key in the
    /// same transaction as its effect. Concurrent requests with one key execute once.
    async fn register(
        &self,
        key: &SubscriptionKey,
        now: Timestamp,
        idempotency: Option<&Idempotency>,
        ending: RegistrationEnding,
    ) -> Result<Recorded<Lookup<RegisterOutcome>>, StoreError>;

    /// Activates a pending SaaS subscription of a sandbox partner
    /// ([`activation::activate`](partner_center_domain::activation::activate)); idempotent as
    /// [`RequestStore::register`].
    async fn activate(
        &self,
        key: &SubscriptionKey,
        now: Timestamp,
        idempotency: Option<&Idempotency>,
    ) -> Result<Recorded<Lookup<ActivateOutcome>>, StoreError>;
}

/// What buying may touch: the catalog, carts, their checkout, orders and their cancellation. Every
/// write runs a decision of the domain core (`purchase`) against the customer's facts (its
/// subscriptions, its pending orders, whether its partner is a sandbox), loaded and locked in the
/// same transaction; and is idempotent as [`RequestStore::register`].
#[async_trait]
pub trait PurchaseStore: Debug + Send + Sync {
    /// The catalog: the one a fixture declared, else the built-in sandbox catalog.
    async fn catalog(&self) -> Result<Catalog, StoreError>;

    /// Creates cart `cart_id` for `customer` with `lines`, each line checked.
    async fn create_cart(
        &self,
        customer: CustomerKey,
        cart_id: &str,
        lines: &[LineRequest],
        now: Timestamp,
        lifetime: Duration,
        idempotency: Option<&Idempotency>,
    ) -> Result<Recorded<CartOutcome>, StoreError>;

    /// Replaces the lines of an active cart, each line checked.
    async fn update_cart(
        &self,
        customer: CustomerKey,
        cart_id: &str,
        lines: &[LineRequest],
        now: Timestamp,
        lifetime: Duration,
        idempotency: Option<&Idempotency>,
    ) -> Result<Recorded<CartOutcome>, StoreError>;

    /// A cart of a customer of the partner, as it is stored (expired or not).
    async fn cart(&self, customer: CustomerKey, cart_id: &str) -> Result<Option<Cart>, StoreError>;

    /// Checks a cart out: one order per order group, with ids from `order_ids`, or nothing at all
    /// when a line fails its checks.
    async fn checkout(
        &self,
        customer: CustomerKey,
        cart_id: &str,
        order_ids: OrderIds,
        now: Timestamp,
        idempotency: Option<&Idempotency>,
    ) -> Result<Recorded<CheckoutOutcome>, StoreError>;

    /// Places order `order_id` directly, with `lines` checked as a cart's.
    async fn place_order(
        &self,
        customer: CustomerKey,
        order_id: &str,
        lines: &[LineRequest],
        now: Timestamp,
        idempotency: Option<&Idempotency>,
    ) -> Result<Recorded<OrderOutcome>, StoreError>;

    /// Cancels an order (sandbox partners only).
    async fn cancel_order(
        &self,
        customer: CustomerKey,
        order_id: &str,
        now: Timestamp,
        idempotency: Option<&Idempotency>,
    ) -> Result<Recorded<CancelOutcome>, StoreError>;

    /// An order of a customer of the partner.
    async fn order(
        &self,
        customer: CustomerKey,
        order_id: &str,
    ) -> Result<Option<Order>, StoreError>;

    /// A customer's orders, newest first; `None` when the partner has no such customer.
    async fn orders(&self, customer: CustomerKey) -> Result<Option<Vec<Order>>, StoreError>;

    /// A customer's carts, newest first; `None` when the partner has no such customer.
    async fn carts(&self, customer: CustomerKey) -> Result<Option<Vec<Cart>>, StoreError>;
}

/// What the background work may touch: the durable queues of registrations to settle and of
/// orders to provision, and the purge of expired idempotency records.
#[async_trait]
pub trait JobQueue: Debug + Send + Sync {
    /// Called once when the service starts: makes claims on queued work that a previous process
    /// held and can no longer complete claimable again, where the backend can tell.
    async fn release_orphaned_claims(&self) -> Result<(), StoreError>;

    /// Claims up to `limit` queued registrations accepted at or before `accepted_by` and not under
    /// an unexpired lease, leasing them until `now + lease`.
    async fn claim_registrations(
        &self,
        accepted_by: Timestamp,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<ClaimedRegistration>, StoreError>;

    /// Settles claimed registrations
    /// ([`registration::complete`](partner_center_domain::registration::complete)) and removes
    /// their jobs, in one transaction. Returns those this call settled; one settled before (by an
    /// earlier attempt) is not returned again.
    async fn complete_registrations(
        &self,
        claimed: &[ClaimedRegistration],
        now: Timestamp,
    ) -> Result<Vec<CompletedRegistration>, StoreError>;

    /// The earliest time at which a queued registration becomes claimable, given that a
    /// registration is due `delay` after it was accepted; `None` when the queue is empty.
    async fn next_registration_due(&self, delay: Duration)
    -> Result<Option<Timestamp>, StoreError>;

    /// How many registrations are queued.
    async fn queue_depth(&self) -> Result<u64, StoreError>;

    /// Claims up to `limit` queued orders placed at or before `placed_by` and not under an
    /// unexpired lease, leasing them until `now + lease`.
    async fn claim_orders(
        &self,
        placed_by: Timestamp,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<String>, StoreError>;

    /// Provisions claimed orders ([`purchase::provision`](partner_center_domain::purchase::provision))
    /// and removes their jobs, in one transaction; returns those this call provisioned.
    async fn provision_orders(
        &self,
        claimed: &[String],
        now: Timestamp,
    ) -> Result<Vec<Order>, StoreError>;

    /// The earliest time at which a queued order becomes claimable, given that an order is due
    /// `delay` after it was placed; `None` when the queue is empty.
    async fn next_order_due(&self, delay: Duration) -> Result<Option<Timestamp>, StoreError>;

    /// How many orders there are in each status.
    async fn order_counts(&self) -> Result<Vec<(OrderStatus, u64)>, StoreError>;

    /// Deletes up to `limit` idempotency records that expired at or before `now`, and says how many
    /// it deleted. Short, so that it never holds up requests for long.
    async fn purge_idempotency(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError>;
}

/// What the built-in identity provider may touch: its applications and its signing key.
#[async_trait]
pub trait IdentityStore: Debug + Send + Sync {
    /// The application `client_id` of partner `tenant`, if it is registered.
    async fn application(
        &self,
        tenant: TenantId,
        client_id: ClientId,
    ) -> Result<Option<Application>, StoreError>;

    /// The identity provider's signing key: the stored one, or `candidate` stored now if there is
    /// none yet. Several processes racing to create it all end up with the same key.
    async fn signing_key(&self, candidate: SigningKey) -> Result<SigningKey, StoreError>;
}

/// What operators may touch through the admin API
/// ([`operator`](partner_center_domain::operator) decides its writes).
#[async_trait]
pub trait AdminStore: Debug + Send + Sync {
    /// Every partner, by tenant id.
    async fn list_partners(&self) -> Result<Vec<Partner>, StoreError>;

    /// Creates or updates a partner.
    async fn put_partner(&self, partner: &Partner, now: Timestamp) -> Result<Upserted, StoreError>;

    /// Deletes a partner and everything that is its; `false` when there was none.
    async fn delete_partner(&self, tenant: TenantId) -> Result<bool, StoreError>;

    /// Creates or updates a customer of a partner (its domain derived when `None`); `None` when
    /// there is no such partner.
    async fn put_customer(
        &self,
        key: CustomerKey,
        company_name: &str,
        domain: Option<&str>,
        now: Timestamp,
    ) -> Result<Option<Upserted>, StoreError>;

    /// Deletes a customer and its subscriptions; `false` when there was none.
    async fn delete_customer(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<bool, StoreError>;

    /// Creates or updates a subscription (every field as given; a new one is `NotRegistered`).
    /// `Found` when the customer exists.
    async fn put_subscription(
        &self,
        tenant: TenantId,
        customer: CustomerId,
        subscription: &FixtureSubscription,
        now: Timestamp,
    ) -> Result<Lookup<Upserted>, StoreError>;

    /// Deletes a subscription and its registrations; `false` when there was none.
    async fn delete_subscription(&self, key: &SubscriptionKey) -> Result<bool, StoreError>;

    /// A subscription with its registration history.
    async fn subscription(
        &self,
        key: &SubscriptionKey,
    ) -> Result<Lookup<SubscriptionDetail>, StoreError>;

    /// The registrations of a subscription, oldest first.
    async fn registration_history(
        &self,
        key: &SubscriptionKey,
    ) -> Result<Lookup<Vec<RegistrationRecord>>, StoreError>;

    /// Ends a subscription's registration in progress now, as `ending` says, whatever the delay
    /// ([`registration::settle`](partner_center_domain::registration::settle)).
    async fn settle_registration(
        &self,
        key: &SubscriptionKey,
        ending: RegistrationEnding,
        now: Timestamp,
    ) -> Result<Lookup<Settled>, StoreError>;

    /// Deletes every partner (and so everything), the declared catalog and every idempotency
    /// record. The identity provider's signing key stays.
    async fn reset(&self) -> Result<(), StoreError>;

    /// Provisions a customer's pending order now, whatever the delay (a `manual` order); `None`
    /// when the customer has no such order, the order as it then is otherwise.
    async fn advance_order(
        &self,
        customer: CustomerKey,
        order_id: &str,
        now: Timestamp,
    ) -> Result<Option<Order>, StoreError>;
}

/// What loading a fixture may touch.
#[async_trait]
pub trait FixtureStore: Debug + Send + Sync {
    /// Applies a fixture ([`seed::apply`](partner_center_domain::seed::apply)): creates what it
    /// declares and is missing, updates descriptive fields of what exists, keeps what clients did.
    /// Applying the same fixture twice changes nothing.
    async fn apply_fixture(&self, fixture: &Fixture) -> Result<SeedReport, StoreError>;
}

/// The service's durable state, every capability: each method is atomic. The parts of the server
/// take the capability they need ([`RequestStore`], [`PurchaseStore`], [`JobQueue`],
/// [`IdentityStore`], [`AdminStore`], [`FixtureStore`]).
pub trait Store:
    RequestStore + PurchaseStore + JobQueue + IdentityStore + AdminStore + FixtureStore + 'static
{
}

impl<
    T: RequestStore + PurchaseStore + JobQueue + IdentityStore + AdminStore + FixtureStore + 'static,
> Store for T
{
}

/// Opens the store a database URL names (`sqlite://FILE`, `sqlite:FILE`, `sqlite::memory:`,
/// `postgres://...`) and brings its schema up to date.
///
/// # Errors
///
/// [`StoreError::UnsupportedUrl`] for another scheme; any failure to open or migrate the database.
pub async fn open(url: &str, options: StoreOptions) -> Result<Arc<dyn Store>, StoreError> {
    match Backend::of(url)? {
        Backend::Sqlite => Ok(Arc::new(SqliteStore::open_with(url, options).await?)),
        Backend::Postgres => {
            let store = PostgresStore::open(url, options).await?;
            // A server that stops answering must not hold a call forever (see `deadline`).
            let limit = options
                .acquire_timeout
                .saturating_add(options.statement_timeout);
            Ok(Arc::new(Deadline::new(Arc::new(store), limit)))
        }
    }
}

/// Applies the pending migrations of the database `url` names, and reports every migration this
/// build knows.
///
/// # Errors
///
/// As [`open`].
pub async fn migrate(url: &str, options: StoreOptions) -> Result<Vec<MigrationStatus>, StoreError> {
    let migrations = match Backend::of(url)? {
        Backend::Sqlite => SqliteStore::migrate(url).await?,
        Backend::Postgres => PostgresStore::migrate(url, options).await?,
    };
    Ok(migrations
        .into_iter()
        .map(|(version, description, applied_before)| MigrationStatus {
            version,
            description,
            applied_now: !applied_before,
        })
        .collect())
}

enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn of(url: &str) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Self::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(redact_url(url)))
        }
    }
}

/// A database URL with any password replaced by `***`, for logs and errors.
#[must_use]
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    match authority.rfind('@') {
        Some(at) => {
            let userinfo = &authority[..at];
            match userinfo.split_once(':') {
                Some((user, _password)) => {
                    format!("{scheme}://{user}:***{}", &rest[at..])
                }
                None => url.to_owned(),
            }
        }
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite://data.db"), "sqlite://data.db");
        assert_eq!(redact_url("sqlite::memory:"), "sqlite::memory:");
    }

    #[test]
    fn a_connection_cut_during_its_tls_negotiation_is_unavailability_not_a_bug() {
        let protocol = |message: &str| StoreError::Database(sqlx::Error::Protocol(message.into()));
        assert!(protocol("unexpected response from SSLRequest: 0x00").is_unavailable());
        assert!(!protocol("unknown message type: 'x'").is_unavailable());
    }
}
