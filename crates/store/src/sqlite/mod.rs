//! The SQLite implementation of the store, the embedded default.
//!
//! # Connections
//!
//! See the `engine` module: short reads run in place on a pool of read-only connections (WAL mode
//! lets them run alongside the writer); writes go to one writer thread, which commits the writes of
//! concurrent requests together, in one transaction, and a syncer thread, which makes them durable
//! with one fsync of the WAL and only then answers each request. A request whose write fails
//! leaves nothing behind: the batch is rolled back and run again without it.
//!
//! An in-memory database (`sqlite::memory:`) lives only as long as its connection, so it gets one,
//! the writer's, used for everything.
//!
//! # Writes
//!
//! A write loads what a decision of the domain core needs (being the only writer, nothing can
//! change it meanwhile), calls the decision, and persists the changes it returns through the
//! engine's `Tx` (`persist` holds the SQL of each change). The engine then hands the committed
//! changes to the caches (the `state` module): authenticated requests find their partner, and
//! status reads their subscription's registration state, in memory. Both are exact because this
//! process is the database's only writer and follows its own commits.
//!
//! One process serves a SQLite database: several instances share state through PostgreSQL.

mod engine;
mod idempotency;
mod migrations;
mod persist;
mod purchase;
mod state;

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use partner_center_domain::customer::CustomerRecord;
use partner_center_domain::purchase::{Order, OrderStatus};
use partner_center_domain::seed::{
    self, Existing, ExistingCustomer, ExistingSubscription, StoredApplication,
};
use partner_center_domain::subscription::SubscriptionRecord;
use partner_center_domain::{
    ActivateOutcome, ClaimedRegistration, CompletedRegistration, CustomerKey, Lookup,
    OpenRegistration, Partner, RegisterOutcome, RegistrationId, SeedReport, Settled,
    SubscriptionFacts, SubscriptionKey, Upserted, activation, operator, registration,
};
use partner_center_model::fixture::FixtureSubscription;
use partner_center_model::{
    ClientId, CustomerId, Fixture, RegistrationEnding, RegistrationState, SubscriptionId, TenantId,
    Timestamp,
};
use rusqlite::{Connection, OptionalExtension as _, Row, params};

use self::engine::{Engine, Location, Tx};
use self::state::{Caches, Miss};
use crate::outcome::StoredOutcome;
use crate::{
    AdminStore, Application, FixtureStore, Idempotency, IdentityStore, JobQueue, Recorded,
    RegistrationRecord, RequestStore, SigningKey, StoreError, StoreOptions, SubscriptionDetail,
    record_ending, record_state, secret,
};

/// The SQLite store.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    engine: Arc<Engine>,
    caches: Arc<Caches>,
    /// This process's claim on the database file (see `Location::claim`).
    _claim: Option<Arc<std::fs::File>>,
}

impl SqliteStore {
    /// Opens (creating if missing) the database `url` names and applies pending migrations.
    ///
    /// Accepted URLs: `sqlite://FILE`, `sqlite:FILE` (both relative to the working directory unless
    /// absolute) and `sqlite::memory:`, with SQLite's URI parameters (`?mode=ro`, ...).
    ///
    /// # Errors
    ///
    /// When the URL is malformed, the file cannot be opened or created, or a migration fails.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, StoreOptions::default()).await
    }

    /// [`SqliteStore::open`], with `options.max_connections` read-only connections.
    ///
    /// # Errors
    ///
    /// As [`SqliteStore::open`].
    pub async fn open_with(url: &str, options: StoreOptions) -> Result<Self, StoreError> {
        let location = Location::parse(url)?;
        let caches = Arc::new(Caches::new(options.memory_index));
        let followed = caches.clone();
        let runtime = tokio::runtime::Handle::current();
        let (engine, claim) = tokio::task::spawn_blocking(move || {
            let claim = if options.shared {
                None
            } else {
                location.claim()?
            };
            let writer = engine::open_writer(&location)?;
            migrations::apply(&writer, None)?;
            Engine::start(
                &location,
                writer,
                options.max_connections,
                followed,
                options.acquire_timeout,
                &runtime,
            )
            .map(|e| (e, claim))
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))??;
        Ok(Self {
            engine: Arc::new(engine),
            caches,
            _claim: claim.map(Arc::new),
        })
    }

    /// The migrations this build knows and whether each was applied before; applies the others.
    pub(crate) async fn migrate(url: &str) -> Result<Vec<(i64, String, bool)>, StoreError> {
        let location = Location::parse(url)?;
        tokio::task::spawn_blocking(move || {
            let _claim = location.claim()?;
            let conn = engine::open_writer(&location)?;
            migrations::apply(&conn, None)
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))?
    }
}

/// A GUID's text (lower-case, hyphenated), on the stack: bound to a statement without allocating.
struct Guid([u8; 36]);

impl Guid {
    fn of(id: uuid::fmt::Hyphenated) -> Self {
        let mut text = [0u8; 36];
        id.encode_lower(&mut text);
        Self(text)
    }
}

impl rusqlite::ToSql for Guid {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        Ok(rusqlite::types::ToSqlOutput::Borrowed(
            rusqlite::types::ValueRef::Text(&self.0),
        ))
    }
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

/// A text column parsed into `T`.
fn parse<T: FromStr>(row: &Row<'_>, index: usize) -> Result<T, StoreError>
where
    T::Err: std::fmt::Display,
{
    row.get_ref(index)?
        .as_str()
        .map_err(rusqlite::Error::from)?
        .parse()
        .map_err(corrupt)
}

fn timestamp(row: &Row<'_>, index: usize) -> Result<Option<Timestamp>, StoreError> {
    Ok(row
        .get::<_, Option<i64>>(index)?
        .map(Timestamp::from_millis))
}

/// Finds a subscription within the partner's customer, telling a missing customer from a missing
/// subscription in one query; with its row id.
fn find_subscription(
    conn: &Connection,
    key: &SubscriptionKey,
) -> Result<Lookup<(i64, SubscriptionFacts)>, StoreError> {
    let mut statement = conn.prepare_cached(
        "select s.id, s.kind, s.status, s.registration_state
         from customers c
         left join subscriptions s on s.customer_ref = c.id and s.subscription_id = ?3
         where c.partner_tenant_id = ?1 and c.customer_id = ?2",
    )?;
    let mut rows = statement.query(params![
        Guid::of(key.partner.encode()),
        Guid::of(key.customer.encode()),
        Guid::of(key.subscription.encode())
    ])?;
    let Some(row) = rows.next()? else {
        return Ok(Lookup::CustomerNotFound);
    };
    let Some(id) = row.get::<_, Option<i64>>(0)? else {
        return Ok(Lookup::SubscriptionNotFound);
    };
    Ok(Lookup::Found((
        id,
        SubscriptionFacts {
            kind: parse(row, 1)?,
            status: parse(row, 2)?,
            registration: parse(row, 3)?,
        },
    )))
}

fn facts(
    conn: &Connection,
    key: &SubscriptionKey,
) -> Result<Lookup<SubscriptionFacts>, StoreError> {
    Ok(find_subscription(conn, key)?.map(|(_, facts)| facts))
}

/// [`facts`] in a write, the subscription's row remembered for the changes of its decision.
fn located_facts(
    tx: &mut Tx<'_>,
    key: &SubscriptionKey,
) -> Result<Lookup<SubscriptionFacts>, StoreError> {
    let found = find_subscription(tx.conn(), key)?;
    if let Lookup::Found((id, _)) = found {
        tx.locate(*key, id);
    }
    Ok(found.map(|(_, facts)| facts))
}

/// Every subscription of a customer with its registration state; `None` when the partner has no
/// such customer.
fn load_customer(
    conn: &Connection,
    customer: CustomerKey,
) -> Result<Option<Vec<(SubscriptionId, RegistrationState)>>, StoreError> {
    let Some(customer_ref) = customer_ref(conn, customer.partner, customer.customer)? else {
        return Ok(None);
    };
    let mut statement = conn.prepare_cached(
        "select subscription_id, registration_state from subscriptions where customer_ref = ?1",
    )?;
    let mut rows = statement.query([customer_ref])?;
    let mut subscriptions = Vec::new();
    while let Some(row) = rows.next()? {
        subscriptions.push((parse(row, 0)?, parse(row, 1)?));
    }
    Ok(Some(subscriptions))
}

/// The row id of a partner's customer.
fn customer_ref(
    conn: &Connection,
    tenant: TenantId,
    customer: CustomerId,
) -> Result<Option<i64>, StoreError> {
    Ok(conn
        .prepare_cached(
            "select id from customers where partner_tenant_id = ?1 and customer_id = ?2",
        )?
        .query_row(
            params![Guid::of(tenant.encode()), Guid::of(customer.encode())],
            |row| row.get(0),
        )
        .optional()?)
}

fn partner_row(conn: &Connection, tenant: TenantId) -> Result<Option<Partner>, StoreError> {
    Ok(conn
        .prepare_cached("select name, sandbox from partners where tenant_id = ?1")?
        .query_row([Guid::of(tenant.encode())], |row| {
            Ok(Partner {
                tenant_id: tenant,
                name: row.get(0)?,
                sandbox: row.get(1)?,
            })
        })
        .optional()?)
}

/// The columns [`subscription_of`] reads, in its order.
macro_rules! subscription_columns {
    () => {
        "subscription_id, kind, status, offer_name, offer_id, friendly_name, quantity, order_id,
         term_duration, registration_state, created_at, activated_at"
    };
}

/// A subscription from the columns of `subscription_columns!`.
fn subscription_of(row: &Row<'_>) -> Result<SubscriptionRecord, StoreError> {
    Ok(SubscriptionRecord {
        id: parse(row, 0)?,
        kind: parse(row, 1)?,
        status: parse(row, 2)?,
        offer_name: row.get(3)?,
        offer_id: row.get(4)?,
        friendly_name: row.get(5)?,
        quantity: row.get(6)?,
        order_id: row.get(7)?,
        term_duration: row.get(8)?,
        registration: parse(row, 9)?,
        created_at: Timestamp::from_millis(row.get(10)?),
        activated_at: timestamp(row, 11)?,
    })
}

/// A customer from `customer_id, company_name, domain, created_at`.
fn customer_of(row: &Row<'_>) -> Result<CustomerRecord, StoreError> {
    Ok(CustomerRecord {
        id: parse(row, 0)?,
        company_name: row.get(1)?,
        domain: row.get(2)?,
        created_at: Timestamp::from_millis(row.get(3)?),
    })
}

/// A subscription of a partner's customer, with its row id.
fn load_subscription(
    conn: &Connection,
    key: &SubscriptionKey,
) -> Result<Lookup<(SubscriptionRecord, i64)>, StoreError> {
    let Some(customer_ref) = customer_ref(conn, key.partner, key.customer)? else {
        return Ok(Lookup::CustomerNotFound);
    };
    let mut statement = conn.prepare_cached(concat!(
        "select ",
        subscription_columns!(),
        ", id from subscriptions where customer_ref = ?1 and subscription_id = ?2"
    ))?;
    let mut rows = statement.query(params![customer_ref, Guid::of(key.subscription.encode())])?;
    let Some(row) = rows.next()? else {
        return Ok(Lookup::SubscriptionNotFound);
    };
    Ok(Lookup::Found((subscription_of(row)?, row.get(12)?)))
}

/// The registrations of subscription row `id`, oldest first.
fn history(conn: &Connection, id: i64) -> Result<Vec<RegistrationRecord>, StoreError> {
    let mut statement = conn.prepare_cached(
        "select state, requested_at, completed_at from registrations
         where subscription_ref = ?1 order by requested_at, id",
    )?;
    let mut rows = statement.query([id])?;
    let mut records = Vec::new();
    while let Some(row) = rows.next()? {
        records.push(RegistrationRecord {
            ending: record_ending(row.get_ref(0)?.as_str().map_err(rusqlite::Error::from)?)?,
            requested_at: Timestamp::from_millis(row.get(1)?),
            completed_at: timestamp(row, 2)?,
        });
    }
    Ok(records)
}

/// The registration in progress of subscription row `id`, if there is one.
fn open_registration(
    conn: &Connection,
    key: &SubscriptionKey,
    id: i64,
) -> Result<Option<OpenRegistration>, StoreError> {
    Ok(conn
        .prepare_cached(
            "select id, requested_at from registrations where subscription_ref = ?1 and state = ?2",
        )?
        .query_row(params![id, record_state(None)], |row| {
            Ok(OpenRegistration {
                id: RegistrationId(row.get(0)?),
                key: *key,
                requested_at: Timestamp::from_millis(row.get(1)?),
            })
        })
        .optional()?)
}

/// Registration `registration`, if it is still in progress.
fn claimed_registration(
    conn: &Connection,
    registration: RegistrationId,
) -> Result<Option<OpenRegistration>, StoreError> {
    let mut statement = conn.prepare_cached(
        "select c.partner_tenant_id, c.customer_id, s.subscription_id, r.requested_at
         from registrations r
         join subscriptions s on s.id = r.subscription_ref
         join customers c on c.id = s.customer_ref
         where r.id = ?1 and r.state = ?2",
    )?;
    let mut rows = statement.query(params![registration.0, record_state(None)])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    Ok(Some(OpenRegistration {
        id: registration,
        key: SubscriptionKey {
            partner: parse(row, 0)?,
            customer: parse(row, 1)?,
            subscription: parse(row, 2)?,
        },
        requested_at: Timestamp::from_millis(row.get(3)?),
    }))
}

/// What exists of what a fixture names.
fn existing(conn: &Connection, fixture: &Fixture) -> Result<Existing, StoreError> {
    let mut existing = Existing {
        catalog: purchase::stored_catalog(conn)?,
        ..Existing::default()
    };
    for tenant in seed::partners(fixture) {
        if let Some(partner) = partner_row(conn, tenant)? {
            existing.partners.insert(tenant, partner);
        }
    }
    let mut applications = conn.prepare_cached(
        "select name, secret_hash from applications where partner_tenant_id = ?1 and client_id = ?2",
    )?;
    for ((tenant, client), _) in seed::applications(fixture) {
        let stored = applications
            .query_row(
                params![Guid::of(tenant.encode()), Guid::of(client.encode())],
                |row| {
                    Ok(StoredApplication {
                        name: row.get(0)?,
                        secret_hash: row.get(1)?,
                    })
                },
            )
            .optional()?;
        if let Some(stored) = stored {
            existing.applications.insert((tenant, client), stored);
        }
    }
    let mut customers = conn.prepare_cached(
        "select id, company_name, domain from customers where partner_tenant_id = ?1 and customer_id = ?2",
    )?;
    let mut subscriptions = conn.prepare_cached(
        "select subscription_id, kind, status, offer_name, offer_id, friendly_name, quantity
         from subscriptions where customer_ref = ?1",
    )?;
    for key in seed::customers(fixture) {
        let found: Option<(i64, ExistingCustomer)> = customers
            .query_row(
                params![
                    Guid::of(key.partner.encode()),
                    Guid::of(key.customer.encode())
                ],
                |row| {
                    Ok((
                        row.get(0)?,
                        ExistingCustomer {
                            company_name: row.get(1)?,
                            domain: row.get(2)?,
                        },
                    ))
                },
            )
            .optional()?;
        let Some((customer_ref, customer)) = found else {
            continue;
        };
        existing.customers.insert(key, customer);
        let mut rows = subscriptions.query([customer_ref])?;
        while let Some(row) = rows.next()? {
            let id: SubscriptionId = parse(row, 0)?;
            existing.subscriptions.insert(
                SubscriptionKey {
                    partner: key.partner,
                    customer: key.customer,
                    subscription: id,
                },
                ExistingSubscription {
                    kind: parse(row, 1)?,
                    status: parse(row, 2)?,
                    offer_name: row.get(3)?,
                    offer_id: row.get(4)?,
                    friendly_name: row.get(5)?,
                    quantity: row.get(6)?,
                },
            );
        }
    }
    Ok(existing)
}

/// Runs `execute` under the idempotency key if there is one: a repeat within the retention window
/// gets the stored outcome and `execute` does not run; otherwise the outcome is stored with the
/// effect. Runs on the writer, which serialises requests with one key: a concurrent repeat (even in
/// the same batch) runs after the first and finds its record.
fn idempotent_in<T: StoredOutcome>(
    tx: &mut Tx<'_>,
    partner: TenantId,
    now: Timestamp,
    idempotency: Option<&Idempotency>,
    execute: impl FnOnce(&mut Tx<'_>) -> Result<T, StoreError>,
) -> Result<Recorded<T>, StoreError> {
    let Some(idem) = idempotency else {
        let outcome = execute(tx)?;
        return Ok(Recorded::fresh(outcome, tx.take_saved()));
    };
    let tag = tx.records().tag(partner, idem);
    let found = idempotency::find(tx.conn(), &tx.records(), tag, partner, idem)?;
    if let Some(found) = &found
        && found.expires_at > now.as_millis()
    {
        return T::decode(&found.outcome)
            .map(Recorded::repeat)
            .ok_or_else(|| corrupt(format!("idempotency outcome `{}`", found.outcome)));
    }
    let outcome = execute(tx)?;
    let saved = tx.take_saved();
    // No record, or an expired one, which this one replaces (a live one was answered above).
    idempotency::record(
        tx.conn(),
        &mut tx.records(),
        tag,
        partner,
        idem,
        found,
        &outcome.encode(),
        now.as_millis(),
    )?;
    Ok(Recorded::fresh(outcome, saved))
}

impl SqliteStore {
    /// A POST, idempotent by its key, checked in the write transaction. A repeat is not looked up
    /// on a reader first: that lookup would cost every first request a read (of pages the
    /// writer's last commit made stale) to spare the rare repeat its turn at the writer, where it
    /// writes nothing and waits for no fsync.
    async fn idempotent<T, F>(
        &self,
        partner: TenantId,
        now: Timestamp,
        idempotency: Option<&Idempotency>,
        mut execute: F,
    ) -> Result<Recorded<T>, StoreError>
    where
        T: StoredOutcome + Send + 'static,
        F: FnMut(&mut Tx<'_>) -> Result<T, StoreError> + Send + 'static,
    {
        let idempotency = idempotency.cloned();
        self.engine
            .write(move |tx| idempotent_in(tx, partner, now, idempotency.as_ref(), &mut execute))
            .await
    }
}

#[async_trait]
impl RequestStore for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.engine
            .read(|conn| Ok(conn.prepare_cached("select 1")?.exists([])?))
            .await
            .map(drop)
    }

    async fn partner(&self, tenant: TenantId) -> Result<Option<Partner>, StoreError> {
        if let Some(partner) = self.caches.partners.get(tenant) {
            return Ok(Some(partner));
        }
        let read_at = self.caches.partners.generation();
        let partner = self
            .engine
            .read(move |conn| partner_row(conn, tenant))
            .await?;
        if let Some(partner) = &partner {
            self.caches.partners.insert(partner.clone(), read_at);
        }
        Ok(partner)
    }

    async fn service_key(&self, name: &str, candidate: Vec<u8>) -> Result<Vec<u8>, StoreError> {
        let name = name.to_owned();
        self.engine
            .write(move |tx| {
                let conn = tx.conn();
                conn.prepare_cached(
                    "insert into service_keys (name, key, created_at) values (?1, ?2, ?3)
                     on conflict (name) do nothing",
                )?
                .execute(params![
                    name,
                    candidate,
                    Timestamp::now().as_millis()
                ])?;
                Ok(conn
                    .prepare_cached("select key from service_keys where name = ?1")?
                    .query_row([&name], |row| row.get(0))?)
            })
            .await
    }

    async fn customer(&self, key: CustomerKey) -> Result<Option<CustomerRecord>, StoreError> {
        self.engine
            .read(move |conn| {
                let mut statement = conn.prepare_cached(
                    "select customer_id, company_name, domain, created_at from customers
                     where partner_tenant_id = ?1 and customer_id = ?2",
                )?;
                let mut rows = statement.query(params![
                    Guid::of(key.partner.encode()),
                    Guid::of(key.customer.encode())
                ])?;
                rows.next()?.map(customer_of).transpose()
            })
            .await
    }

    async fn customers(
        &self,
        partner: TenantId,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<(i64, CustomerRecord)>, StoreError> {
        self.engine
            .read(move |conn| {
                let mut statement = conn.prepare_cached(
                    "select customer_id, company_name, domain, created_at, id from customers
                     where partner_tenant_id = ?1 and id > ?2 order by id limit ?3",
                )?;
                let mut rows = statement.query(params![
                    Guid::of(partner.encode()),
                    after.unwrap_or(i64::MIN),
                    limit
                ])?;
                let mut page = Vec::new();
                while let Some(row) = rows.next()? {
                    page.push((row.get(4)?, customer_of(row)?));
                }
                Ok(page)
            })
            .await
    }

    async fn subscriptions(
        &self,
        customer: CustomerKey,
        order_id: Option<&str>,
    ) -> Result<Option<Vec<SubscriptionRecord>>, StoreError> {
        let order_id = order_id.map(str::to_owned);
        self.engine
            .read(move |conn| {
                let Some(customer_ref) = customer_ref(conn, customer.partner, customer.customer)?
                else {
                    return Ok(None);
                };
                let mut statement = conn.prepare_cached(concat!(
                    "select ",
                    subscription_columns!(),
                    " from subscriptions where customer_ref = ?1 and (?2 is null or order_id = ?2)
                     order by subscription_id"
                ))?;
                let mut rows = statement.query(params![customer_ref, order_id])?;
                let mut subscriptions = Vec::new();
                while let Some(row) = rows.next()? {
                    subscriptions.push(subscription_of(row)?);
                }
                Ok(Some(subscriptions))
            })
            .await
    }

    async fn find_subscription(
        &self,
        key: &SubscriptionKey,
    ) -> Result<Lookup<SubscriptionRecord>, StoreError> {
        let key = *key;
        self.engine
            .read(move |conn| Ok(load_subscription(conn, &key)?.map(|(record, _)| record)))
            .await
    }

    async fn registration_status(
        &self,
        key: &SubscriptionKey,
    ) -> Result<Lookup<RegistrationState>, StoreError> {
        let key = *key;
        let ticket = match self.caches.index.lookup_or_load(&key) {
            Ok(found) => return Ok(found),
            Err(Miss::Busy) => {
                return self
                    .engine
                    .read(move |conn| facts(conn, &key))
                    .await
                    .map(|found| found.map(|facts| facts.registration));
            }
            Err(Miss::Load(ticket)) => ticket,
        };
        // The customer's first read: loaded whole, in place (a few milliseconds for 10,000
        // subscriptions; once per customer), then held. Not on the blocking pool: a burst of
        // first reads there spreads over many threads, and each thread keeps its allocator's
        // memory.
        let customer = ticket.customer();
        let loaded = self
            .engine
            .read(move |conn| load_customer(conn, customer))
            .await?;
        Ok(ticket.finish(loaded, &key))
    }

    async fn register(
        &self,
        key: &SubscriptionKey,
        now: Timestamp,
        idempotency: Option<&Idempotency>,
        ending: RegistrationEnding,
    ) -> Result<Recorded<Lookup<RegisterOutcome>>, StoreError> {
        let key = *key;
        self.idempotent(key.partner, now, idempotency, move |tx| {
            let found = located_facts(tx, &key)?;
            tx.decided(registration::register(&key, found, ending, now))
        })
        .await
    }

    async fn activate(
        &self,
        key: &SubscriptionKey,
        now: Timestamp,
        idempotency: Option<&Idempotency>,
    ) -> Result<Recorded<Lookup<ActivateOutcome>>, StoreError> {
        let key = *key;
        self.idempotent(key.partner, now, idempotency, move |tx| {
            let sandbox = tx.sandbox(key.partner, partner_row)?;
            let found = located_facts(tx, &key)?;
            let order = purchase::order_of_subscription(tx.conn(), &key)?;
            tx.decided(activation::activate(&key, sandbox, found, order, now))
        })
        .await
    }
}

#[async_trait]
impl JobQueue for SqliteStore {
    async fn release_orphaned_claims(&self) -> Result<(), StoreError> {
        // One process serves a SQLite database: leases still held when it starts were taken by a
        // process that is gone.
        self.engine
            .write(|tx| {
                tx.conn()
                    .prepare_cached(
                        "update registration_jobs set lease_until = null where lease_until is not null",
                    )?
                    .execute([])?;
                tx.conn()
                    .prepare_cached(
                        "update order_jobs set lease_until = null where lease_until is not null",
                    )?
                    .execute([])?;
                Ok(())
            })
            .await
    }

    async fn claim_registrations(
        &self,
        accepted_by: Timestamp,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<ClaimedRegistration>, StoreError> {
        self.engine
            .write(move |tx| {
                let mut statement = tx.conn().prepare_cached(
                    "update registration_jobs set lease_until = ?3, attempts = attempts + 1
                     where registration_ref in (
                         select registration_ref from registration_jobs
                         where enqueued_at <= ?1 and (lease_until is null or lease_until <= ?2)
                         order by enqueued_at, registration_ref
                         limit ?4)
                     returning registration_ref, attempts, fails",
                )?;
                let claimed = statement
                    .query_map(
                        params![
                            accepted_by.as_millis(),
                            now.as_millis(),
                            now.saturating_add(lease).as_millis(),
                            limit
                        ],
                        |row| {
                            Ok(ClaimedRegistration {
                                registration: RegistrationId(row.get(0)?),
                                attempts: row.get(1)?,
                                ending: crate::planned_ending(row.get(2)?),
                            })
                        },
                    )?
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(claimed)
            })
            .await
    }

    async fn complete_registrations(
        &self,
        claimed: &[ClaimedRegistration],
        now: Timestamp,
    ) -> Result<Vec<CompletedRegistration>, StoreError> {
        let claimed = claimed.to_vec();
        self.engine
            .write(move |tx| {
                let mut completed = Vec::with_capacity(claimed.len());
                for claim in &claimed {
                    let open = claimed_registration(tx.conn(), claim.registration)?;
                    completed.extend(tx.decided(registration::complete(claim, open, now))?);
                }
                Ok(completed)
            })
            .await
    }

    async fn next_registration_due(
        &self,
        delay: Duration,
    ) -> Result<Option<Timestamp>, StoreError> {
        let delay = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        self.engine
            .read(move |conn| {
                let due: Option<i64> = conn
                    .prepare_cached(
                        "select min(max(enqueued_at + ?1, coalesce(lease_until, 0))) from registration_jobs",
                    )?
                    .query_row([delay], |row| row.get(0))?;
                Ok(due.map(Timestamp::from_millis))
            })
            .await
    }

    async fn queue_depth(&self) -> Result<u64, StoreError> {
        self.engine
            .read(|conn| {
                let depth: i64 = conn
                    .prepare_cached("select count(*) from registration_jobs")?
                    .query_row([], |row| row.get(0))?;
                Ok(u64::try_from(depth).unwrap_or_default())
            })
            .await
    }

    async fn claim_orders(
        &self,
        placed_by: Timestamp,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<String>, StoreError> {
        let until = now.saturating_add(lease);
        self.engine
            .write(move |tx| purchase::claim_orders(tx, placed_by, now, until, limit))
            .await
    }

    async fn provision_orders(
        &self,
        claimed: &[String],
        now: Timestamp,
    ) -> Result<Vec<Order>, StoreError> {
        let claimed = claimed.to_vec();
        self.engine
            .write(move |tx| {
                let mut provisioned = Vec::with_capacity(claimed.len());
                for order_id in &claimed {
                    provisioned.extend(purchase::provision_in(tx, order_id, now)?);
                }
                Ok(provisioned)
            })
            .await
    }

    async fn next_order_due(&self, delay: Duration) -> Result<Option<Timestamp>, StoreError> {
        let delay = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX);
        self.engine
            .read(move |conn| purchase::next_order_due(conn, delay))
            .await
    }

    async fn order_counts(&self) -> Result<Vec<(OrderStatus, u64)>, StoreError> {
        self.engine.read(purchase::order_counts).await
    }

    async fn purge_idempotency(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        self.engine
            .write(move |tx| {
                idempotency::purge(tx.conn(), &mut tx.records(), now.as_millis(), limit)
            })
            .await
    }
}

#[async_trait]
impl IdentityStore for SqliteStore {
    async fn application(
        &self,
        tenant: TenantId,
        client_id: ClientId,
    ) -> Result<Option<Application>, StoreError> {
        self.engine
            .read(move |conn| {
                Ok(conn
                    .prepare_cached(
                        "select name, secret_hash from applications where partner_tenant_id = ?1 and client_id = ?2",
                    )?
                    .query_row(
                        params![Guid::of(tenant.encode()), Guid::of(client_id.encode())],
                        |row| {
                            Ok(Application {
                                tenant,
                                client_id,
                                name: row.get(0)?,
                                secret_hash: row.get(1)?,
                            })
                        },
                    )
                    .optional()?)
            })
            .await
    }

    async fn signing_key(&self, candidate: SigningKey) -> Result<SigningKey, StoreError> {
        self.engine
            .write(move |tx| {
                let conn = tx.conn();
                let existing = conn
                    .prepare_cached(
                        "select kid, private_key_pkcs8, created_at from signing_keys order by created_at, kid limit 1",
                    )?
                    .query_row([], |row| {
                        Ok(SigningKey {
                            kid: row.get(0)?,
                            private_key_pkcs8: row.get(1)?,
                            created_at: Timestamp::from_millis(row.get(2)?),
                        })
                    })
                    .optional()?;
                if let Some(existing) = existing {
                    return Ok(existing);
                }
                conn.prepare_cached(
                    "insert into signing_keys (kid, algorithm, private_key_pkcs8, created_at) values (?1, 'RS256', ?2, ?3)",
                )?
                .execute(params![
                    candidate.kid,
                    candidate.private_key_pkcs8,
                    candidate.created_at.as_millis()
                ])?;
                Ok(candidate.clone())
            })
            .await
    }
}

#[async_trait]
impl AdminStore for SqliteStore {
    async fn list_partners(&self) -> Result<Vec<Partner>, StoreError> {
        self.engine
            .read_long(|conn| {
                let mut statement = conn.prepare_cached(
                    "select tenant_id, name, sandbox from partners order by tenant_id",
                )?;
                let mut rows = statement.query([])?;
                let mut partners = Vec::new();
                while let Some(row) = rows.next()? {
                    partners.push(Partner {
                        tenant_id: parse(row, 0)?,
                        name: row.get(1)?,
                        sandbox: row.get(2)?,
                    });
                }
                Ok(partners)
            })
            .await
    }

    async fn put_partner(&self, partner: &Partner, now: Timestamp) -> Result<Upserted, StoreError> {
        let partner = partner.clone();
        self.engine
            .write(move |tx| {
                let existed = partner_row(tx.conn(), partner.tenant_id)?.is_some();
                tx.decided(operator::put_partner(partner.clone(), existed, now))
            })
            .await
    }

    async fn delete_partner(&self, tenant: TenantId) -> Result<bool, StoreError> {
        self.engine
            .write(move |tx| {
                let existed = partner_row(tx.conn(), tenant)?.is_some();
                tx.decided(operator::delete_partner(tenant, existed))
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
        let (company_name, domain) = (company_name.to_owned(), domain.map(str::to_owned));
        self.engine
            .write(move |tx| {
                let partner_exists = partner_row(tx.conn(), key.partner)?.is_some();
                let existed = customer_ref(tx.conn(), key.partner, key.customer)?.is_some();
                tx.decided(operator::put_customer(
                    partner_exists,
                    existed,
                    key,
                    company_name.clone(),
                    domain.clone(),
                    now,
                ))
            })
            .await
    }

    async fn delete_customer(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<bool, StoreError> {
        self.engine
            .write(move |tx| {
                let existed = customer_ref(tx.conn(), tenant, customer)?.is_some();
                let key = CustomerKey {
                    partner: tenant,
                    customer,
                };
                tx.decided(operator::delete_customer(key, existed))
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
        let spec = subscription.clone();
        let key = SubscriptionKey {
            partner: tenant,
            customer,
            subscription: spec.id,
        };
        self.engine
            .write(move |tx| {
                let found = match find_subscription(tx.conn(), &key)? {
                    Lookup::Found(_) => Lookup::Found(true),
                    Lookup::SubscriptionNotFound => Lookup::Found(false),
                    Lookup::CustomerNotFound => Lookup::CustomerNotFound,
                };
                tx.decided(operator::put_subscription(key, found, &spec, now))
            })
            .await
    }

    async fn delete_subscription(&self, key: &SubscriptionKey) -> Result<bool, StoreError> {
        let key = *key;
        self.engine
            .write(move |tx| {
                let existed = matches!(find_subscription(tx.conn(), &key)?, Lookup::Found(_));
                tx.decided(operator::delete_subscription(key, existed))
            })
            .await
    }

    async fn subscription(
        &self,
        key: &SubscriptionKey,
    ) -> Result<Lookup<SubscriptionDetail>, StoreError> {
        let key = *key;
        self.engine
            .read_long(move |conn| match load_subscription(conn, &key)?.found() {
                Ok((subscription, id)) => Ok(Lookup::Found(SubscriptionDetail {
                    subscription,
                    registrations: history(conn, id)?,
                })),
                Err(missing) => Ok(missing),
            })
            .await
    }

    async fn registration_history(
        &self,
        key: &SubscriptionKey,
    ) -> Result<Lookup<Vec<RegistrationRecord>>, StoreError> {
        let key = *key;
        self.engine
            .read(move |conn| match find_subscription(conn, &key)?.found() {
                Ok((id, _)) => Ok(Lookup::Found(history(conn, id)?)),
                Err(missing) => Ok(missing),
            })
            .await
    }

    async fn settle_registration(
        &self,
        key: &SubscriptionKey,
        ending: RegistrationEnding,
        now: Timestamp,
    ) -> Result<Lookup<Settled>, StoreError> {
        let key = *key;
        self.engine
            .write(move |tx| {
                let found = match find_subscription(tx.conn(), &key)?.found() {
                    Ok((id, facts)) => {
                        Lookup::Found((facts, open_registration(tx.conn(), &key, id)?))
                    }
                    Err(missing) => missing,
                };
                tx.decided(registration::settle(found, ending, now))
            })
            .await
    }

    async fn reset(&self) -> Result<(), StoreError> {
        self.engine.write(|tx| tx.decided(operator::reset())).await
    }

    async fn advance_order(
        &self,
        customer: CustomerKey,
        order_id: &str,
        now: Timestamp,
    ) -> Result<Option<Order>, StoreError> {
        let order_id = order_id.to_owned();
        self.engine
            .write(move |tx| purchase::advance_order(tx, customer, &order_id, now))
            .await
    }
}

#[async_trait]
impl FixtureStore for SqliteStore {
    async fn apply_fixture(&self, fixture: &Fixture) -> Result<SeedReport, StoreError> {
        let fixture = Arc::new(fixture.clone());
        let named = fixture.clone();
        let stored = self
            .engine
            .read_long(move |conn| {
                let mut statement = conn.prepare_cached(
                    "select secret_hash from applications where partner_tenant_id = ?1 and client_id = ?2",
                )?;
                let mut stored = HashMap::new();
                for ((tenant, client), _) in seed::applications(&named) {
                    let hash: Option<String> = statement
                        .query_row(
                            params![Guid::of(tenant.encode()), Guid::of(client.encode())],
                            |row| row.get(0),
                        )
                        .optional()?;
                    stored.extend(hash.map(|hash| ((tenant, client), hash)));
                }
                Ok(stored)
            })
            .await?;
        let secrets = secret::check_fixture(fixture.clone(), stored).await?;
        self.engine
            .write(move |tx| {
                let existing = existing(tx.conn(), &fixture)?;
                tx.decided(seed::apply(&fixture, existing, &secrets, Timestamp::now()))
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use partner_center_model::{SubscriptionKind, SubscriptionStatus};

    use super::*;

    /// The registration-failures migration rebuilds `registrations`, the customers-and-
    /// subscriptions one rebuilds `subscriptions`, and the checks-without-lists one both again:
    /// rows, their ids (referenced by registrations and queued jobs) and the foreign keys must
    /// survive them all.
    #[test]
    fn rebuilding_registrations_keeps_every_row_and_the_queue() {
        let dir = tempfile::tempdir().unwrap();
        let location = Location::parse(&format!(
            "sqlite://{}",
            dir.path().join("upgrade.db").display()
        ))
        .unwrap();
        let conn = engine::open_writer(&location).unwrap();
        migrations::apply(&conn, Some(3)).unwrap();
        conn.execute_batch(
            "insert into partners values ('p', 'P', 1, 0, 0);
             insert into customers (id, partner_tenant_id, customer_id, company_name, created_at, updated_at) values (1, 'p', 'c', 'C', 0, 0);
             insert into subscriptions (id, customer_ref, subscription_id, kind, status, offer_name, registration_state, created_at, updated_at) values (7, 1, 's', 'azurePlan', 'active', '', 'Registering', 0, 0);
             insert into registrations (id, subscription_ref, state, requested_at) values (42, 7, 'Registering', 5);
             insert into registration_jobs (registration_ref, enqueued_at) values (42, 5);",
        )
        .unwrap();
        let report = migrations::apply(&conn, None).unwrap();
        assert_eq!(
            report
                .iter()
                .map(|(_, _, before)| *before)
                .collect::<Vec<_>>(),
            [true, true, true, false, false, false, false, false, false]
        );
        // The rebuilt subscriptions keep their rows and ids, with the new columns' defaults.
        let subscription: (i64, String, i64, Option<String>) = conn
            .query_row(
                "select id, registration_state, quantity, order_id from subscriptions",
                [],
                |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?)),
            )
            .unwrap();
        assert_eq!(subscription, (7, "Registering".to_owned(), 1, None));
        let job: (i64, i64) = conn
            .query_row(
                "select registration_ref, fails from registration_jobs",
                [],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .unwrap();
        assert_eq!(job, (42, 0));
        let registration: (i64, String) = conn
            .query_row("select id, state from registrations", [], |row| {
                Ok((row.get(0)?, row.get(1)?))
            })
            .unwrap();
        assert_eq!(registration, (42, "Registering".to_owned()));
        let violations: i64 = conn
            .query_row("select count(*) from pragma_foreign_key_check", [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(violations, 0);
        // The new state is allowed, and deleting the subscription still cascades.
        conn.execute_batch("update registrations set state = 'Failed'; delete from subscriptions;")
            .unwrap();
        let left: i64 = conn
            .query_row("select count(*) from registration_jobs", [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(left, 0);
        // The checks still refuse what they refused, without a temporary table per statement.
        assert!(
            conn.execute_batch(
                "insert into subscriptions (customer_ref, subscription_id, kind, status, offer_name, created_at, updated_at) values (1, 't', 'azurePlan', 'bogus', '', 0, 0)"
            )
            .is_err()
        );
        for statement in [
            "update subscriptions set registration_state = 'Registered' where id = 7",
            "insert into registrations (subscription_ref, state, requested_at) values (7, 'Registering', 0)",
            "update orders set status = 'completed' where id = 'o'",
        ] {
            let mut explained = conn.prepare(&format!("explain {statement}")).unwrap();
            let opcodes: Vec<String> = explained
                .query_map([], |row| row.get(1))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(
                !opcodes.iter().any(|op| op == "OpenEphemeral"),
                "{statement}: {opcodes:?}"
            );
        }
        // Applying again changes nothing.
        assert!(
            migrations::apply(&conn, None)
                .unwrap()
                .iter()
                .all(|(_, _, before)| *before)
        );
    }

    /// `n` active Azure plans.
    fn azure_plans(n: usize) -> Vec<FixtureSubscription> {
        (0..n)
            .map(|n| FixtureSubscription {
                id: format!("d3a7f4c2-0000-4000-8000-{n:012}").parse().unwrap(),
                kind: SubscriptionKind::AzurePlan,
                status: SubscriptionStatus::Active,
                offer_name: "Azure plan".into(),
                offer_id: None,
                friendly_name: None,
                quantity: None,
            })
            .collect()
    }

    /// A sandbox partner with one customer holding `subscriptions`.
    fn one_customer(
        partner: TenantId,
        customer: CustomerId,
        subscriptions: &[FixtureSubscription],
    ) -> Fixture {
        use partner_center_model::fixture::{FixtureCustomer, FixturePartner};
        Fixture {
            partners: vec![FixturePartner {
                tenant_id: partner,
                name: "P".into(),
                sandbox: true,
                applications: vec![],
                customers: vec![FixtureCustomer {
                    id: customer,
                    company_name: "C".into(),
                    domain: None,
                    subscriptions: subscriptions.to_vec(),
                }],
            }],
            catalog: None,
        }
    }

    /// A store on the file `name` in a fresh directory (kept as long as the test holds it), with one
    /// customer of `count` Azure plans: the directory, the file, the store and the plans' keys.
    async fn one_customer_on_file(
        name: &str,
        count: usize,
    ) -> (
        tempfile::TempDir,
        std::path::PathBuf,
        SqliteStore,
        Vec<SubscriptionKey>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(name);
        let store = SqliteStore::open(&format!("sqlite://{}", file.display()))
            .await
            .unwrap();
        let partner: TenantId = "b1e5d2a0-0000-4000-8000-000000000001".parse().unwrap();
        let customer: CustomerId = "c2f6e3b1-0000-4000-8000-000000000002".parse().unwrap();
        let subscriptions = azure_plans(count);
        store
            .apply_fixture(&one_customer(partner, customer, &subscriptions))
            .await
            .unwrap();
        let keys = subscriptions
            .iter()
            .map(|subscription| SubscriptionKey {
                partner,
                customer,
                subscription: subscription.id,
            })
            .collect();
        (dir, file, store, keys)
    }

    /// A batch's answers are delivered by a task on the runtime that opened the store; a store still
    /// used once that runtime has stopped (from another one) has its writer answer instead.
    #[test]
    fn writes_are_answered_after_the_runtime_that_opened_the_store_has_stopped() {
        let runtime = || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
        };
        let opened = runtime();
        let (_dir, _file, store, keys) = opened.block_on(one_customer_on_file("moved.db", 1));
        drop(opened);
        let registered = runtime().block_on(store.register(
            &keys[0],
            Timestamp::now(),
            None,
            RegistrationEnding::Registered,
        ));
        assert!(registered.is_ok(), "{registered:?}");
    }

    /// The writer's commits do not checkpoint; the checkpointer thread copies what they wrote into
    /// the database file soon after (read here with `immutable=1`, which ignores the WAL; the few
    /// writes stay far below the writer's own full checkpoint).
    #[tokio::test]
    async fn the_checkpointer_copies_committed_writes_into_the_database_file() {
        let (_dir, file, store, keys) = one_customer_on_file("copied.db", 3).await;
        for key in &keys {
            store
                .register(key, Timestamp::now(), None, RegistrationEnding::Registered)
                .await
                .unwrap();
        }
        let in_file = || -> Option<i64> {
            let conn = Connection::open_with_flags(
                format!("file:{}?immutable=1", file.display()),
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI,
            )
            .ok()?;
            conn.query_row("select count(*) from registrations", [], |row| row.get(0))
                .ok()
        };
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while in_file() != Some(3) {
            assert!(
                std::time::Instant::now() < deadline,
                "the database file holds {:?} registrations",
                in_file()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// A write is answered only once the WAL's fsync has succeeded. Here the WAL cannot be synced
    /// (its file is gone from the directory, though SQLite still writes to it): the write is
    /// answered as unavailable. So is every later one, which may rest on what was not synced, even
    /// once a file of the WAL's name could be synced again; reads go on.
    #[tokio::test]
    async fn a_write_whose_wal_cannot_be_synced_is_not_acknowledged_and_writes_stop() {
        let (_dir, file, store, keys) = one_customer_on_file("unsynced.db", 3).await;
        let register = |n: usize| {
            store.register(
                &keys[n],
                Timestamp::now(),
                None,
                RegistrationEnding::Registered,
            )
        };
        register(0).await.unwrap();
        let wal = format!("{}-wal", file.display());
        std::fs::remove_file(&wal).unwrap();
        for n in [1, 2] {
            if n == 2 {
                // A file SQLite does not write to, which syncs without error.
                std::fs::write(&wal, b"").unwrap();
            }
            match register(n).await {
                Err(err @ StoreError::Unavailable(_)) => {
                    assert!(err.to_string().contains("synced"), "{err}");
                }
                other => panic!("write {n} after the WAL went: {other:?}"),
            }
        }
        assert_eq!(
            store.registration_status(&keys[0]).await.unwrap(),
            Lookup::Found(RegistrationState::Registering)
        );
    }

    /// Readers keep their transactions from one read to the next; an idle one must still let go
    /// of it once a write makes it stale, or checkpoints could never reset the WAL, which would
    /// grow with every write.
    #[tokio::test]
    async fn idle_readers_do_not_hold_the_wal_back() {
        let (_dir, file, store, keys) = one_customer_on_file("wal.db", 1500).await;
        let key = |n: usize| keys[n];
        // A read opens a transaction on the first reader, which then sits idle.
        let before = store.registration_status(&key(0)).await.unwrap();
        assert_eq!(before, Lookup::Found(RegistrationState::NotRegistered));
        for n in 0..keys.len() {
            store
                .register(
                    &key(n),
                    Timestamp::now(),
                    None,
                    RegistrationEnding::Registered,
                )
                .await
                .unwrap();
        }
        let wal = std::fs::metadata(format!("{}-wal", file.display()))
            .unwrap()
            .len();
        assert!(wal < 8 << 20, "the WAL grew to {wal} bytes");
        // And the reader sees every write.
        let after = store.registration_status(&key(0)).await.unwrap();
        assert_eq!(after, Lookup::Found(RegistrationState::Registering));
    }

    /// Under steady load readers always hold some snapshot, so the checkpointer's passive
    /// checkpoints never reach the end of the WAL; the writer's full checkpoints keep it bounded
    /// all the same.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_stays_bounded_under_steady_reads_and_writes() {
        let (_dir, file, store, keys) = one_customer_on_file("steady.db", 4000).await;
        let (store, keys) = (Arc::new(store), Arc::new(keys));
        let wal = std::path::PathBuf::from(format!("{}-wal", file.display()));
        let largest = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        // Eight clients register with idempotency keys: each first reads the subscription's
        // history on a reader, which keeps that snapshot, while the writer commits.
        let clients: Vec<_> = (0..8)
            .map(|client| {
                let (store, keys, wal, largest) =
                    (store.clone(), keys.clone(), wal.clone(), largest.clone());
                tokio::spawn(async move {
                    for n in (client..keys.len()).step_by(8) {
                        let key = keys[n];
                        let idempotency = Idempotency {
                            request_id: format!("request-{n}"),
                            method: "POST".into(),
                            path: format!(
                                "/v1/customers/{}/subscriptions/{}/registrations",
                                key.customer, key.subscription
                            ),
                            expires_at: Timestamp::from_millis(i64::MAX),
                        };
                        let before = store.registration_history(&key).await.unwrap();
                        assert!(matches!(before, Lookup::Found(h) if h.is_empty()));
                        let recorded = store
                            .register(
                                &key,
                                Timestamp::now(),
                                Some(&idempotency),
                                RegistrationEnding::Registered,
                            )
                            .await
                            .unwrap();
                        assert!(!recorded.replayed);
                        let size = std::fs::metadata(&wal).map_or(0, |m| m.len());
                        largest.fetch_max(size, std::sync::atomic::Ordering::Relaxed);
                    }
                })
            })
            .collect();
        for client in clients {
            client.await.unwrap();
        }
        let largest = largest.load(std::sync::atomic::Ordering::Relaxed);
        // The threshold (1 MiB in tests), plus what the batches in between add.
        assert!(largest < 4 << 20, "the WAL grew to {largest} bytes");
        let history = store.registration_history(&keys[0]).await.unwrap();
        assert!(matches!(history, Lookup::Found(h) if h.len() == 1));
    }

    /// A customer far larger than the old per-customer limit (20,000) is loaded once and held:
    /// its reads are answered from memory, like any other customer's, even while its
    /// subscriptions are being registered.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_large_customer_is_held_and_follows_the_writes_made_while_it_loads() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("large.db").display());
        let store = Arc::new(SqliteStore::open(&url).await.unwrap());
        let partner: TenantId = "b1e5d2a0-0000-4000-8000-000000000001".parse().unwrap();
        let customer: CustomerId = "c2f6e3b1-0000-4000-8000-000000000002".parse().unwrap();
        let subscriptions = azure_plans(30_000);
        store
            .apply_fixture(&one_customer(partner, customer, &subscriptions))
            .await
            .unwrap();
        let key = |n: usize| SubscriptionKey {
            partner,
            customer,
            subscription: subscriptions[n].id,
        };
        // Registrations commit while the first read loads the customer.
        let writer = {
            let store = store.clone();
            let keys: Vec<_> = (0..200).map(key).collect();
            tokio::spawn(async move {
                for k in keys {
                    store
                        .register(&k, Timestamp::now(), None, RegistrationEnding::Registered)
                        .await
                        .unwrap();
                }
            })
        };
        store.registration_status(&key(29_999)).await.unwrap();
        writer.await.unwrap();
        assert!(
            store.caches.index.lookup(&key(29_999)).is_some(),
            "the customer is held"
        );
        for n in [0, 1, 100, 199, 200, 29_999] {
            let expected = if n < 200 {
                RegistrationState::Registering
            } else {
                RegistrationState::NotRegistered
            };
            assert_eq!(
                store.caches.index.lookup(&key(n)),
                Some(Lookup::Found(expected)),
                "subscription {n}"
            );
        }
    }

    /// Starts a write that holds the writer for as long as `hold` runs, and returns once the writer
    /// has begun it.
    async fn hold_writer(
        store: &Arc<SqliteStore>,
        mut hold: impl FnMut() + Send + 'static,
    ) -> tokio::task::JoinHandle<Result<(), StoreError>> {
        let (started, running) = tokio::sync::oneshot::channel();
        let mut started = Some(started);
        let store = store.clone();
        let held = tokio::spawn(async move {
            store
                .engine
                .write(move |_| {
                    if let Some(started) = started.take() {
                        let _ = started.send(());
                    }
                    hold();
                    Ok(())
                })
                .await
        });
        running.await.unwrap();
        held
    }

    /// A write that waits for the writer longer than the acquire timeout is refused as
    /// unavailable, and never runs: a 503 means nothing was written.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_that_waits_past_the_acquire_timeout_is_refused_and_never_runs() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("busy.db").display());
        let options = StoreOptions {
            acquire_timeout: Duration::from_millis(100),
            ..StoreOptions::default()
        };
        let store = Arc::new(SqliteStore::open_with(&url, options).await.unwrap());
        let partner = Partner {
            tenant_id: "b1e5d2a0-0000-4000-8000-000000000001".parse().unwrap(),
            name: "P".into(),
            sandbox: true,
        };
        // A write that holds the writer for a while (a slow disk, a large fixture).
        let slow = hold_writer(&store, || std::thread::sleep(Duration::from_millis(600))).await;
        let refused = store.put_partner(&partner, Timestamp::now()).await;
        assert!(
            matches!(&refused, Err(err) if err.is_unavailable()),
            "{refused:?}"
        );
        slow.await.unwrap().unwrap();
        // The writer is free again: the refused write did not run, and a new one does.
        assert!(store.list_partners().await.unwrap().is_empty());
        assert_eq!(
            store.put_partner(&partner, Timestamp::now()).await.unwrap(),
            Upserted::Created
        );
        assert_eq!(
            store.partner(partner.tenant_id).await.unwrap(),
            Some(partner)
        );
    }

    /// A job that fails leaves nothing behind, and the others of its batch are kept: the writer
    /// rolls the batch back and runs the others again without it (once more for a job that ran
    /// before it, whose write is then kept once).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failing_job_is_left_out_of_its_batch_and_the_others_commit() {
        use std::sync::atomic::{AtomicUsize, Ordering};

        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("batch.db").display());
        let store = Arc::new(SqliteStore::open(&url).await.unwrap());
        let partner = |n: u32| Partner {
            tenant_id: format!("b1e5d2a0-0000-4000-8000-{n:012}").parse().unwrap(),
            name: format!("P{n}"),
            sandbox: true,
        };
        let now = Timestamp::now();
        // Holds the writer until the batch behind it is queued.
        let (release, gate) = std::sync::mpsc::channel::<()>();
        let held = hold_writer(&store, move || {
            let _ = gate.recv();
        })
        .await;
        let runs = Arc::new(AtomicUsize::new(0));
        let mut writes = Vec::new();
        for job in 0..4 {
            let (writer, runs) = (store.clone(), runs.clone());
            let (first, second, third) = (partner(1), partner(2), partner(3));
            writes.push(tokio::spawn(async move {
                match job {
                    0 => writer.put_partner(&first, now).await.map(drop),
                    1 => {
                        writer
                            .engine
                            .write(move |tx| {
                                runs.fetch_add(1, Ordering::SeqCst);
                                tx.decided(operator::put_partner(second.clone(), false, now))
                                    .map(drop)
                            })
                            .await
                    }
                    2 => {
                        writer
                            .engine
                            .write(move |tx| {
                                tx.decided(operator::put_partner(partner(4), false, now))?;
                                Err(StoreError::Corrupt("this job fails".into()))
                            })
                            .await
                    }
                    _ => writer.put_partner(&third, now).await.map(drop),
                }
            }));
            while store.engine.queued() < job + 1 {
                tokio::task::yield_now().await;
            }
        }
        release.send(()).unwrap();
        held.await.unwrap().unwrap();
        let mut outcomes = Vec::new();
        for write in writes {
            outcomes.push(write.await.unwrap());
        }
        assert!(outcomes[0].is_ok() && outcomes[1].is_ok() && outcomes[3].is_ok());
        assert!(
            matches!(&outcomes[2], Err(StoreError::Corrupt(message)) if message == "this job fails"),
            "{:?}",
            outcomes[2]
        );
        assert_eq!(
            runs.load(Ordering::SeqCst),
            2,
            "run again without the failed job"
        );
        let names: Vec<String> = store
            .list_partners()
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["P1", "P2", "P3"]);
        // What the caches follow is what was committed.
        assert_eq!(store.partner(partner(4).tenant_id).await.unwrap(), None);
        assert_eq!(
            store.partner(partner(2).tenant_id).await.unwrap(),
            Some(partner(2))
        );
    }

    /// The index of idempotency records follows the batches: one rolled back (a later job failed)
    /// leaves no trace in it, so the job run again records its key once; and a store opened again
    /// reads it back from the table, so a repeat is still a repeat.
    #[tokio::test]
    async fn the_idempotency_index_follows_rolled_back_batches_and_reopening() {
        use partner_center_domain::ActivateOutcome;

        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("records.db").display());
        let partner: TenantId = "b1e5d2a0-0000-4000-8000-000000000001".parse().unwrap();
        let now = Timestamp::now();
        let request = |id: &str| Idempotency {
            request_id: id.to_owned(),
            method: "POST".into(),
            path: "/v1/customers/c/subscriptions/s/activate".into(),
            expires_at: now.saturating_add(Duration::from_secs(3600)),
        };
        let idempotent = |store: &Arc<SqliteStore>, id: &str| {
            let (store, request) = (store.clone(), request(id));
            async move {
                store
                    .idempotent(partner, now, Some(&request), |_| {
                        Ok(Lookup::<ActivateOutcome>::CustomerNotFound)
                    })
                    .await
            }
        };
        // Index entries and rows.
        let counts = |store: &Arc<SqliteStore>| {
            let store = store.clone();
            async move {
                store
                    .engine
                    .write(|tx| {
                        let rows: i64 = tx.conn().query_row(
                            "select count(*) from idempotency_records",
                            [],
                            |row| row.get(0),
                        )?;
                        Ok((tx.records().len(), usize::try_from(rows).unwrap()))
                    })
                    .await
                    .unwrap()
            }
        };
        {
            let store = Arc::new(SqliteStore::open(&url).await.unwrap());
            let (release, gate) = std::sync::mpsc::channel::<()>();
            let held = hold_writer(&store, move || {
                let _ = gate.recv();
            })
            .await;
            let first = tokio::spawn(idempotent(&store, "first"));
            while store.engine.queued() < 1 {
                tokio::task::yield_now().await;
            }
            let failing = store.clone();
            let failed = tokio::spawn(async move {
                failing
                    .engine
                    .write(|_| Err::<(), _>(StoreError::Corrupt("this job fails".into())))
                    .await
            });
            while store.engine.queued() < 2 {
                tokio::task::yield_now().await;
            }
            release.send(()).unwrap();
            held.await.unwrap().unwrap();
            assert!(!first.await.unwrap().unwrap().replayed);
            assert!(failed.await.unwrap().is_err());
            assert_eq!(counts(&store).await, (1, 1));
            assert!(idempotent(&store, "first").await.unwrap().replayed);
            assert!(!idempotent(&store, "second").await.unwrap().replayed);
        }
        let store = Arc::new(SqliteStore::open(&url).await.unwrap());
        assert_eq!(counts(&store).await, (2, 2));
        for id in ["first", "second"] {
            assert!(idempotent(&store, id).await.unwrap().replayed, "{id}");
        }
        assert!(!idempotent(&store, "third").await.unwrap().replayed);
    }

    #[tokio::test]
    async fn a_second_process_is_refused_a_database_that_one_serves() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("owned.db").display());
        let first = SqliteStore::open(&url).await.unwrap();
        // Another open of the same file stands for another process: refused, saying why.
        let err = SqliteStore::open(&url).await.unwrap_err().to_string();
        assert!(err.contains("in use by another process"), "{err}");
        let err = SqliteStore::migrate(&url).await.unwrap_err().to_string();
        assert!(err.contains("in use by another process"), "{err}");
        // A tool that claims nothing may open it beside the first.
        let shared = StoreOptions {
            shared: true,
            ..StoreOptions::default()
        };
        SqliteStore::open_with(&url, shared).await.unwrap();
        // Once the first lets go, the database opens again.
        drop(first);
        SqliteStore::open(&url).await.unwrap();
        // An in-memory database belongs to its connection: nothing to claim.
        let _a = SqliteStore::open("sqlite::memory:").await.unwrap();
        let _b = SqliteStore::open("sqlite::memory:").await.unwrap();
    }

    #[test]
    fn urls_name_files_and_memory() {
        for memory in [
            "sqlite::memory:",
            "sqlite://:memory:",
            "sqlite:x.db?mode=memory",
        ] {
            assert!(
                matches!(Location::parse(memory).unwrap(), Location::Memory),
                "{memory}"
            );
        }
        match Location::parse("sqlite://data/pc.db?cache=private").unwrap() {
            Location::File { path, query } => {
                assert_eq!(path, std::path::Path::new("data/pc.db"));
                assert_eq!(query.as_deref(), Some("cache=private"));
            }
            Location::Memory => panic!("a file"),
        }
        assert!(Location::parse("postgres://x").is_err());
    }
}
