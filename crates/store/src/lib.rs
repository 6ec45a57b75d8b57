//! Durable state of the Partner Center service.
//!
//! [`Store`] is the storage trait: one method per use case, each one atomic (the transaction lives
//! inside the method, never in the caller). [`SqliteStore`] is the embedded implementation and the
//! default; [`open`] picks the implementation from a database URL.
//!
//! # Layout
//!
//! - this file: the trait and the types it speaks ([`Partner`], [`SubscriptionKey`], the outcome enums);
//! - [`sqlite`]: the SQLite implementation and its embedded migrations (`migrations/sqlite/`);
//! - [`postgres`]: the PostgreSQL implementation (`migrations/postgres/`).
//!
//! # The registration queue
//!
//! Accepting a registration ([`Store::register`]) writes, in one transaction, the subscription's new
//! state, a row of registration history and a job in the durable queue. The worker claims due jobs
//! ([`Store::claim_registrations`]) under a lease and completes them
//! ([`Store::complete_registrations`]). Work is at-least-once; completion is a conditional update, so a
//! registration is completed exactly once however often its job runs.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use partner_center_model::{
    ClientId, CustomerId, Fixture, RegistrationStatus, SubscriptionId, SubscriptionKind,
    SubscriptionStatus, TenantId, Timestamp,
};

mod outcome;
pub mod postgres;
pub mod secret;
pub mod sqlite;
#[cfg(feature = "testing")]
pub mod testing;

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
            Self::Database(
                sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Io(_)
                | sqlx::Error::Tls(_),
            ) => true,
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
    /// How long a request may wait for a free connection before failing.
    pub acquire_timeout: Duration,
    /// How long a statement may run, or wait for a lock, before failing.
    pub statement_timeout: Duration,
    /// SQLite: how many subscriptions' registration states are kept in memory for reads (17 bytes
    /// each).
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

/// A partner account: the tenant whose tokens the service accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Partner {
    /// The partner's Entra tenant id (the `tid` of its tokens).
    pub tenant_id: TenantId,
    /// Display name.
    pub name: String,
    /// Whether the account is an integration sandbox.
    pub sandbox: bool,
}

/// A subscription as a partner addresses it: every lookup is scoped to the partner, so that one
/// tenant can never reach another's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SubscriptionKey {
    /// The calling partner.
    pub partner: TenantId,
    /// The customer, as named in the path.
    pub customer: CustomerId,
    /// The subscription, as named in the path.
    pub subscription: SubscriptionId,
}

/// The result of a lookup scoped to a partner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup<T> {
    /// The subscription exists for this partner and customer.
    Found(T),
    /// The partner has no such customer (whether or not another partner has).
    CustomerNotFound,
    /// The customer exists but has no such subscription.
    SubscriptionNotFound,
}

impl<T> Lookup<T> {
    /// The found value transformed by `f`; a missing customer or subscription stays missing.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Lookup<U> {
        match self {
            Self::Found(value) => Lookup::Found(f(value)),
            Self::CustomerNotFound => Lookup::CustomerNotFound,
            Self::SubscriptionNotFound => Lookup::SubscriptionNotFound,
        }
    }

    /// The found value, or what was missing, re-typed for a caller to return as it is.
    ///
    /// # Errors
    ///
    /// The missing customer or subscription.
    pub fn found<U>(self) -> Result<T, Lookup<U>> {
        match self {
            Self::Found(value) => Ok(value),
            Self::CustomerNotFound => Err(Lookup::CustomerNotFound),
            Self::SubscriptionNotFound => Err(Lookup::SubscriptionNotFound),
        }
    }
}

/// What [`Store::register`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegisterOutcome {
    /// A registration was recorded; the subscription is now `Registering`.
    Accepted,
    /// A registration is already in progress; nothing was recorded.
    AlreadyRegistering,
    /// The subscription is already registered; nothing was recorded.
    AlreadyRegistered,
    /// The subscription is not an Azure subscription.
    IneligibleKind(SubscriptionKind),
    /// The subscription is not active.
    IneligibleStatus(SubscriptionStatus),
}

/// What [`Store::activate`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActivateOutcome {
    /// The partner's account is not an integration sandbox. Checked before the customer is looked
    /// up, so it is answered `Found` whatever the customer.
    NotSandbox,
    /// The subscription went from `pending` to `active`.
    Activated,
    /// The subscription was already active; nothing changed.
    AlreadyActive,
    /// The subscription is not a third-party SaaS subscription.
    NotSaas(SubscriptionKind),
    /// The subscription's status does not allow activation (suspended, deleted, ...).
    NotActivatable(SubscriptionStatus),
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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Recorded<T> {
    /// What the request did (or what its first occurrence did).
    pub outcome: T,
    /// `true` when this is a repeat: nothing was executed.
    pub replayed: bool,
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

/// How one registration of a subscription stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RegistrationState {
    /// Accepted, not completed yet.
    Registering,
    /// Completed: the subscription is registered.
    Registered,
    /// Ended in failure: the subscription went back to `NotRegistered`.
    Failed,
}

impl RegistrationState {
    /// The stored (and wire) name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Registering => "Registering",
            Self::Registered => "Registered",
            Self::Failed => "Failed",
        }
    }
}

impl std::str::FromStr for RegistrationState {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "Registering" => Ok(Self::Registering),
            "Registered" => Ok(Self::Registered),
            "Failed" => Ok(Self::Failed),
            other => Err(format!("unknown registration state `{other}`")),
        }
    }
}

impl std::fmt::Display for RegistrationState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One registration of a subscription, from the history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationRecord {
    /// How it stands.
    pub state: RegistrationState,
    /// When it was accepted.
    pub requested_at: Timestamp,
    /// When it completed, if it has.
    pub completed_at: Option<Timestamp>,
}

/// A queued registration the worker has claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClaimedRegistration {
    /// The registration (history row) to complete.
    pub registration: i64,
    /// How many times it has been claimed, this claim included.
    pub attempts: i64,
    /// Whether it is to end in failure (decided when it was accepted).
    pub fails: bool,
}

/// A registration the worker completed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CompletedRegistration {
    /// Whose subscription it was.
    pub key: SubscriptionKey,
    /// When it was accepted.
    pub requested_at: Timestamp,
    /// When it completed.
    pub completed_at: Timestamp,
    /// Whether it ended in failure (the subscription is `NotRegistered` again).
    pub failed: bool,
}

/// A customer of a partner, as the administration API sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Customer {
    /// The customer's tenant id.
    pub id: CustomerId,
    /// Display name.
    pub company_name: String,
}

/// A subscription, as the administration API sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// Its id.
    pub id: SubscriptionId,
    /// What it is.
    pub kind: SubscriptionKind,
    /// Its status.
    pub status: SubscriptionStatus,
    /// The offer's display name.
    pub offer_name: String,
    /// Where its registration stands.
    pub registration: RegistrationStatus,
    /// When it was activated, if it was.
    pub activated_at: Option<Timestamp>,
}

/// A subscription with its registration history.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionDetail {
    /// The subscription.
    pub subscription: Subscription,
    /// Its registrations, oldest first.
    pub registrations: Vec<RegistrationRecord>,
}

/// Whether an upsert created or changed (or left alone) its row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Upserted {
    /// The row did not exist.
    Created,
    /// The row existed; it now has the given values.
    Updated,
}

/// What an operator does to a registration in progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settlement {
    /// Complete it now: the subscription becomes `Registered`.
    Complete,
    /// End it in failure: the subscription goes back to `NotRegistered`.
    Fail,
}

/// What [`Store::settle_registration`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settled {
    /// The registration in progress was settled.
    Done,
    /// There was no registration in progress; the subscription is as it says.
    NotRegistering(RegistrationStatus),
}

/// How much of a fixture was applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// Partners in the fixture.
    pub partners: u64,
    /// Customers in the fixture.
    pub customers: u64,
    /// Subscriptions in the fixture.
    pub subscriptions: u64,
    /// Rows created or changed; zero when the fixture was already applied.
    pub changed: u64,
}

/// The service's durable state. Every method is atomic.
#[async_trait]
pub trait Store: Debug + Send + Sync + 'static {
    /// Checks that the database answers.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Creates what the fixture declares and is missing, and updates descriptive fields (names,
    /// sandbox flag, kind, offer name, an application's secret) of what exists. A subscription's status is set only when it
    /// is created, and registration state is never touched, so re-applying a fixture at each start
    /// keeps what clients did. Applying the same fixture twice changes nothing.
    async fn apply_fixture(&self, fixture: &Fixture) -> Result<SeedReport, StoreError>;

    /// The partner with this tenant id, if any.
    async fn partner(&self, tenant: TenantId) -> Result<Option<Partner>, StoreError>;

    /// The application `client_id` of partner `tenant`, if it is registered.
    async fn application(
        &self,
        tenant: TenantId,
        client_id: ClientId,
    ) -> Result<Option<Application>, StoreError>;

    /// The identity provider's signing key: the stored one, or `candidate` stored now if there is
    /// none yet. Several processes racing to create it all end up with the same key.
    async fn signing_key(&self, candidate: SigningKey) -> Result<SigningKey, StoreError>;

    /// Called once when the service starts: makes claims on queued work that a previous process
    /// held and can no longer complete claimable again, where the backend can tell.
    async fn release_orphaned_claims(&self) -> Result<(), StoreError>;

    /// The registration status of a subscription.
    async fn registration_status(
        &self,
        key: &SubscriptionKey,
    ) -> Result<Lookup<RegistrationStatus>, StoreError>;

    /// Registers a subscription for Reserved Instance purchase: when it is eligible and
    /// `NotRegistered`, records the registration and queues its completion, atomically.
    ///
    /// With an [`Idempotency`] key: when an unexpired record of the same key exists, returns its
    /// outcome (`replayed`) and changes nothing; otherwise records this outcome with the key in the
    /// same transaction as its effect. Concurrent requests with one key execute once.
    ///
    /// With `fails`, a registration it accepts is to end in failure when the worker completes it
    /// (fault injection).
    async fn register(
        &self,
        key: &SubscriptionKey,
        now: Timestamp,
        idempotency: Option<&Idempotency>,
        fails: bool,
    ) -> Result<Recorded<Lookup<RegisterOutcome>>, StoreError>;

    /// Activates a pending SaaS subscription of a sandbox partner; idempotent as [`Store::register`].
    async fn activate(
        &self,
        key: &SubscriptionKey,
        now: Timestamp,
        idempotency: Option<&Idempotency>,
    ) -> Result<Recorded<Lookup<ActivateOutcome>>, StoreError>;

    /// Deletes up to `limit` idempotency records that expired at or before `now`, and says how many
    /// it deleted. Short, so that it never holds up requests for long.
    async fn purge_idempotency(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError>;

    /// The registrations of a subscription, oldest first.
    async fn registration_history(
        &self,
        key: &SubscriptionKey,
    ) -> Result<Lookup<Vec<RegistrationRecord>>, StoreError>;

    /// Claims up to `limit` queued registrations accepted at or before `accepted_by` and not under
    /// an unexpired lease, leasing them until `now + lease`.
    async fn claim_registrations(
        &self,
        accepted_by: Timestamp,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<ClaimedRegistration>, StoreError>;

    /// Completes claimed registrations (`Registering` → `Registered`) and removes their jobs, in
    /// one transaction. Returns those this call completed; a registration completed before (by an
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

    // Administration: what operators do through the admin API.

    /// Every partner, by tenant id.
    async fn list_partners(&self) -> Result<Vec<Partner>, StoreError>;

    /// Creates or updates a partner.
    async fn put_partner(&self, partner: &Partner, now: Timestamp) -> Result<Upserted, StoreError>;

    /// Deletes a partner and everything that is its; `false` when there was none.
    async fn delete_partner(&self, tenant: TenantId) -> Result<bool, StoreError>;

    /// A partner's customers, by id; `None` when there is no such partner.
    async fn list_customers(&self, tenant: TenantId) -> Result<Option<Vec<Customer>>, StoreError>;

    /// Creates or updates a customer of a partner; `None` when there is no such partner.
    async fn put_customer(
        &self,
        tenant: TenantId,
        customer: &Customer,
        now: Timestamp,
    ) -> Result<Option<Upserted>, StoreError>;

    /// Deletes a customer and its subscriptions; `false` when there was none.
    async fn delete_customer(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<bool, StoreError>;

    /// A customer's subscriptions, by id.
    async fn list_subscriptions(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<Lookup<Vec<Subscription>>, StoreError>;

    /// Creates or updates a subscription (kind, status and offer name as given; a new one is
    /// `NotRegistered`). `Found` when the customer exists.
    async fn put_subscription(
        &self,
        tenant: TenantId,
        customer: CustomerId,
        subscription: &partner_center_model::fixture::FixtureSubscription,
        now: Timestamp,
    ) -> Result<Lookup<Upserted>, StoreError>;

    /// Deletes a subscription and its registrations; `false` when there was none.
    async fn delete_subscription(&self, key: &SubscriptionKey) -> Result<bool, StoreError>;

    /// A subscription with its registration history.
    async fn subscription(
        &self,
        key: &SubscriptionKey,
    ) -> Result<Lookup<SubscriptionDetail>, StoreError>;

    /// Completes or fails a subscription's registration in progress now, whatever the delay.
    async fn settle_registration(
        &self,
        key: &SubscriptionKey,
        settlement: Settlement,
        now: Timestamp,
    ) -> Result<Lookup<Settled>, StoreError>;

    /// Deletes every partner (and so everything) and every idempotency record. The identity
    /// provider's signing key stays.
    async fn reset(&self) -> Result<(), StoreError>;
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
        Backend::Postgres => Ok(Arc::new(PostgresStore::open(url, options).await?)),
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
}
