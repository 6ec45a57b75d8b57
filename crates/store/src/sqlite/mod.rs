//! The SQLite implementation of [`Store`], the embedded default.
//!
//! # Connections
//!
//! See the `engine` module: short reads run in place on a pool of read-only connections (WAL mode
//! lets them run alongside the writer); writes go to one writer thread, which commits the writes of
//! concurrent requests together, in one transaction and one fsync, and answers each request only
//! once its write is on disk (`synchronous = FULL`). Each request's write runs in a savepoint, so
//! one failing rolls back alone.
//!
//! An in-memory database (`sqlite::memory:`) lives only as long as its connection, so it gets one,
//! the writer's, used for everything.
//!
//! Authenticated requests find their partner, and status reads their subscription's registration
//! state, in memory (the `state` module); both are exact because this process is the database's only
//! writer and follows its own commits.
//!
//! One process serves a SQLite database: several instances share state through PostgreSQL.

mod engine;
mod migrations;
mod state;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use partner_center_model::fixture::FixtureSubscription;
use partner_center_model::{
    ClientId, CustomerId, Fixture, RegistrationStatus, SubscriptionKind, SubscriptionStatus,
    TenantId, Timestamp,
};
use rusqlite::{Connection, OptionalExtension as _, Row, params};

use self::engine::{Engine, Location};
use self::state::{Change, State, SubscriptionIndex, Subscriptions};
use crate::StoreOptions;
use crate::outcome::StoredOutcome;
use crate::secret;
use crate::{
    ActivateOutcome, Application, ClaimedRegistration, CompletedRegistration, Customer,
    Idempotency, Lookup, Partner, Recorded, RegisterOutcome, RegistrationRecord, SeedReport,
    Settled, Settlement, SigningKey, Store, StoreError, Subscription, SubscriptionDetail,
    SubscriptionKey, Upserted,
};

/// The SQLite [`Store`].
#[derive(Debug, Clone)]
pub struct SqliteStore {
    engine: Arc<Engine>,
    partners: Arc<PartnerCache>,
    index: Arc<SubscriptionIndex>,
    /// This process's claim on the database file (see `Location::claim`).
    _claim: Option<Arc<std::fs::File>>,
}

/// The partners, as every authenticated request looks its own up. Exact: this process is the
/// database's only writer, and every write that changes partners clears the cache once committed.
/// A lookup caches what it read only if no such write committed meanwhile (the generation did not
/// move), so that a read racing a write never caches the old value.
#[derive(Debug, Default)]
struct PartnerCache {
    map: std::sync::RwLock<std::collections::HashMap<TenantId, Partner>>,
    generation: std::sync::atomic::AtomicU64,
}

impl PartnerCache {
    fn get(&self, tenant: TenantId) -> Option<Partner> {
        self.map
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&tenant)
            .cloned()
    }

    fn generation(&self) -> u64 {
        self.generation.load(std::sync::atomic::Ordering::Acquire)
    }

    fn insert(&self, partner: Partner, read_at: u64) {
        let mut map = self
            .map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Checked under the lock that `invalidate` takes: no write committed since the read.
        if self.generation() == read_at {
            map.insert(partner.tenant_id, partner);
        }
    }

    fn invalidate(&self) {
        let mut map = self
            .map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.generation
            .fetch_add(1, std::sync::atomic::Ordering::AcqRel);
        map.clear();
    }
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
        let (engine, claim) = tokio::task::spawn_blocking(move || {
            let claim = if options.shared {
                None
            } else {
                location.claim()?
            };
            let writer = engine::open_writer(&location)?;
            migrations::apply(&writer, None)?;
            Engine::start(&location, writer, options.max_connections).map(|e| (e, claim))
        })
        .await
        .map_err(|e| StoreError::Unavailable(e.to_string()))??;
        Ok(Self {
            engine: Arc::new(engine),
            partners: Arc::default(),
            index: Arc::new(SubscriptionIndex::new(options.memory_index)),
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

/// A subscription as the write paths need it.
struct SubscriptionRow {
    id: i64,
    kind: SubscriptionKind,
    status: SubscriptionStatus,
    registration: RegistrationStatus,
}

/// Finds a subscription within the partner's customer, telling a missing customer from a missing
/// subscription in one query.
fn find_subscription(
    conn: &Connection,
    key: &SubscriptionKey,
) -> Result<Lookup<SubscriptionRow>, StoreError> {
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
    Ok(Lookup::Found(SubscriptionRow {
        id,
        kind: parse(row, 1)?,
        status: parse(row, 2)?,
        registration: parse(row, 3)?,
    }))
}

/// A customer's subscriptions, as the index holds them.
enum Loaded {
    CustomerNotFound,
    Whole(Subscriptions),
    /// Too many to hold.
    TooMany,
}

fn load_customer(conn: &Connection, key: &SubscriptionKey) -> Result<Loaded, StoreError> {
    let Some(customer_ref) = customer_ref(conn, key.partner, key.customer)? else {
        return Ok(Loaded::CustomerNotFound);
    };
    let mut statement = conn.prepare_cached(
        "select subscription_id, registration_state from subscriptions where customer_ref = ?1 limit ?2",
    )?;
    let limit = i64::try_from(state::MAX_CUSTOMER + 1).unwrap_or(i64::MAX);
    let mut rows = statement.query(params![customer_ref, limit])?;
    let mut subscriptions = Vec::new();
    while let Some(row) = rows.next()? {
        let status: RegistrationStatus = parse(row, 1)?;
        let state =
            State::of(&status).ok_or_else(|| corrupt(format!("registration state `{status}`")))?;
        subscriptions.push((parse(row, 0)?, state));
    }
    if subscriptions.len() > state::MAX_CUSTOMER {
        return Ok(Loaded::TooMany);
    }
    Ok(Loaded::Whole(subscriptions.into_iter().collect()))
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
        .query_row(params![tenant.to_string(), customer.to_string()], |row| {
            row.get(0)
        })
        .optional()?)
}

fn partner_exists(conn: &Connection, tenant: TenantId) -> Result<bool, StoreError> {
    Ok(conn
        .prepare_cached("select 1 from partners where tenant_id = ?1")?
        .exists([tenant.to_string()])?)
}

/// A subscription from `subscription_id, kind, status, offer_name, registration_state, activated_at`.
fn subscription_of(row: &Row<'_>) -> Result<Subscription, StoreError> {
    Ok(Subscription {
        id: parse(row, 0)?,
        kind: parse(row, 1)?,
        status: parse(row, 2)?,
        offer_name: row.get(3)?,
        registration: parse(row, 4)?,
        activated_at: timestamp(row, 5)?,
    })
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
            state: parse(row, 0)?,
            requested_at: Timestamp::from_millis(row.get(1)?),
            completed_at: timestamp(row, 2)?,
        });
    }
    Ok(records)
}

/// Completes (or fails) registration `registration` if it is still in progress, and removes its
/// job. `None` when it was settled before (a retried job).
fn settle_in(
    conn: &Connection,
    registration: i64,
    fails: bool,
    now: Timestamp,
) -> Result<Option<CompletedRegistration>, StoreError> {
    let (state, subscription_state) = if fails {
        ("Failed", "NotRegistered")
    } else {
        ("Registered", "Registered")
    };
    let settled: Option<(i64, i64)> = conn
        .prepare_cached(
            "update registrations set state = ?3, completed_at = ?2
             where id = ?1 and state = 'Registering'
             returning subscription_ref, requested_at",
        )?
        .query_row(params![registration, now.as_millis(), state], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })
        .optional()?;
    conn.prepare_cached("delete from registration_jobs where registration_ref = ?1")?
        .execute([registration])?;
    let Some((subscription_ref, requested_at)) = settled else {
        return Ok(None);
    };
    let mut statement = conn.prepare_cached(
        "update subscriptions set registration_state = ?3, updated_at = ?2
         where id = ?1
         returning (select partner_tenant_id from customers where id = customer_ref),
                   (select customer_id from customers where id = customer_ref),
                   subscription_id",
    )?;
    let mut rows = statement.query(params![
        subscription_ref,
        now.as_millis(),
        subscription_state
    ])?;
    let row = rows
        .next()?
        .ok_or_else(|| corrupt("a registration without its subscription"))?;
    Ok(Some(CompletedRegistration {
        key: SubscriptionKey {
            partner: parse(row, 0)?,
            customer: parse(row, 1)?,
            subscription: parse(row, 2)?,
        },
        requested_at: Timestamp::from_millis(requested_at),
        completed_at: now,
        failed: fails,
    }))
}

/// How a completed registration leaves its subscription.
fn settled_change(completed: &CompletedRegistration) -> Change {
    let state = if completed.failed {
        State::NotRegistered
    } else {
        State::Registered
    };
    Change::Set(completed.key, state)
}

/// Registers; see [`Store::register`].
fn register_in(
    conn: &Connection,
    key: &SubscriptionKey,
    now: Timestamp,
    fails: bool,
) -> Result<Lookup<RegisterOutcome>, StoreError> {
    let sub = match find_subscription(conn, key)?.found() {
        Ok(sub) => sub,
        Err(missing) => return Ok(missing),
    };
    let outcome = if !sub.kind.is_registrable() {
        RegisterOutcome::IneligibleKind(sub.kind)
    } else if sub.status != SubscriptionStatus::Active {
        RegisterOutcome::IneligibleStatus(sub.status)
    } else {
        match sub.registration {
            RegistrationStatus::Registering => RegisterOutcome::AlreadyRegistering,
            RegistrationStatus::Registered => RegisterOutcome::AlreadyRegistered,
            RegistrationStatus::Unknown(value) => {
                return Err(corrupt(format!("registration state `{value}`")));
            }
            RegistrationStatus::NotRegistered => {
                let now = now.as_millis();
                conn.prepare_cached(
                    "update subscriptions set registration_state = 'Registering', updated_at = ?2
                     where id = ?1",
                )?
                .execute(params![sub.id, now])?;
                let registration: i64 = conn
                    .prepare_cached(
                        "insert into registrations (subscription_ref, state, requested_at)
                         values (?1, 'Registering', ?2) returning id",
                    )?
                    .query_row(params![sub.id, now], |row| row.get(0))?;
                conn.prepare_cached(
                    "insert into registration_jobs (registration_ref, enqueued_at, fails) values (?1, ?2, ?3)",
                )?
                .execute(params![registration, now, fails])?;
                RegisterOutcome::Accepted
            }
        }
    };
    Ok(Lookup::Found(outcome))
}

/// Activates; see [`Store::activate`].
fn activate_in(
    conn: &Connection,
    key: &SubscriptionKey,
    now: Timestamp,
) -> Result<Lookup<ActivateOutcome>, StoreError> {
    let sandbox: Option<bool> = conn
        .prepare_cached("select sandbox from partners where tenant_id = ?1")?
        .query_row([key.partner.to_string()], |row| row.get(0))
        .optional()?;
    if sandbox != Some(true) {
        return Ok(Lookup::Found(ActivateOutcome::NotSandbox));
    }
    let sub = match find_subscription(conn, key)?.found() {
        Ok(sub) => sub,
        Err(missing) => return Ok(missing),
    };
    let outcome = match (sub.kind, sub.status) {
        (SubscriptionKind::Saas, SubscriptionStatus::Pending) => {
            conn.prepare_cached(
                "update subscriptions set status = 'active', activated_at = ?2, updated_at = ?2
                 where id = ?1",
            )?
            .execute(params![sub.id, now.as_millis()])?;
            ActivateOutcome::Activated
        }
        (SubscriptionKind::Saas, SubscriptionStatus::Active) => ActivateOutcome::AlreadyActive,
        (SubscriptionKind::Saas, status) => ActivateOutcome::NotActivatable(status),
        (kind, _) => ActivateOutcome::NotSaas(kind),
    };
    Ok(Lookup::Found(outcome))
}

/// The stored outcome of an earlier request with this idempotency key, if it has not expired.
fn stored_outcome<T: StoredOutcome>(
    conn: &Connection,
    partner: &str,
    idem: &Idempotency,
    now: Timestamp,
) -> Result<Option<T>, StoreError> {
    let stored: Option<(String, i64)> = conn
        .prepare_cached(
            "select outcome, expires_at from idempotency_records
             where partner_tenant_id = ?1 and request_id = ?2 and method = ?3 and path = ?4",
        )?
        .query_row(
            params![partner, idem.request_id, idem.method, idem.path],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()?;
    match stored {
        Some((text, expires_at)) if expires_at > now.as_millis() => T::decode(&text)
            .map(Some)
            .ok_or_else(|| corrupt(format!("idempotency outcome `{text}`"))),
        _ => Ok(None),
    }
}

/// Runs `execute` under the idempotency key if there is one: a repeat within the retention window
/// gets the stored outcome and `execute` does not run; otherwise the outcome is stored with the
/// effect. Runs on the writer, which serialises requests with one key: a concurrent repeat (even in
/// the same batch) runs after the first and finds its record.
fn idempotent_in<T: StoredOutcome>(
    conn: &Connection,
    key: &SubscriptionKey,
    now: Timestamp,
    idempotency: Option<&Idempotency>,
    execute: impl FnOnce(&Connection) -> Result<T, StoreError>,
) -> Result<Recorded<T>, StoreError> {
    let partner = key.partner.to_string();
    if let Some(idem) = idempotency
        && let Some(outcome) = stored_outcome(conn, &partner, idem, now)?
    {
        return Ok(Recorded {
            outcome,
            replayed: true,
        });
    }
    let outcome = execute(conn)?;
    if let Some(idem) = idempotency {
        // No record, or an expired one, which this one replaces (a live one was answered above).
        conn.prepare_cached(
            "insert or replace into idempotency_records
               (partner_tenant_id, request_id, method, path, outcome, created_at, expires_at)
             values (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            partner,
            idem.request_id,
            idem.method,
            idem.path,
            outcome.encode(),
            now.as_millis(),
            idem.expires_at.as_millis()
        ])?;
    }
    Ok(Recorded {
        outcome,
        replayed: false,
    })
}

impl SqliteStore {
    /// A POST, idempotent by its key. A repeat is answered from a reader when its record is there
    /// already (the common case of a client's retry), without queueing behind writes.
    async fn idempotent<T, F>(
        &self,
        key: &SubscriptionKey,
        now: Timestamp,
        idempotency: Option<&Idempotency>,
        execute: F,
        changes: fn(&T, &SubscriptionKey) -> Option<Change>,
    ) -> Result<Recorded<T>, StoreError>
    where
        T: StoredOutcome + Send + 'static,
        F: FnOnce(&Connection, &SubscriptionKey) -> Result<T, StoreError> + Send + 'static,
    {
        let key = *key;
        let idempotency = idempotency.cloned();
        if let Some(idem) = idempotency.clone() {
            let partner = key.partner.to_string();
            let stored = self
                .engine
                .read(move |conn| stored_outcome::<T>(conn, &partner, &idem, now))
                .await?;
            if let Some(outcome) = stored {
                return Ok(Recorded {
                    outcome,
                    replayed: true,
                });
            }
        }
        let index = self.index.clone();
        self.engine
            .write_then(
                move |conn| {
                    idempotent_in(conn, &key, now, idempotency.as_ref(), |conn| {
                        execute(conn, &key)
                    })
                },
                move |recorded: &Recorded<T>| {
                    if !recorded.replayed
                        && let Some(change) = changes(&recorded.outcome, &key)
                    {
                        index.apply(&[change]);
                    }
                },
            )
            .await
    }
}

/// Whether an upsert found its row.
fn upserted(existed: bool) -> Upserted {
    if existed {
        Upserted::Updated
    } else {
        Upserted::Created
    }
}

fn apply_fixture_in(conn: &Connection, fixture: &Fixture) -> Result<SeedReport, StoreError> {
    let now = Timestamp::now().as_millis();
    let mut report = SeedReport::default();
    let changed = |rows: usize| u64::try_from(rows).unwrap_or(u64::MAX);
    for partner in &fixture.partners {
        report.partners += 1;
        let tenant = partner.tenant_id.to_string();
        report.changed += changed(
            conn.prepare_cached(
                "insert into partners (tenant_id, name, sandbox, created_at, updated_at)
                 values (?1, ?2, ?3, ?4, ?4)
                 on conflict (tenant_id) do update
                 set name = excluded.name, sandbox = excluded.sandbox, updated_at = excluded.updated_at
                 where name is not excluded.name or sandbox is not excluded.sandbox",
            )?
            .execute(params![tenant, partner.name, partner.sandbox, now])?,
        );

        for application in &partner.applications {
            let client_id = application.client_id.to_string();
            let stored: Option<(String, String)> = conn
                .prepare_cached(
                    "select name, secret_hash from applications where partner_tenant_id = ?1 and client_id = ?2",
                )?
                .query_row(params![tenant, client_id], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()?;
            let unchanged = stored.is_some_and(|(name, hash)| {
                name == application.name && secret::verify(&hash, &application.client_secret)
            });
            if !unchanged {
                report.changed += changed(
                    conn.prepare_cached(
                        "insert into applications (partner_tenant_id, client_id, name, secret_hash, created_at, updated_at)
                         values (?1, ?2, ?3, ?4, ?5, ?5)
                         on conflict (partner_tenant_id, client_id) do update
                         set name = excluded.name, secret_hash = excluded.secret_hash, updated_at = excluded.updated_at",
                    )?
                    .execute(params![
                        tenant,
                        client_id,
                        application.name,
                        secret::hash(&application.client_secret),
                        now
                    ])?,
                );
            }
        }

        for customer in &partner.customers {
            report.customers += 1;
            let customer_id = customer.id.to_string();
            report.changed += changed(
                conn.prepare_cached(
                    "insert into customers (partner_tenant_id, customer_id, company_name, created_at, updated_at)
                     values (?1, ?2, ?3, ?4, ?4)
                     on conflict (partner_tenant_id, customer_id) do update
                     set company_name = excluded.company_name, updated_at = excluded.updated_at
                     where company_name is not excluded.company_name",
                )?
                .execute(params![tenant, customer_id, customer.company_name, now])?,
            );
            let customer_ref = customer_ref(conn, partner.tenant_id, customer.id)?
                .ok_or_else(|| corrupt("a customer vanished while it was seeded"))?;
            for subscription in &customer.subscriptions {
                report.subscriptions += 1;
                report.changed += changed(
                    conn.prepare_cached(
                        "insert into subscriptions
                           (customer_ref, subscription_id, kind, status, offer_name, created_at, updated_at)
                         values (?1, ?2, ?3, ?4, ?5, ?6, ?6)
                         on conflict (customer_ref, subscription_id) do update
                         set kind = excluded.kind, offer_name = excluded.offer_name,
                             updated_at = excluded.updated_at
                         where kind is not excluded.kind or offer_name is not excluded.offer_name",
                    )?
                    .execute(params![
                        customer_ref,
                        subscription.id.to_string(),
                        subscription.kind.as_str(),
                        subscription.status.as_str(),
                        subscription.offer_name,
                        now
                    ])?,
                );
            }
        }
    }
    Ok(report)
}

#[async_trait]
impl Store for SqliteStore {
    async fn ping(&self) -> Result<(), StoreError> {
        self.engine
            .read(|conn| Ok(conn.prepare_cached("select 1")?.exists([])?))
            .await
            .map(drop)
    }

    async fn apply_fixture(&self, fixture: &Fixture) -> Result<SeedReport, StoreError> {
        let fixture = fixture.clone();
        let index = self.index.clone();
        let applied = self
            .engine
            .write_then(
                move |conn| apply_fixture_in(conn, &fixture),
                move |_| index.apply(&[Change::All]),
            )
            .await;
        self.partners.invalidate();
        applied
    }

    async fn partner(&self, tenant: TenantId) -> Result<Option<Partner>, StoreError> {
        if let Some(partner) = self.partners.get(tenant) {
            return Ok(Some(partner));
        }
        let read_at = self.partners.generation();
        let partner = self
            .engine
            .read(move |conn| {
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
            })
            .await?;
        if let Some(partner) = &partner {
            self.partners.insert(partner.clone(), read_at);
        }
        Ok(partner)
    }

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
                    .query_row(params![tenant.to_string(), client_id.to_string()], |row| {
                        Ok(Application {
                            tenant,
                            client_id,
                            name: row.get(0)?,
                            secret_hash: row.get(1)?,
                        })
                    })
                    .optional()?)
            })
            .await
    }

    async fn signing_key(&self, candidate: SigningKey) -> Result<SigningKey, StoreError> {
        self.engine
            .write(move |conn| {
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
                Ok(candidate)
            })
            .await
    }

    async fn release_orphaned_claims(&self) -> Result<(), StoreError> {
        // One process serves a SQLite database: leases still held when it starts were taken by a
        // process that is gone.
        self.engine
            .write(|conn| {
                conn.prepare_cached(
                    "update registration_jobs set lease_until = null where lease_until is not null",
                )?
                .execute([])?;
                Ok(())
            })
            .await
    }

    async fn registration_status(
        &self,
        key: &SubscriptionKey,
    ) -> Result<Lookup<RegistrationStatus>, StoreError> {
        if let Some(found) = self.index.lookup(key) {
            return Ok(found);
        }
        let key = *key;
        let loaded_at = self.index.generation();
        let loaded = self
            .engine
            .read(move |conn| match load_customer(conn, &key)? {
                Loaded::TooMany => Ok((
                    find_subscription(conn, &key)?.map(|sub| sub.registration),
                    None,
                )),
                Loaded::CustomerNotFound => Ok((Lookup::CustomerNotFound, None)),
                Loaded::Whole(subscriptions) => {
                    let found = match subscriptions.get(&key.subscription) {
                        Some(state) => Lookup::Found(state.status()),
                        None => Lookup::SubscriptionNotFound,
                    };
                    Ok((found, Some(subscriptions)))
                }
            })
            .await?;
        let (found, subscriptions) = loaded;
        if let Some(subscriptions) = subscriptions {
            self.index
                .hold(key.partner, key.customer, subscriptions, loaded_at);
        }
        Ok(found)
    }

    async fn register(
        &self,
        key: &SubscriptionKey,
        now: Timestamp,
        idempotency: Option<&Idempotency>,
        fails: bool,
    ) -> Result<Recorded<Lookup<RegisterOutcome>>, StoreError> {
        self.idempotent(
            key,
            now,
            idempotency,
            move |conn, key| register_in(conn, key, now, fails),
            |outcome, key| {
                matches!(outcome, Lookup::Found(RegisterOutcome::Accepted))
                    .then_some(Change::Set(*key, State::Registering))
            },
        )
        .await
    }

    async fn activate(
        &self,
        key: &SubscriptionKey,
        now: Timestamp,
        idempotency: Option<&Idempotency>,
    ) -> Result<Recorded<Lookup<ActivateOutcome>>, StoreError> {
        // Activation changes no registration state.
        self.idempotent(
            key,
            now,
            idempotency,
            move |conn, key| activate_in(conn, key, now),
            |_, _| None,
        )
        .await
    }

    async fn purge_idempotency(&self, now: Timestamp, limit: u32) -> Result<u64, StoreError> {
        self.engine
            .write(move |conn| {
                let deleted = conn
                    .prepare_cached(
                        "delete from idempotency_records where (partner_tenant_id, request_id, method, path) in (
                             select partner_tenant_id, request_id, method, path from idempotency_records
                             where expires_at <= ?1 limit ?2)",
                    )?
                    .execute(params![now.as_millis(), limit])?;
                Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
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
                Ok(sub) => Ok(Lookup::Found(history(conn, sub.id)?)),
                Err(missing) => Ok(missing),
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
            .write(move |conn| {
                let mut statement = conn.prepare_cached(
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
                                registration: row.get(0)?,
                                attempts: row.get(1)?,
                                fails: row.get(2)?,
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
        let index = self.index.clone();
        self.engine
            .write_then(
                move |conn| {
                    let mut completed = Vec::with_capacity(claimed.len());
                    for claim in &claimed {
                        if let Some(done) = settle_in(conn, claim.registration, claim.fails, now)? {
                            completed.push(done);
                        }
                    }
                    Ok(completed)
                },
                move |completed: &Vec<CompletedRegistration>| {
                    let changes: Vec<Change> = completed.iter().map(settled_change).collect();
                    index.apply(&changes);
                },
            )
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
        let written = self
            .engine
            .write(move |conn| {
                let existed = partner_exists(conn, partner.tenant_id)?;
                conn.prepare_cached(
                    "insert into partners (tenant_id, name, sandbox, created_at, updated_at) values (?1, ?2, ?3, ?4, ?4)
                     on conflict (tenant_id) do update
                     set name = excluded.name, sandbox = excluded.sandbox, updated_at = excluded.updated_at",
                )?
                .execute(params![
                    partner.tenant_id.to_string(),
                    partner.name,
                    partner.sandbox,
                    now.as_millis()
                ])?;
                Ok(upserted(existed))
            })
            .await;
        self.partners.invalidate();
        written
    }

    async fn delete_partner(&self, tenant: TenantId) -> Result<bool, StoreError> {
        let index = self.index.clone();
        let deleted = self
            .engine
            .write_then(
                move |conn| {
                    Ok(conn
                        .prepare_cached("delete from partners where tenant_id = ?1")?
                        .execute([tenant.to_string()])?
                        > 0)
                },
                move |deleted| {
                    if *deleted {
                        index.apply(&[Change::All]);
                    }
                },
            )
            .await;
        self.partners.invalidate();
        deleted
    }

    async fn list_customers(&self, tenant: TenantId) -> Result<Option<Vec<Customer>>, StoreError> {
        self.engine
            .read_long(move |conn| {
                if !partner_exists(conn, tenant)? {
                    return Ok(None);
                }
                let mut statement = conn.prepare_cached(
                    "select customer_id, company_name from customers where partner_tenant_id = ?1 order by customer_id",
                )?;
                let mut rows = statement.query([tenant.to_string()])?;
                let mut customers = Vec::new();
                while let Some(row) = rows.next()? {
                    customers.push(Customer {
                        id: parse(row, 0)?,
                        company_name: row.get(1)?,
                    });
                }
                Ok(Some(customers))
            })
            .await
    }

    async fn put_customer(
        &self,
        tenant: TenantId,
        customer: &Customer,
        now: Timestamp,
    ) -> Result<Option<Upserted>, StoreError> {
        let customer = customer.clone();
        self.engine
            .write(move |conn| {
                if !partner_exists(conn, tenant)? {
                    return Ok(None);
                }
                let existed = customer_ref(conn, tenant, customer.id)?.is_some();
                conn.prepare_cached(
                    "insert into customers (partner_tenant_id, customer_id, company_name, created_at, updated_at)
                     values (?1, ?2, ?3, ?4, ?4)
                     on conflict (partner_tenant_id, customer_id) do update
                     set company_name = excluded.company_name, updated_at = excluded.updated_at",
                )?
                .execute(params![
                    tenant.to_string(),
                    customer.id.to_string(),
                    customer.company_name,
                    now.as_millis()
                ])?;
                Ok(Some(upserted(existed)))
            })
            .await
    }

    async fn delete_customer(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<bool, StoreError> {
        let index = self.index.clone();
        self.engine
            .write_then(
                move |conn| {
                    Ok(conn
                        .prepare_cached(
                            "delete from customers where partner_tenant_id = ?1 and customer_id = ?2",
                        )?
                        .execute(params![tenant.to_string(), customer.to_string()])?
                        > 0)
                },
                move |deleted| {
                    if *deleted {
                        index.apply(&[Change::RemoveCustomer(tenant, customer)]);
                    }
                },
            )
            .await
    }

    async fn list_subscriptions(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<Lookup<Vec<Subscription>>, StoreError> {
        self.engine
            .read_long(move |conn| {
                let Some(customer_ref) = customer_ref(conn, tenant, customer)? else {
                    return Ok(Lookup::CustomerNotFound);
                };
                let mut statement = conn.prepare_cached(
                    "select subscription_id, kind, status, offer_name, registration_state, activated_at
                     from subscriptions where customer_ref = ?1 order by subscription_id",
                )?;
                let mut rows = statement.query([customer_ref])?;
                let mut subscriptions = Vec::new();
                while let Some(row) = rows.next()? {
                    subscriptions.push(subscription_of(row)?);
                }
                Ok(Lookup::Found(subscriptions))
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
        let subscription = subscription.clone();
        let key = SubscriptionKey {
            partner: tenant,
            customer,
            subscription: subscription.id,
        };
        let index = self.index.clone();
        self.engine
            .write_then(move |conn| {
                let Some(customer_ref) = customer_ref(conn, tenant, customer)? else {
                    return Ok(Lookup::CustomerNotFound);
                };
                let existed = conn
                    .prepare_cached(
                        "select 1 from subscriptions where customer_ref = ?1 and subscription_id = ?2",
                    )?
                    .exists(params![customer_ref, subscription.id.to_string()])?;
                conn.prepare_cached(
                    "insert into subscriptions (customer_ref, subscription_id, kind, status, offer_name, created_at, updated_at)
                     values (?1, ?2, ?3, ?4, ?5, ?6, ?6)
                     on conflict (customer_ref, subscription_id) do update
                     set kind = excluded.kind, status = excluded.status, offer_name = excluded.offer_name,
                         updated_at = excluded.updated_at",
                )?
                .execute(params![
                    customer_ref,
                    subscription.id.to_string(),
                    subscription.kind.as_str(),
                    subscription.status.as_str(),
                    subscription.offer_name,
                    now.as_millis()
                ])?;
                Ok(Lookup::Found(upserted(existed)))
            },
            // A new subscription is not registered; an updated one keeps its registration.
            move |upserted| {
                if *upserted == Lookup::Found(Upserted::Created) {
                    index.apply(&[Change::Set(key, State::NotRegistered)]);
                }
            })
            .await
    }

    async fn delete_subscription(&self, key: &SubscriptionKey) -> Result<bool, StoreError> {
        let key = *key;
        let index = self.index.clone();
        self.engine
            .write_then(
                move |conn| {
                    let Some(customer_ref) = customer_ref(conn, key.partner, key.customer)? else {
                        return Ok(false);
                    };
                    Ok(conn
                        .prepare_cached(
                            "delete from subscriptions where customer_ref = ?1 and subscription_id = ?2",
                        )?
                        .execute(params![customer_ref, key.subscription.to_string()])?
                        > 0)
                },
                move |deleted| {
                    if *deleted {
                        index.apply(&[Change::Remove(key)]);
                    }
                },
            )
            .await
    }

    async fn subscription(
        &self,
        key: &SubscriptionKey,
    ) -> Result<Lookup<SubscriptionDetail>, StoreError> {
        let key = *key;
        self.engine
            .read_long(move |conn| {
                let Some(customer_ref) = customer_ref(conn, key.partner, key.customer)? else {
                    return Ok(Lookup::CustomerNotFound);
                };
                let found = conn
                    .prepare_cached(
                        "select subscription_id, kind, status, offer_name, registration_state, activated_at, id
                         from subscriptions where customer_ref = ?1 and subscription_id = ?2",
                    )?
                    .query_row(params![customer_ref, key.subscription.to_string()], |row| {
                        Ok((subscription_of(row), row.get::<_, i64>(6)?))
                    })
                    .optional()?;
                let Some((subscription, id)) = found else {
                    return Ok(Lookup::SubscriptionNotFound);
                };
                Ok(Lookup::Found(SubscriptionDetail {
                    subscription: subscription?,
                    registrations: history(conn, id)?,
                }))
            })
            .await
    }

    async fn settle_registration(
        &self,
        key: &SubscriptionKey,
        settlement: Settlement,
        now: Timestamp,
    ) -> Result<Lookup<Settled>, StoreError> {
        let key = *key;
        let index = self.index.clone();
        self.engine
            .write_then(move |conn| {
                let sub = match find_subscription(conn, &key)?.found() {
                    Ok(sub) => sub,
                    Err(missing) => return Ok(missing),
                };
                let registration: Option<i64> = conn
                    .prepare_cached(
                        "select id from registrations where subscription_ref = ?1 and state = 'Registering'",
                    )?
                    .query_row([sub.id], |row| row.get(0))
                    .optional()?;
                let Some(registration) = registration else {
                    return Ok(Lookup::Found(Settled::NotRegistering(sub.registration)));
                };
                settle_in(conn, registration, settlement == Settlement::Fail, now)?;
                Ok(Lookup::Found(Settled::Done))
            },
            move |settled| {
                if *settled == Lookup::Found(Settled::Done) {
                    let state = match settlement {
                        Settlement::Complete => State::Registered,
                        Settlement::Fail => State::NotRegistered,
                    };
                    index.apply(&[Change::Set(key, state)]);
                }
            })
            .await
    }

    async fn reset(&self) -> Result<(), StoreError> {
        let index = self.index.clone();
        let reset = self
            .engine
            .write_then(
                |conn| {
                    conn.prepare_cached("delete from partners")?.execute([])?;
                    conn.prepare_cached("delete from idempotency_records")?
                        .execute([])?;
                    Ok(())
                },
                move |()| index.apply(&[Change::All]),
            )
            .await;
        self.partners.invalidate();
        reset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The registration-failures migration rebuilds `registrations`: rows, their ids (referenced by
    /// queued jobs) and the foreign keys must survive it.
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
            [true, true, true, false]
        );
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
                    subscriptions: subscriptions.to_vec(),
                }],
            }],
        }
    }

    /// Readers keep their transactions from one read to the next; an idle one must still let go
    /// of it once a write makes it stale, or checkpoints could never reset the WAL, which would
    /// grow with every write.
    #[tokio::test]
    async fn idle_readers_do_not_hold_the_wal_back() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("wal.db");
        let store = SqliteStore::open(&format!("sqlite://{}", file.display()))
            .await
            .unwrap();
        let partner: TenantId = "b1e5d2a0-0000-4000-8000-000000000001".parse().unwrap();
        let customer: CustomerId = "c2f6e3b1-0000-4000-8000-000000000002".parse().unwrap();
        let subscriptions = azure_plans(1500);
        store
            .apply_fixture(&one_customer(partner, customer, &subscriptions))
            .await
            .unwrap();
        let key = |n: usize| SubscriptionKey {
            partner,
            customer,
            subscription: subscriptions[n].id,
        };
        // A read opens a transaction on the first reader, which then sits idle.
        let before = store.registration_status(&key(0)).await.unwrap();
        assert_eq!(before, Lookup::Found(RegistrationStatus::NotRegistered));
        for n in 0..subscriptions.len() {
            store
                .register(&key(n), Timestamp::now(), None, false)
                .await
                .unwrap();
        }
        let wal = std::fs::metadata(dir.path().join("wal.db-wal"))
            .unwrap()
            .len();
        assert!(wal < 8 << 20, "the WAL grew to {wal} bytes");
        // And the reader sees every write.
        let after = store.registration_status(&key(0)).await.unwrap();
        assert_eq!(after, Lookup::Found(RegistrationStatus::Registering));
    }

    /// Under steady load readers always hold some snapshot, so SQLite's own checkpoints never
    /// reach the end of the WAL; the writer's full checkpoints keep it bounded all the same.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_stays_bounded_under_steady_reads_and_writes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("steady.db");
        let store = std::sync::Arc::new(
            SqliteStore::open(&format!("sqlite://{}", file.display()))
                .await
                .unwrap(),
        );
        let partner: TenantId = "b1e5d2a0-0000-4000-8000-000000000001".parse().unwrap();
        let customer: CustomerId = "c2f6e3b1-0000-4000-8000-000000000002".parse().unwrap();
        let subscriptions = azure_plans(4000);
        let ids: Vec<_> = subscriptions.iter().map(|s| s.id).collect();
        store
            .apply_fixture(&one_customer(partner, customer, &subscriptions))
            .await
            .unwrap();
        let wal = dir.path().join("steady.db-wal");
        let largest = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        // Eight clients register with idempotency keys: each first looks its key up on a reader,
        // which keeps that snapshot, while the writer commits.
        let clients: Vec<_> = (0..8)
            .map(|client| {
                let (store, ids, wal, largest) =
                    (store.clone(), ids.clone(), wal.clone(), largest.clone());
                tokio::spawn(async move {
                    for n in (client..ids.len()).step_by(8) {
                        let key = SubscriptionKey {
                            partner,
                            customer,
                            subscription: ids[n],
                        };
                        let idempotency = Idempotency {
                            request_id: format!("request-{n}"),
                            method: "POST".into(),
                            path: format!(
                                "/v1/customers/{customer}/subscriptions/{}/registrations",
                                ids[n]
                            ),
                            expires_at: Timestamp::from_millis(i64::MAX),
                        };
                        let recorded = store
                            .register(&key, Timestamp::now(), Some(&idempotency), false)
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
        let key = SubscriptionKey {
            partner,
            customer,
            subscription: ids[0],
        };
        let history = store.registration_history(&key).await.unwrap();
        assert!(matches!(history, Lookup::Found(h) if h.len() == 1));
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
