//! The PostgreSQL implementation of the store, for several instances sharing one database.
//!
//! # Writes
//!
//! Every write runs in one transaction (read committed): it loads and locks what a decision of the
//! domain core needs, calls the decision, and persists the changes it returns (`persist` holds the
//! SQL of each change).
//!
//! A registration (the busiest write) is the exception: it needs no transaction around it. It
//! reads the subscription's row id and facts in one statement without locks, then writes its
//! decision in one statement that first locks the subscription's row (by its id) if it still has
//! the facts read, then claims the idempotency key, then writes the state, the registration and
//! its job only if both held. If nothing was written, it looks for the outcome stored under the
//! key (the answer, if there is one); else another request changed the subscription in between,
//! and it reads again. Two round trips where a transaction took four (begin, lock, write,
//! commit); a fresh request, the usual case, does not look for a stored outcome it will not find.
//! A decision without changes (a repeat's, usually) looks for the stored outcome before it claims
//! the key, so a repeat is answered by its second statement, which only reads.
//!
//! # Concurrency
//!
//! An activation or settlement locks the subscription's row (`FOR UPDATE`), and a settlement the
//! registration's row too, and a registration's write locks it too while it checks its facts, so
//! concurrent requests on one subscription serialise. An idempotency key is claimed last, by
//! inserting its record with the outcome, in the transaction (or a registration's statement) that
//! made the outcome: a concurrent request with the same key waits on the unique index until the
//! first ends, then finds the key taken, rolls back what it did and answers the stored outcome
//! (or, if the first rolled back, takes the key itself); so duplicates sent to different
//! instances take effect once. The worker claims due jobs with `FOR UPDATE SKIP LOCKED` and a lease, so
//! instances share the queue without blocking each other, and a crashed instance's claims are
//! taken again once their lease has passed.
//!
//! # Timeouts
//!
//! Every connection runs with a `statement_timeout`, a `lock_timeout` and server-side TCP
//! keepalives, and the pool has an acquire timeout, so that a slow or unreachable database makes
//! requests fail rather than hang; [`crate::open`] also bounds every call in time (see
//! [`crate::Deadline`]), for a server that stops answering without closing its connections.

use std::str::FromStr;
use std::time::Duration;

mod persist;
mod purchase;
mod reads;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::{StreamExt as _, TryStreamExt as _, stream};
use partner_center_domain::customer::CustomerRecord;
use partner_center_domain::purchase::{Order, OrderStatus};
use partner_center_domain::seed::{
    self, Existing, ExistingCustomer, ExistingSubscription, StoredApplication,
};
use partner_center_domain::subscription::SubscriptionRecord;
use partner_center_domain::{
    ActivateOutcome, ClaimedRegistration, CompletedRegistration, CustomerKey, Decision, Lookup,
    OpenRegistration, Partner, RegisterOutcome, RegistrationId, SeedReport, Settled,
    SubscriptionFacts, SubscriptionKey, Upserted, activation, operator, registration,
};
use partner_center_model::fixture::FixtureSubscription;
use partner_center_model::{
    ClientId, CustomerId, Fixture, RegistrationEnding, RegistrationState, TenantId, Timestamp,
};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, Row};

use crate::outcome::StoredOutcome;
use crate::partners::PartnerCache;
use crate::{
    AdminStore, Application, FixtureStore, Idempotency, IdentityStore, JobQueue, Recorded,
    RegistrationRecord, RequestStore, Saved, SigningKey, StoreError, StoreOptions,
    SubscriptionDetail, planned_ending, record_ending, record_state, secret,
};
use persist::RegistrationWrite;

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// How many times a registration reads again when what it read changed before it could write:
/// each time, another request changed the subscription, so this bounds only a pathological race.
const REGISTRATION_ATTEMPTS: usize = 8;

/// How long a pooled connection may have been idle and still be used without a ping.
const TRUSTED_IDLE: Duration = Duration::from_secs(1);

/// How long an instance trusts a partner it read: another instance's change to partners is seen
/// within it (see [`crate::partners`]).
const PARTNER_LIFETIME: Duration = Duration::from_secs(1);

/// The PostgreSQL store.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    partners: Arc<PartnerCache>,
    statuses: reads::StatusReads,
}

/// The claimed orders provisioned at once: a quarter of the pool, so that the worker leaves
/// most connections to requests, and at most this many.
const MAX_PROVISIONERS: u32 = 8;

fn provisioners(max_connections: u32) -> usize {
    usize::try_from((max_connections / 4).clamp(1, MAX_PROVISIONERS)).unwrap_or(1)
}

impl PostgresStore {
    /// Connects to the database `url` names (`postgres://user:password@host:port/database`, with
    /// libpq's query parameters such as `sslmode` or `options[search_path]`) and applies pending
    /// migrations (several instances starting at once take turns: sqlx holds an advisory lock).
    ///
    /// # Errors
    ///
    /// When the URL is malformed, the database cannot be reached, or a migration fails.
    pub async fn open(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        let pool = Self::connect(url, options).await?;
        MIGRATOR.run(&pool).await?;
        // The batched status reads have connections of their own (see `reads`): they neither wait
        // for the writes' connections nor hold them, and their one statement is planned once.
        let readers = pool_of(
            connect_options(url, options)?.options([("plan_cache_mode", "force_generic_plan")]),
            reads::IN_FLIGHT,
            options,
        )
        .await?;
        Ok(Self {
            statuses: reads::StatusReads::start(readers),
            pool,
            partners: Arc::new(PartnerCache::expiring(PARTNER_LIFETIME)),
        })
    }

    /// Connects without migrating, for `partner-center migrate` to report and apply migrations itself.
    async fn connect(url: &str, options: StoreOptions) -> Result<PgPool, StoreError> {
        pool_of(
            connect_options(url, options)?,
            options.max_connections,
            options,
        )
        .await
    }

    /// The migrations this build knows and whether each is applied; see [`crate::migrate`].
    pub(crate) async fn migrate(
        url: &str,
        options: StoreOptions,
    ) -> Result<Vec<(i64, String, bool)>, StoreError> {
        let pool = Self::connect(url, options).await?;
        let before = applied_versions(&pool).await;
        MIGRATOR.run(&pool).await?;
        Ok(MIGRATOR
            .iter()
            .map(|m| {
                (
                    m.version,
                    m.description.to_string(),
                    before.contains(&m.version),
                )
            })
            .collect())
    }
}

/// How each connection is opened.
fn connect_options(url: &str, options: StoreOptions) -> Result<PgConnectOptions, StoreError> {
    let millis = |d: Duration| format!("{}ms", d.as_millis());
    Ok(PgConnectOptions::from_str(url)?
        .application_name("partner-center")
        .options([
            ("statement_timeout", millis(options.statement_timeout)),
            ("lock_timeout", millis(options.statement_timeout)),
            (
                "idle_in_transaction_session_timeout",
                millis(options.statement_timeout * 6),
            ),
            // The server probes an idle connection after 10 s, and drops it after 3 probes 5 s
            // apart go unanswered, so a vanished instance's locks do not outlive it long. The
            // client side has no such setting in sqlx: every call is bounded by `Deadline`.
            ("tcp_keepalives_idle", "10".to_owned()),
            ("tcp_keepalives_interval", "5".to_owned()),
            ("tcp_keepalives_count", "3".to_owned()),
        ]))
}

/// A pool of at most `size` connections opened with `connect`.
async fn pool_of(
    connect: PgConnectOptions,
    size: u32,
    options: StoreOptions,
) -> Result<PgPool, StoreError> {
    Ok(PgPoolOptions::new()
        .max_connections(size)
        .acquire_timeout(options.acquire_timeout)
        // A connection used within the last second is handed out as it is; one idle for
        // longer is pinged first (and replaced if the ping fails). Pinging every one, sqlx's
        // default, costs a round trip to the server per query.
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= TRUSTED_IDLE {
                    conn.ping().await?;
                }
                Ok(true)
            })
        })
        .connect_with(connect)
        .await?)
}

async fn applied_versions(pool: &PgPool) -> Vec<i64> {
    sqlx::query_scalar("select version from _sqlx_migrations where success order by version")
        .fetch_all(pool)
        .await
        .unwrap_or_default()
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

fn parse_column<T: FromStr>(row: &PgRow, index: usize) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    row.try_get::<&str, _>(index)?.parse().map_err(corrupt)
}

/// Persists a decision's changes, in order, within the caller's transaction, and returns its
/// outcome.
async fn decided<T>(tx: &mut PgConnection, decision: Decision<T>) -> Result<T, StoreError> {
    for change in &decision.changes {
        persist::write(tx, change).await?;
    }
    Ok(decision.outcome)
}

/// `id, kind, status, registration_state` of a subscription row.
fn facts_of(row: &PgRow) -> Result<(i64, SubscriptionFacts), StoreError> {
    Ok((
        row.try_get(0)?,
        SubscriptionFacts {
            kind: parse_column(row, 1)?,
            status: parse_column(row, 2)?,
            registration: parse_column(row, 3)?,
        },
    ))
}

/// Finds a subscription within the partner's customer, in one query (reads).
async fn find_subscription(
    conn: &mut PgConnection,
    key: &SubscriptionKey,
) -> Result<Lookup<(i64, SubscriptionFacts)>, StoreError> {
    let row = sqlx::query(
        "select s.id, s.kind, s.status, s.registration_state
         from customers c
         left join subscriptions s on s.customer_ref = c.id and s.subscription_id = $3
         where c.partner_tenant_id = $1 and c.customer_id = $2",
    )
    .bind(key.partner.to_string())
    .bind(key.customer.to_string())
    .bind(key.subscription.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(row) = row else {
        return Ok(Lookup::CustomerNotFound);
    };
    if row.try_get::<Option<i64>, _>(0)?.is_none() {
        return Ok(Lookup::SubscriptionNotFound);
    }
    Ok(Lookup::Found(facts_of(&row)?))
}

/// Finds a subscription and locks its row until the transaction ends (writes); the customer's row
/// is locked against deletion. One statement when the subscription exists; a second tells a
/// missing customer from a missing subscription (and locks the customer all the same).
async fn lock_subscription(
    tx: &mut PgConnection,
    key: &SubscriptionKey,
) -> Result<Lookup<(i64, SubscriptionFacts)>, StoreError> {
    let row = sqlx::query(
        "select s.id, s.kind, s.status, s.registration_state
         from customers c join subscriptions s on s.customer_ref = c.id
         where c.partner_tenant_id = $1 and c.customer_id = $2 and s.subscription_id = $3
         for key share of c for update of s",
    )
    .bind(key.partner.to_string())
    .bind(key.customer.to_string())
    .bind(key.subscription.to_string())
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(row) = row {
        return Ok(Lookup::Found(facts_of(&row)?));
    }
    // Locked too: a write that goes on to create the subscription needs its customer to stay.
    let customer: Option<i64> = sqlx::query_scalar(
        "select id from customers where partner_tenant_id = $1 and customer_id = $2 for key share",
    )
    .bind(key.partner.to_string())
    .bind(key.customer.to_string())
    .fetch_optional(&mut *tx)
    .await?;
    Ok(match customer {
        Some(_) => Lookup::SubscriptionNotFound,
        None => Lookup::CustomerNotFound,
    })
}

async fn locked_facts(
    tx: &mut PgConnection,
    key: &SubscriptionKey,
) -> Result<Lookup<SubscriptionFacts>, StoreError> {
    Ok(lock_subscription(tx, key).await?.map(|(_, facts)| facts))
}

/// The row id of a partner's customer.
async fn customer_ref(
    conn: &mut PgConnection,
    tenant: TenantId,
    customer: CustomerId,
) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "select id from customers where partner_tenant_id = $1 and customer_id = $2",
    )
    .bind(tenant.to_string())
    .bind(customer.to_string())
    .fetch_optional(&mut *conn)
    .await?)
}

/// A partner, its row locked against deletion (within a transaction) or not.
async fn partner_row(
    conn: &mut PgConnection,
    tenant: TenantId,
    lock: bool,
) -> Result<Option<Partner>, StoreError> {
    let sql = if lock {
        "select name, sandbox from partners where tenant_id = $1 for key share"
    } else {
        "select name, sandbox from partners where tenant_id = $1"
    };
    let row: Option<(String, bool)> = sqlx::query_as(sql)
        .bind(tenant.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    Ok(row.map(|(name, sandbox)| Partner {
        tenant_id: tenant,
        name,
        sandbox,
    }))
}

/// The columns [`subscription_of`] reads, in its order.
const SUBSCRIPTION_COLUMNS: &str =
    "subscription_id, kind, status, offer_name, offer_id, friendly_name,
    quantity, order_id, term_duration, registration_state, created_at, activated_at";

/// A subscription from the columns of [`SUBSCRIPTION_COLUMNS`].
fn subscription_of(row: &PgRow) -> Result<SubscriptionRecord, StoreError> {
    Ok(SubscriptionRecord {
        id: parse_column(row, 0)?,
        kind: parse_column(row, 1)?,
        status: parse_column(row, 2)?,
        offer_name: row.try_get(3)?,
        offer_id: row.try_get(4)?,
        friendly_name: row.try_get(5)?,
        quantity: u32::try_from(row.try_get::<i32, _>(6)?).map_err(corrupt)?,
        order_id: row.try_get(7)?,
        term_duration: row.try_get(8)?,
        registration: parse_column(row, 9)?,
        created_at: Timestamp::from_millis(row.try_get(10)?),
        activated_at: row
            .try_get::<Option<i64>, _>(11)?
            .map(Timestamp::from_millis),
    })
}

/// A customer from `customer_id, company_name, domain, created_at`.
fn customer_of(row: &PgRow) -> Result<CustomerRecord, StoreError> {
    Ok(CustomerRecord {
        id: parse_column(row, 0)?,
        company_name: row.try_get(1)?,
        domain: row.try_get(2)?,
        created_at: Timestamp::from_millis(row.try_get(3)?),
    })
}

/// A subscription of a partner's customer, with its row id.
async fn load_subscription(
    conn: &mut PgConnection,
    key: &SubscriptionKey,
) -> Result<Lookup<(SubscriptionRecord, i64)>, StoreError> {
    let Some(customer_ref) = customer_ref(conn, key.partner, key.customer).await? else {
        return Ok(Lookup::CustomerNotFound);
    };
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {SUBSCRIPTION_COLUMNS}, id from subscriptions where customer_ref = $1 and subscription_id = $2"
    )))
    .bind(customer_ref)
    .bind(key.subscription.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(row) => Ok(Lookup::Found((subscription_of(&row)?, row.try_get(12)?))),
        None => Ok(Lookup::SubscriptionNotFound),
    }
}

/// The registrations of subscription row `id`, oldest first.
async fn history(conn: &mut PgConnection, id: i64) -> Result<Vec<RegistrationRecord>, StoreError> {
    let rows = sqlx::query(
        "select state, requested_at, completed_at from registrations
         where subscription_ref = $1 order by requested_at, id",
    )
    .bind(id)
    .fetch_all(&mut *conn)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(RegistrationRecord {
                ending: record_ending(row.try_get(0)?)?,
                requested_at: Timestamp::from_millis(row.try_get(1)?),
                completed_at: row
                    .try_get::<Option<i64>, _>(2)?
                    .map(Timestamp::from_millis),
            })
        })
        .collect()
}

/// Registration `registration`, if it is still in progress, its row locked: a worker and an
/// operator settling it at once take turns, and the second finds it settled.
async fn lock_claimed_registration(
    tx: &mut PgConnection,
    registration: RegistrationId,
) -> Result<Option<OpenRegistration>, StoreError> {
    let row = sqlx::query(
        "select c.partner_tenant_id, c.customer_id, s.subscription_id, r.requested_at
         from registrations r
         join subscriptions s on s.id = r.subscription_ref
         join customers c on c.id = s.customer_ref
         where r.id = $1 and r.state = $2
         for update of r",
    )
    .bind(registration.0)
    .bind(record_state(None))
    .fetch_optional(&mut *tx)
    .await?;
    row.map(|row| {
        Ok(OpenRegistration {
            id: registration,
            key: SubscriptionKey {
                partner: parse_column(&row, 0)?,
                customer: parse_column(&row, 1)?,
                subscription: parse_column(&row, 2)?,
            },
            requested_at: Timestamp::from_millis(row.try_get(3)?),
        })
    })
    .transpose()
}

/// The registration in progress of subscription row `id`, if there is one, its row locked.
async fn lock_open_registration(
    tx: &mut PgConnection,
    key: &SubscriptionKey,
    id: i64,
) -> Result<Option<OpenRegistration>, StoreError> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "select id, requested_at from registrations where subscription_ref = $1 and state = $2 for update",
    )
    .bind(id)
    .bind(record_state(None))
    .fetch_optional(&mut *tx)
    .await?;
    Ok(row.map(|(id, requested_at)| OpenRegistration {
        id: RegistrationId(id),
        key: *key,
        requested_at: Timestamp::from_millis(requested_at),
    }))
}

/// What exists of what a fixture names, locked: partners and customers against deletion, the
/// customers' subscriptions against change (a fixture must not write back a status a client
/// changed meanwhile).
async fn lock_existing(tx: &mut PgConnection, fixture: &Fixture) -> Result<Existing, StoreError> {
    let mut existing = Existing {
        catalog: purchase::stored_catalog(tx).await?,
        ..Existing::default()
    };
    for tenant in seed::partners(fixture) {
        if let Some(partner) = partner_row(tx, tenant, true).await? {
            existing.partners.insert(tenant, partner);
        }
    }
    for ((tenant, client), _) in seed::applications(fixture) {
        let stored: Option<(String, String)> = sqlx::query_as(
            "select name, secret_hash from applications
             where partner_tenant_id = $1 and client_id = $2 for update",
        )
        .bind(tenant.to_string())
        .bind(client.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        existing
            .applications
            .extend(stored.map(|(name, secret_hash)| {
                ((tenant, client), StoredApplication { name, secret_hash })
            }));
    }
    for key in seed::customers(fixture) {
        let found: Option<(i64, String, Option<String>)> = sqlx::query_as(
            "select id, company_name, domain from customers
             where partner_tenant_id = $1 and customer_id = $2 for no key update",
        )
        .bind(key.partner.to_string())
        .bind(key.customer.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let Some((customer_ref, company_name, domain)) = found else {
            continue;
        };
        existing.customers.insert(
            key,
            ExistingCustomer {
                company_name,
                domain,
            },
        );
        let rows = sqlx::query(
            "select subscription_id, kind, status, offer_name, offer_id, friendly_name, quantity
             from subscriptions where customer_ref = $1 for update",
        )
        .bind(customer_ref)
        .fetch_all(&mut *tx)
        .await?;
        for row in &rows {
            existing.subscriptions.insert(
                SubscriptionKey {
                    partner: key.partner,
                    customer: key.customer,
                    subscription: parse_column(row, 0)?,
                },
                ExistingSubscription {
                    kind: parse_column(row, 1)?,
                    status: parse_column(row, 2)?,
                    offer_name: row.try_get(3)?,
                    offer_id: row.try_get(4)?,
                    friendly_name: row.try_get(5)?,
                    quantity: u32::try_from(row.try_get::<i32, _>(6)?).map_err(corrupt)?,
                },
            );
        }
    }
    Ok(existing)
}

/// Commits `tx` on a task of its own, for the same reason as [`PostgresStore::begin`]: a request
/// given up while its `COMMIT` was on the wire left sqlx counting the transaction as open, and the
/// `ROLLBACK` it then sent found it committed (PostgreSQL's notice `there is no transaction in
/// progress`, logged by sqlx at WARN, seen in bursts when a load generator closed its connections).
/// Here a commit once begun is finished, whoever still awaits it; the client that went away gets
/// no answer either way, and a repeat of its request finds its outcome.
async fn commit(tx: sqlx::Transaction<'static, sqlx::Postgres>) -> Result<(), StoreError> {
    tokio::spawn(tx.commit())
        .await
        .map_err(|e| StoreError::Unavailable(format!("cannot commit: {e}")))?
        .map_err(StoreError::from)
}

/// What a registration reads, in one statement and without locks: the subscription's row id and
/// facts. (It does not look for an outcome stored under the request's idempotency key: a fresh
/// request would not find one. A write of no changes looks for it before it claims the key, and
/// [`PostgresStore::register`] looks for it when a write of changes wrote nothing.)
async fn registration_read(
    conn: &mut PgConnection,
    key: &SubscriptionKey,
) -> Result<Lookup<(i64, SubscriptionFacts)>, StoreError> {
    let row = sqlx::query(
        "select s.id, s.kind, s.status, s.registration_state, c.id
         from (values (1)) as one (x)
         left join customers c on c.partner_tenant_id = $1 and c.customer_id = $2
         left join subscriptions s on s.customer_ref = c.id and s.subscription_id = $3",
    )
    .bind(key.partner.to_string())
    .bind(key.customer.to_string())
    .bind(key.subscription.to_string())
    .fetch_one(&mut *conn)
    .await?;
    Ok(if row.try_get::<Option<i64>, _>(4)?.is_none() {
        Lookup::CustomerNotFound
    } else if row.try_get::<Option<i64>, _>(0)?.is_none() {
        Lookup::SubscriptionNotFound
    } else {
        Lookup::Found(facts_of(&row)?)
    })
}

/// The outcome stored under an unexpired idempotency key, if there is one.
async fn stored_outcome<T: StoredOutcome>(
    conn: &mut PgConnection,
    partner: TenantId,
    now: Timestamp,
    idem: &Idempotency,
) -> Result<Option<T>, StoreError> {
    let text: Option<String> = sqlx::query_scalar(
        "select outcome from idempotency_records
         where partner_tenant_id = $1 and request_id = $2 and method = $3 and path = $4
           and expires_at > $5",
    )
    .bind(partner.to_string())
    .bind(&idem.request_id)
    .bind(&idem.method)
    .bind(&idem.path)
    .bind(now.as_millis())
    .fetch_optional(&mut *conn)
    .await?;
    text.map(decode_outcome).transpose()
}

/// An outcome as an idempotency record stores it, read back.
fn decode_outcome<T: StoredOutcome>(text: String) -> Result<T, StoreError> {
    T::decode(&text).ok_or_else(|| corrupt(format!("idempotency outcome `{text}`")))
}

impl PostgresStore {
    /// The partner as the database has it, kept in the cache if it exists.
    async fn read_partner(&self, tenant: TenantId) -> Result<Option<Partner>, StoreError> {
        let read_at = self.partners.generation();
        let mut conn = self.pool.acquire().await?;
        let partner = partner_row(&mut conn, tenant, false).await?;
        if let Some(partner) = &partner {
            self.partners.insert(partner.clone(), read_at);
        }
        Ok(partner)
    }

    /// Begins a transaction on a pooled connection, on a task of its own, so that a request given
    /// up meanwhile (its client went away) cannot cancel the `BEGIN` half-way. sqlx 0.9.0 counts
    /// the transaction only once `BEGIN` is answered: cancelled before that, the connection went
    /// back to the pool inside a transaction nobody would end, and the next borrower's writes ran
    /// in it, to be lost with it (sqlx issue #4393, fixed after 0.9.0). Here the task finishes the
    /// `BEGIN`, and a transaction nobody awaits any more is dropped, so rolled back, as sqlx does
    /// for every transaction once it has begun.
    async fn begin(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, StoreError> {
        let pool = self.pool.clone();
        tokio::spawn(async move { pool.begin().await })
            .await
            .map_err(|e| StoreError::Unavailable(format!("cannot begin a transaction: {e}")))?
            .map_err(StoreError::from)
    }

    /// Runs `execute` in a transaction under the idempotency key if there is one, and persists the
    /// decision it returns; see the module documentation for how concurrent duplicates meet.
    ///
    /// The key is claimed last, by inserting its record with the outcome, after the decision's
    /// writes: one version of the record, where claiming it first and recording the outcome later
    /// wrote two. A repeat finds the key taken when it records its own outcome, rolls back what
    /// it did, and answers the stored outcome instead.
    async fn idempotent<T: StoredOutcome>(
        &self,
        partner: TenantId,
        now: Timestamp,
        idempotency: Option<&Idempotency>,
        execute: impl AsyncFnOnce(&mut PgConnection) -> Result<Decision<T>, StoreError>,
    ) -> Result<Recorded<T>, StoreError> {
        let mut tx = self.begin().await?;
        let made = async {
            let Decision { outcome, changes } = execute(&mut tx).await?;
            let claim = idempotency.map(|idempotency| persist::Claim {
                partner,
                idempotency,
                outcome: outcome.encode(),
                now,
            });
            let claimed = persist::write_claiming(&mut tx, &changes, claim.as_ref()).await?;
            Ok::<_, StoreError>((outcome, Saved::of(changes), claimed))
        };
        let (outcome, saved, claimed) = match made.await {
            Ok(made) => made,
            Err(error) => {
                drop(tx);
                // A repeat of a request that was answered is answered the same, even when doing
                // it again failed (a lock not granted in time, a row the first one created).
                let Some(idem) = idempotency else {
                    return Err(error);
                };
                let mut conn = self.pool.acquire().await?;
                return match stored_outcome(&mut conn, partner, now, idem).await? {
                    Some(outcome) => Ok(Recorded::repeat(outcome)),
                    None => Err(error),
                };
            }
        };
        if let (Some(idem), Some(false)) = (idempotency, claimed) {
            // The key is taken: a concurrent request with the same key waited on it until the
            // first transaction ended, then found it taken (had the first rolled back, it would
            // have taken it). Read before the rollback (dropping `tx`), on the same connection:
            // the record that was in the way is committed, so this statement sees it.
            let stored = stored_outcome(&mut tx, partner, now, idem).await?;
            return stored.map(Recorded::repeat).ok_or_else(|| {
                StoreError::Unavailable("an idempotency key was taken meanwhile".into())
            });
        }
        commit(tx).await?;
        Ok(Recorded::fresh(outcome, saved))
    }

    /// Provisions one claimed order, in a transaction of its own.
    async fn provision_order(
        &self,
        order_id: &str,
        now: Timestamp,
    ) -> Result<Option<Order>, StoreError> {
        let (done, _) = self
            .transaction(async |tx| purchase::provision_in(tx, order_id, None, now).await)
            .await?;
        Ok(done)
    }

    /// [`Self::transaction`] for a write that may change partners (the operator's, a fixture):
    /// this instance's cached partners are forgotten once it is over, whatever its outcome.
    async fn changing_partners<T>(
        &self,
        write: impl AsyncFnOnce(&mut PgConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let outcome = self.transaction(write).await;
        self.partners.clear();
        outcome
    }

    /// Runs `write` in a transaction, committed if it succeeds.
    async fn transaction<T>(
        &self,
        write: impl AsyncFnOnce(&mut PgConnection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut tx = self.begin().await?;
        let outcome = write(&mut tx).await?;
        commit(tx).await?;
        Ok(outcome)
    }
}

#[async_trait]
impl RequestStore for PostgresStore {
    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        conn.ping().await?;
        Ok(())
    }

    async fn partner(&self, tenant: TenantId) -> Result<Option<Partner>, StoreError> {
        if let Some(partner) = self.partners.get(tenant) {
            return Ok(Some(partner));
        }
        // The read is boxed on its own: inline, its futures (a pooled connection's, a query's)
        // made every call's future kilobytes large, allocated and copied on every request,
        // though nearly every call is answered from the cache above.
        Box::pin(self.read_partner(tenant)).await
    }

    async fn service_key(&self, name: &str, candidate: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        sqlx::query(
            "insert into service_keys (name, key, created_at) values ($1, $2, $3)
             on conflict (name) do nothing",
        )
        .bind(name)
        .bind(&candidate)
        .bind(Timestamp::now().as_millis())
        .execute(&self.pool)
        .await?;
        Ok(
            sqlx::query_scalar("select key from service_keys where name = $1")
                .bind(name)
                .fetch_one(&self.pool)
                .await?,
        )
    }

    async fn customer(&self, key: CustomerKey) -> Result<Option<CustomerRecord>, StoreError> {
        let row = sqlx::query(
            "select customer_id, company_name, domain, created_at from customers
             where partner_tenant_id = $1 and customer_id = $2",
        )
        .bind(key.partner.to_string())
        .bind(key.customer.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(customer_of).transpose()
    }

    async fn customers(
        &self,
        partner: TenantId,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<(i64, CustomerRecord)>, StoreError> {
        let rows = sqlx::query(
            "select customer_id, company_name, domain, created_at, id from customers
             where partner_tenant_id = $1 and id > $2 order by id limit $3",
        )
        .bind(partner.to_string())
        .bind(after.unwrap_or(i64::MIN))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| Ok((row.try_get(4)?, customer_of(row)?)))
            .collect()
    }

    async fn subscriptions(
        &self,
        customer: CustomerKey,
        order_id: Option<&str>,
    ) -> Result<Option<Vec<SubscriptionRecord>>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let Some(customer_ref) =
            customer_ref(&mut conn, customer.partner, customer.customer).await?
        else {
            return Ok(None);
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "select {SUBSCRIPTION_COLUMNS} from subscriptions
             where customer_ref = $1 and ($2::text is null or order_id = $2)
             order by subscription_id"
        )))
        .bind(customer_ref)
        .bind(order_id)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(subscription_of)
            .collect::<Result<_, _>>()
            .map(Some)
    }

    async fn find_subscription(
        &self,
        key: &SubscriptionKey,
    ) -> Result<Lookup<SubscriptionRecord>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Ok(load_subscription(&mut conn, key)
            .await?
            .map(|(record, _)| record))
    }

    async fn registration_status(
        &self,
        key: &SubscriptionKey,
    ) -> Result<Lookup<RegistrationState>, StoreError> {
        self.statuses.read(key).await
    }

    async fn register(
        &self,
        key: &SubscriptionKey,
        now: Timestamp,
        idempotency: Option<&Idempotency>,
        ending: RegistrationEnding,
    ) -> Result<Recorded<Lookup<RegisterOutcome>>, StoreError> {
        // Two statements, neither in a transaction: a read without locks, then a write that
        // happens only if what was read still holds, or answers the outcome stored under a taken
        // key; else read again (see the module's documentation).
        let mut conn = self.pool.acquire().await?;
        for _ in 0..REGISTRATION_ATTEMPTS {
            let found = registration_read(&mut conn, key).await?;
            let Decision { outcome, changes } =
                registration::register(key, found.map(|(_, facts)| facts), ending, now);
            let claim = idempotency.map(|idempotency| persist::Claim {
                partner: key.partner,
                idempotency,
                outcome: outcome.encode(),
                now,
            });
            match persist::write_registration(&mut conn, found, &changes, claim.as_ref()).await? {
                RegistrationWrite::Written => {
                    return Ok(Recorded::fresh(outcome, Saved::of(changes)));
                }
                RegistrationWrite::Taken(stored) => {
                    return Ok(Recorded::repeat(decode_outcome(stored)?));
                }
                // Nothing written: the facts changed, or the key is taken (rare either way: a
                // fresh request does not look for an outcome it will not find).
                RegistrationWrite::Stale => {
                    if let Some(idempotency) = idempotency
                        && let Some(stored) =
                            stored_outcome(&mut conn, key.partner, now, idempotency).await?
                    {
                        return Ok(Recorded::repeat(stored));
                    }
                }
            }
        }
        Err(StoreError::Unavailable(
            "the subscription kept changing while it was being registered".into(),
        ))
    }

    async fn activate(
        &self,
        key: &SubscriptionKey,
        now: Timestamp,
        idempotency: Option<&Idempotency>,
    ) -> Result<Recorded<Lookup<ActivateOutcome>>, StoreError> {
        self.idempotent(key.partner, now, idempotency, async |tx| {
            let sandbox = partner_row(tx, key.partner, false)
                .await?
                .is_some_and(|p| p.sandbox);
            let order = purchase::lock_order_of_subscription(tx, key).await?;
            let found = locked_facts(tx, key).await?;
            Ok(activation::activate(key, sandbox, found, order, now))
        })
        .await
    }
}

#[async_trait]
impl JobQueue for PostgresStore {
    async fn release_orphaned_claims(&self) -> Result<(), StoreError> {
        // Several instances share the queue: another one's lease may be live. Dead instances'
        // leases simply run out.
        Ok(())
    }

    async fn claim_registrations(
        &self,
        accepted_by: Timestamp,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<ClaimedRegistration>, StoreError> {
        let rows = sqlx::query(
            "update registrations set lease_until = $3, attempts = attempts + 1
             where id in (
                 select id from registrations
                 where enqueued_at <= $1 and (lease_until is null or lease_until <= $2)
                 order by enqueued_at, id
                 limit $4
                 for update skip locked)
             returning id, attempts, fails",
        )
        .bind(accepted_by.as_millis())
        .bind(now.as_millis())
        .bind(now.saturating_add(lease).as_millis())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|row| {
                Ok(ClaimedRegistration {
                    registration: RegistrationId(row.try_get(0)?),
                    attempts: i64::from(row.try_get::<i32, _>(1)?),
                    ending: planned_ending(row.try_get(2)?),
                })
            })
            .collect()
    }

    async fn complete_registrations(
        &self,
        claimed: &[ClaimedRegistration],
        now: Timestamp,
    ) -> Result<Vec<CompletedRegistration>, StoreError> {
        self.transaction(async |tx| {
            let mut completed = Vec::with_capacity(claimed.len());
            for claim in claimed {
                let open = lock_claimed_registration(tx, claim.registration).await?;
                completed.extend(decided(tx, registration::complete(claim, open, now)).await?);
            }
            Ok(completed)
        })
        .await
    }

    async fn next_registration_due(
        &self,
        delay: Duration,
    ) -> Result<Option<Timestamp>, StoreError> {
        let delay = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
        let due: Option<i64> = sqlx::query_scalar(
            "select min(greatest(enqueued_at + $1, coalesce(lease_until, 0))) from registrations
             where enqueued_at is not null",
        )
        .bind(delay)
        .fetch_one(&self.pool)
        .await?;
        Ok(due.map(Timestamp::from_millis))
    }

    async fn queue_depth(&self) -> Result<u64, StoreError> {
        let depth: i64 =
            sqlx::query_scalar("select count(*) from registrations where enqueued_at is not null")
                .fetch_one(&self.pool)
                .await?;
        Ok(u64::try_from(depth).unwrap_or_default())
    }

    async fn claim_orders(
        &self,
        placed_by: Timestamp,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        Ok(sqlx::query_scalar(
            "update order_jobs set lease_until = $3, attempts = attempts + 1
             where order_ref in (
                 select order_ref from order_jobs
                 where enqueued_at <= $1 and (lease_until is null or lease_until <= $2)
                 order by enqueued_at, order_ref
                 limit $4
                 for update skip locked)
             returning order_ref",
        )
        .bind(placed_by.as_millis())
        .bind(now.as_millis())
        .bind(now.saturating_add(lease).as_millis())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?)
    }

    async fn provision_orders(
        &self,
        claimed: &[String],
        now: Timestamp,
    ) -> Result<Vec<Order>, StoreError> {
        // One transaction per order: each locks its customer, and holding several customers at
        // once could wait in a cycle with another instance's. Several run at once, each on a
        // connection of its own: one after the other, every order waited for its own round trips
        // (about nine), and the worker provisioned 840-960 orders a second on the benchmark's
        // host (1,700-1,950 with 8 at once, docs/benchmark-history.md). Two on one
        // customer take turns at its lock; none holds more than one customer, so none waits in a
        // cycle. On an error the orders not yet provisioned roll back and stay claimed, as
        // before, to be provisioned again once their lease has passed.
        let each: Vec<_> = claimed
            .iter()
            .map(|order_id| self.provision_order(order_id, now))
            .collect();
        let provisioned: Vec<Option<Order>> = stream::iter(each)
            .buffered(provisioners(self.pool.options().get_max_connections()))
            .try_collect()
            .await?;
        Ok(provisioned.into_iter().flatten().collect())
    }

    async fn next_order_due(&self, delay: Duration) -> Result<Option<Timestamp>, StoreError> {
        let delay = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
        let due: Option<i64> = sqlx::query_scalar(
            "select min(greatest(enqueued_at + $1, coalesce(lease_until, 0))) from order_jobs",
        )
        .bind(delay)
        .fetch_one(&self.pool)
        .await?;
        Ok(due.map(Timestamp::from_millis))
    }

    async fn order_counts(&self) -> Result<Vec<(OrderStatus, u64)>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        purchase::order_counts(&mut conn).await
    }

    async fn purge_idempotency(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        Ok(sqlx::query(
            "delete from idempotency_records where ctid in (
                 select ctid from idempotency_records where expires_at <= $1 limit $2)",
        )
        .bind(now.as_millis())
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await?
        .rows_affected())
    }
}

#[async_trait]
impl IdentityStore for PostgresStore {
    async fn application(
        &self,
        tenant: TenantId,
        client_id: ClientId,
    ) -> Result<Option<Application>, StoreError> {
        let row: Option<(String, String)> = sqlx::query_as(
            "select name, secret_hash from applications where partner_tenant_id = $1 and client_id = $2",
        )
        .bind(tenant.to_string())
        .bind(client_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(name, secret_hash)| Application {
            tenant,
            client_id,
            name,
            secret_hash,
        }))
    }

    async fn signing_key(&self, candidate: SigningKey) -> Result<SigningKey, StoreError> {
        sqlx::query(
            "insert into signing_keys (slot, kid, algorithm, private_key_pkcs8, created_at)
             values (1, $1, 'RS256', $2, $3) on conflict (slot) do nothing",
        )
        .bind(&candidate.kid)
        .bind(&candidate.private_key_pkcs8)
        .bind(candidate.created_at.as_millis())
        .execute(&self.pool)
        .await?;
        let (kid, private_key_pkcs8, created_at): (String, Vec<u8>, i64) = sqlx::query_as(
            "select kid, private_key_pkcs8, created_at from signing_keys where slot = 1",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(SigningKey {
            kid,
            private_key_pkcs8,
            created_at: Timestamp::from_millis(created_at),
        })
    }
}

#[async_trait]
impl AdminStore for PostgresStore {
    async fn list_partners(&self) -> Result<Vec<Partner>, StoreError> {
        let rows: Vec<(String, String, bool)> =
            sqlx::query_as("select tenant_id, name, sandbox from partners order by tenant_id")
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter()
            .map(|(tenant, name, sandbox)| {
                Ok(Partner {
                    tenant_id: tenant.parse().map_err(corrupt)?,
                    name,
                    sandbox,
                })
            })
            .collect()
    }

    async fn put_partner(&self, partner: &Partner, now: Timestamp) -> Result<Upserted, StoreError> {
        self.changing_partners(async |tx| {
            let existed = partner_row(tx, partner.tenant_id, true).await?.is_some();
            decided(tx, operator::put_partner(partner.clone(), existed, now)).await
        })
        .await
    }

    async fn delete_partner(&self, tenant: TenantId) -> Result<bool, StoreError> {
        self.changing_partners(async |tx| {
            let existed = partner_row(tx, tenant, true).await?.is_some();
            decided(tx, operator::delete_partner(tenant, existed)).await
        })
        .await
    }

    async fn put_customer(
        &self,
        key: CustomerKey,
        company_name: &str,
        domain: Option<&str>,
        now: Timestamp,
    ) -> Result<Option<Upserted>, StoreError> {
        self.transaction(async |tx| {
            let partner_exists = partner_row(tx, key.partner, true).await?.is_some();
            let existed = customer_ref(tx, key.partner, key.customer).await?.is_some();
            let decision = operator::put_customer(
                partner_exists,
                existed,
                key,
                company_name.to_owned(),
                domain.map(str::to_owned),
                now,
            );
            decided(tx, decision).await
        })
        .await
    }

    async fn delete_customer(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<bool, StoreError> {
        self.transaction(async |tx| {
            let existed = customer_ref(tx, tenant, customer).await?.is_some();
            let key = CustomerKey {
                partner: tenant,
                customer,
            };
            decided(tx, operator::delete_customer(key, existed)).await
        })
        .await
    }

    async fn put_subscription(
        &self,
        tenant: TenantId,
        customer: CustomerId,
        subscription: &FixtureSubscription,
        now: Timestamp,
    ) -> Result<Lookup<Upserted>, StoreError> {
        let key = SubscriptionKey {
            partner: tenant,
            customer,
            subscription: subscription.id,
        };
        self.transaction(async |tx| {
            let found = match lock_subscription(tx, &key).await? {
                Lookup::Found(_) => Lookup::Found(true),
                Lookup::SubscriptionNotFound => Lookup::Found(false),
                Lookup::CustomerNotFound => Lookup::CustomerNotFound,
            };
            let decision = operator::put_subscription(key, found, subscription, now);
            decided(tx, decision).await
        })
        .await
    }

    async fn delete_subscription(&self, key: &SubscriptionKey) -> Result<bool, StoreError> {
        self.transaction(async |tx| {
            let existed = matches!(lock_subscription(tx, key).await?, Lookup::Found(_));
            decided(tx, operator::delete_subscription(*key, existed)).await
        })
        .await
    }

    async fn subscription(
        &self,
        key: &SubscriptionKey,
    ) -> Result<Lookup<SubscriptionDetail>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let (subscription, id) = match load_subscription(&mut conn, key).await?.found() {
            Ok(found) => found,
            Err(missing) => return Ok(missing),
        };
        let registrations = history(&mut conn, id).await?;
        Ok(Lookup::Found(SubscriptionDetail {
            subscription,
            registrations,
        }))
    }

    async fn registration_history(
        &self,
        key: &SubscriptionKey,
    ) -> Result<Lookup<Vec<RegistrationRecord>>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let (id, _) = match find_subscription(&mut conn, key).await?.found() {
            Ok(found) => found,
            Err(missing) => return Ok(missing),
        };
        Ok(Lookup::Found(history(&mut conn, id).await?))
    }

    async fn settle_registration(
        &self,
        key: &SubscriptionKey,
        ending: RegistrationEnding,
        now: Timestamp,
    ) -> Result<Lookup<Settled>, StoreError> {
        self.transaction(async |tx| {
            let found = match lock_subscription(tx, key).await?.found() {
                Ok((id, facts)) => {
                    Lookup::Found((facts, lock_open_registration(tx, key, id).await?))
                }
                Err(missing) => missing,
            };
            decided(tx, registration::settle(found, ending, now)).await
        })
        .await
    }

    async fn reset(&self) -> Result<(), StoreError> {
        self.changing_partners(async |tx| decided(tx, operator::reset()).await)
            .await
    }

    async fn advance_order(
        &self,
        customer: CustomerKey,
        order_id: &str,
        now: Timestamp,
    ) -> Result<Option<Order>, StoreError> {
        let (_, order) = self
            .transaction(async |tx| purchase::provision_in(tx, order_id, Some(customer), now).await)
            .await?;
        Ok(order)
    }
}

#[async_trait]
impl FixtureStore for PostgresStore {
    async fn apply_fixture(&self, fixture: &Fixture) -> Result<SeedReport, StoreError> {
        let fixture = Arc::new(fixture.clone());
        let mut stored = HashMap::new();
        for ((tenant, client), _) in seed::applications(&fixture) {
            let hash: Option<String> = sqlx::query_scalar(
                "select secret_hash from applications where partner_tenant_id = $1 and client_id = $2",
            )
            .bind(tenant.to_string())
            .bind(client.to_string())
            .fetch_optional(&self.pool)
            .await?;
            stored.extend(hash.map(|hash| ((tenant, client), hash)));
        }
        let secrets = secret::check_fixture(fixture.clone(), stored).await?;
        self.changing_partners(async |tx| {
            let existing = lock_existing(tx, &fixture).await?;
            decided(
                tx,
                seed::apply(&fixture, existing, &secrets, Timestamp::now()),
            )
            .await
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use partner_center_model::SubscriptionStatus;
    use sqlx::postgres::PgSslMode;

    /// A registration decided on facts that changed before its write (another registration got
    /// in between) writes nothing, nor claims its key; and one whose key was taken in between
    /// writes nothing, and the request is answered the outcome stored under the key.
    #[tokio::test]
    async fn a_registration_writes_only_what_it_decided_on_facts_that_still_hold() {
        use crate::{FixtureStore as _, RequestStore as _, testing};
        let Some(base) = testing::postgres_url() else {
            return;
        };
        let schema = testing::PostgresSchema::create(&base).await;
        let store = PostgresStore::open(&schema.url, StoreOptions::default())
            .await
            .unwrap();
        let fixture: Fixture = serde_json::from_str(
            r#"{"partners": [{"tenantId": "b1e5d2a0-0000-4000-8000-000000000001",
                "name": "Contoso CSP", "sandbox": true,
                "customers": [{"id": "c2f6e3b1-0000-4000-8000-000000000002",
                  "companyName": "Fabrikam", "subscriptions": [
                    {"id": "d3a7f4c2-0000-4000-8000-000000000003", "kind": "azurePlan",
                     "status": "active", "offerName": "Azure plan"},
                    {"id": "d3a7f4c2-0000-4000-8000-000000000004", "kind": "azurePlan",
                     "status": "active", "offerName": "Azure plan"}]}]}]}"#,
        )
        .unwrap();
        store.apply_fixture(&fixture).await.unwrap();
        let key = |subscription: &str| SubscriptionKey {
            partner: "b1e5d2a0-0000-4000-8000-000000000001".parse().unwrap(),
            customer: "c2f6e3b1-0000-4000-8000-000000000002".parse().unwrap(),
            subscription: subscription.parse().unwrap(),
        };
        let (first, second) = (
            key("d3a7f4c2-0000-4000-8000-000000000003"),
            key("d3a7f4c2-0000-4000-8000-000000000004"),
        );
        let now = Timestamp::now();
        let request = |subscription: &SubscriptionKey| Idempotency {
            request_id: "r-1".into(),
            method: "POST".into(),
            path: format!("/v1/{}/registrations", subscription.subscription),
            expires_at: now.saturating_add(Duration::from_secs(3600)),
        };
        let ending = RegistrationEnding::Registered;
        let claim = |idempotency, outcome: &Lookup<RegisterOutcome>| persist::Claim {
            partner: first.partner,
            idempotency,
            outcome: outcome.encode(),
            now,
        };
        let mut conn = store.pool.acquire().await.unwrap();

        // Stale facts: read, then another registration of the subscription commits.
        let read = registration_read(&mut conn, &first).await.unwrap();
        let other = store.register(&first, now, None, ending).await.unwrap();
        assert_eq!(other.outcome, Lookup::Found(RegisterOutcome::Accepted));
        let stale = registration::register(&first, read.map(|(_, facts)| facts), ending, now);
        assert_eq!(stale.outcome, Lookup::Found(RegisterOutcome::Accepted));
        let idempotency = request(&first);
        for claimed in [None, Some(claim(&idempotency, &stale.outcome))] {
            let written =
                persist::write_registration(&mut conn, read, &stale.changes, claimed.as_ref());
            assert_eq!(
                written.await.unwrap(),
                RegistrationWrite::Stale,
                "nothing written on stale facts"
            );
        }
        let stored =
            stored_outcome::<Lookup<RegisterOutcome>>(&mut conn, first.partner, now, &idempotency);
        assert_eq!(stored.await.unwrap(), None, "the key stays free");
        let Lookup::Found(history) = store.registration_history(&first).await.unwrap() else {
            panic!()
        };
        assert_eq!(history.len(), 1);
        // Read again, the same request is decided on what holds now.
        let again = store.register(&first, now, Some(&idempotency), ending);
        assert_eq!(
            again.await.unwrap().outcome,
            Lookup::Found(RegisterOutcome::AlreadyRegistering)
        );

        // A key taken between the read and the write: nothing is written (and the request is
        // answered the outcome stored under the key, below).
        let read = registration_read(&mut conn, &second).await.unwrap();
        let idempotency = request(&second);
        let taken = Lookup::Found(RegisterOutcome::IneligibleStatus(
            SubscriptionStatus::Suspended,
        ));
        assert!(
            persist::claim_key(&mut conn, &claim(&idempotency, &taken))
                .await
                .unwrap()
        );
        let fresh = registration::register(&second, read.map(|(_, facts)| facts), ending, now);
        let claimed = claim(&idempotency, &fresh.outcome);
        let written = persist::write_registration(&mut conn, read, &fresh.changes, Some(&claimed));
        assert_eq!(
            written.await.unwrap(),
            RegistrationWrite::Stale,
            "nothing written under a taken key"
        );
        assert_eq!(
            store.registration_status(&second).await.unwrap(),
            Lookup::Found(RegistrationState::NotRegistered)
        );
        // A write of no changes (a decision that refuses) under the taken key reads its outcome.
        let refused = persist::Claim {
            outcome: Lookup::<RegisterOutcome>::SubscriptionNotFound.encode(),
            ..claim(&idempotency, &taken)
        };
        let written = persist::write_registration(&mut conn, read, &[], Some(&refused));
        assert_eq!(
            written.await.unwrap(),
            RegistrationWrite::Taken(taken.encode())
        );
        let repeat = store
            .register(&second, now, Some(&idempotency), ending)
            .await
            .unwrap();
        assert_eq!((repeat.outcome, repeat.replayed), (taken, true));
        // Once the key has expired, a repeat takes it again and is decided afresh.
        let later = idempotency.expires_at;
        let retaken = store
            .register(&second, later, Some(&idempotency), ending)
            .await
            .unwrap();
        assert_eq!(
            (retaken.outcome, retaken.replayed),
            (Lookup::Found(RegisterOutcome::Accepted), false)
        );
        drop(conn);
        schema.drop().await;
    }

    #[test]
    fn the_worker_provisions_on_a_quarter_of_the_pool_at_most_eight() {
        let at_once: Vec<usize> = [1, 4, 10, 32, 100].map(provisioners).to_vec();
        assert_eq!(at_once, [1, 1, 2, 8, 8]);
    }

    /// Migration 6 moves each registration's job into the registration's row: a job queued
    /// before it (its lease, attempts and planned failure) is claimed after it as it was, a
    /// registration without a job stays out of the queue, and the previous version's statements
    /// still work on the migrated schema.
    #[tokio::test]
    async fn jobs_queued_before_they_moved_into_their_registrations_are_claimed_after() {
        use crate::{JobQueue as _, testing};
        let Some(base) = testing::postgres_url() else {
            return;
        };
        let schema = testing::PostgresSchema::create(&base).await;
        let mut conn = PgConnection::connect(&schema.url).await.unwrap();
        MIGRATOR
            .run_to(20_261_205_000_005, &mut conn)
            .await
            .unwrap();
        sqlx::raw_sql(
            "insert into partners values ('b1e5d2a0-0000-4000-8000-000000000001', 'P', true, 0, 0);
             insert into customers (partner_tenant_id, customer_id, company_name, created_at, updated_at)
             values ('b1e5d2a0-0000-4000-8000-000000000001', 'c2f6e3b1-0000-4000-8000-000000000002', 'C', 0, 0);
             insert into subscriptions (customer_ref, subscription_id, kind, status, offer_name,
                                        registration_state, created_at, updated_at)
             select id, 'd3a7f4c2-0000-4000-8000-00000000000' || n, 'azurePlan', 'active', 'O', s, 0, 0
             from customers, (values (3, 'Registering'), (4, 'Registered')) as v (n, s);
             insert into registrations (subscription_ref, state, requested_at, completed_at)
             select id, registration_state, 10, case when registration_state = 'Registered' then 20 end
             from subscriptions order by id;
             insert into registration_jobs (registration_ref, enqueued_at, lease_until, attempts, fails)
             select id, 10, 15, 2, true from registrations where state = 'Registering';",
        )
        .execute(&mut conn)
        .await
        .unwrap();
        MIGRATOR.run(&mut conn).await.unwrap();
        let queued: Vec<(String, Option<i64>)> =
            sqlx::query_as("select state, enqueued_at from registrations order by id")
                .fetch_all(&mut conn)
                .await
                .unwrap();
        assert_eq!(
            queued,
            [
                ("Registering".to_owned(), Some(10)),
                ("Registered".to_owned(), None)
            ]
        );
        conn.close().await.unwrap();

        let store = PostgresStore::open(&schema.url, StoreOptions::default())
            .await
            .unwrap();
        assert_eq!(store.queue_depth().await.unwrap(), 1);
        let at = Timestamp::from_millis(16);
        let claimed = store
            .claim_registrations(at, at, Duration::from_secs(1), 10)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 1);
        assert_eq!(claimed[0].attempts, 3);
        assert_eq!(claimed[0].ending, RegistrationEnding::Failed);
        let completed = store.complete_registrations(&claimed, at).await.unwrap();
        assert_eq!(completed.len(), 1);
        assert_eq!(store.queue_depth().await.unwrap(), 0);

        // An instance of the previous version, still running, queues a registration, claims
        // it and drops its job through the view that stands for its job table; what it does is
        // what this version sees.
        let mut old = PgConnection::connect(&schema.url).await.unwrap();
        let queued: i64 = sqlx::query_scalar(
            "with subscription as (
                 update subscriptions set registration_state = 'Registering', updated_at = 30
                 where subscription_id = 'd3a7f4c2-0000-4000-8000-000000000004' returning id),
             registration as (
                 insert into registrations (subscription_ref, state, requested_at)
                 select id, 'Registering', 30 from subscription returning id),
             job as (
                 insert into registration_jobs (registration_ref, enqueued_at, fails)
                 select id, 30, false from registration returning registration_ref)
             select count(*) from job",
        )
        .fetch_one(&mut old)
        .await
        .unwrap();
        assert_eq!(queued, 1);
        assert_eq!(store.queue_depth().await.unwrap(), 1);
        let (id, attempts, fails): (i64, i32, bool) = sqlx::query_as(
            "update registration_jobs set lease_until = 40, attempts = attempts + 1
             where registration_ref in (
                 select registration_ref from registration_jobs
                 where enqueued_at <= 35 and (lease_until is null or lease_until <= 35)
                 order by enqueued_at, registration_ref limit 10 for update skip locked)
             returning registration_ref, attempts, fails",
        )
        .fetch_one(&mut old)
        .await
        .unwrap();
        assert_eq!((attempts, fails), (1, false));
        let (depth, due): (i64, Option<i64>) = sqlx::query_as(
            "select count(*), min(greatest(enqueued_at + 0, coalesce(lease_until, 0)))
             from registration_jobs",
        )
        .fetch_one(&mut old)
        .await
        .unwrap();
        assert_eq!((depth, due), (1, Some(40)));
        let leased = Timestamp::from_millis(39);
        assert!(
            store
                .claim_registrations(leased, leased, Duration::from_secs(1), 10)
                .await
                .unwrap()
                .is_empty(),
            "the previous version's lease holds"
        );
        // Its settlement: the registration's state, then its job dropped, in one transaction.
        let mut settling = old.begin().await.unwrap();
        sqlx::query(
            "update registrations set state = 'Registered', completed_at = 41 where id = $1",
        )
        .bind(id)
        .execute(&mut *settling)
        .await
        .unwrap();
        sqlx::query("delete from registration_jobs where registration_ref = $1")
            .bind(id)
            .execute(&mut *settling)
            .await
            .unwrap();
        settling.commit().await.unwrap();
        old.close().await.unwrap();
        assert_eq!(store.queue_depth().await.unwrap(), 0);
        let rows: i64 = sqlx::query_scalar("select count(*) from registrations")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!(rows, 3, "dropping a job keeps its registration");
        schema.drop().await;
    }

    /// The conformance test shows the build talks TLS for `sslmode=require`; this, that the
    /// store's own connection settings keep whatever mode the URL names.
    #[test]
    fn connections_keep_the_tls_mode_of_the_url() {
        for (url, expected) in [
            (
                "postgres://u@h/db?sslmode=verify-full",
                PgSslMode::VerifyFull,
            ),
            ("postgres://u@h/db?sslmode=require", PgSslMode::Require),
            ("postgres://u@h/db?sslmode=disable", PgSslMode::Disable),
            ("postgres://u@h/db", PgSslMode::Prefer),
        ] {
            let mode = connect_options(url, StoreOptions::default())
                .unwrap()
                .get_ssl_mode();
            assert!(
                std::mem::discriminant(&mode) == std::mem::discriminant(&expected),
                "{url}: {mode:?}"
            );
        }
    }
}
