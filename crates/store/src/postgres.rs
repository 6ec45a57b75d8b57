//! The PostgreSQL implementation of [`Store`], for several instances sharing one database.
//!
//! # Concurrency
//!
//! Every write runs in one transaction (read committed). A registration or activation locks the
//! subscription's row (`FOR UPDATE`), so concurrent requests on one subscription serialise. An
//! idempotency key is claimed first, by inserting its record: a concurrent request with the same key
//! waits on the unique index until the first commits, then finds its outcome (or, if the first
//! rolled back, proceeds itself); so duplicates sent to different instances execute once. The worker
//! claims due jobs with `FOR UPDATE SKIP LOCKED` and a lease, so instances share the queue without
//! blocking each other, and a crashed instance's claims are taken again once their lease has passed.
//!
//! # Timeouts
//!
//! Every connection runs with a `statement_timeout` and a `lock_timeout`, and the pool has an acquire
//! timeout, so that a slow or unreachable database makes requests fail rather than hang.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use partner_center_model::fixture::FixtureSubscription;
use partner_center_model::{
    ClientId, CustomerId, Fixture, RegistrationStatus, SubscriptionKind, SubscriptionStatus,
    TenantId, Timestamp,
};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions, PgRow};
use sqlx::{Connection, Row};

use crate::outcome::StoredOutcome;
use crate::{
    ActivateOutcome, Application, ClaimedRegistration, CompletedRegistration, Customer,
    Idempotency, Lookup, Partner, Recorded, RegisterOutcome, RegistrationRecord, SeedReport,
    Settled, Settlement, SigningKey, Store, StoreError, StoreOptions, Subscription,
    SubscriptionDetail, SubscriptionKey, Upserted, secret,
};

static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

/// The PostgreSQL [`Store`].
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
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
        Ok(Self { pool })
    }

    /// Connects without migrating, for `partner-center migrate` to report and apply migrations itself.
    async fn connect(url: &str, options: StoreOptions) -> Result<PgPool, StoreError> {
        let millis = |d: Duration| format!("{}ms", d.as_millis());
        let connect = PgConnectOptions::from_str(url)?
            .application_name("partner-center")
            .options([
                ("statement_timeout", millis(options.statement_timeout)),
                ("lock_timeout", millis(options.statement_timeout)),
                (
                    "idle_in_transaction_session_timeout",
                    millis(options.statement_timeout * 6),
                ),
            ]);
        Ok(PgPoolOptions::new()
            .max_connections(options.max_connections)
            .acquire_timeout(options.acquire_timeout)
            .connect_with(connect)
            .await?)
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

struct SubscriptionRow {
    id: i64,
    kind: SubscriptionKind,
    status: SubscriptionStatus,
    registration: RegistrationStatus,
}

fn subscription_row(row: &PgRow) -> Result<SubscriptionRow, StoreError> {
    Ok(SubscriptionRow {
        id: row.try_get(0)?,
        kind: parse_column(row, 1)?,
        status: parse_column(row, 2)?,
        registration: parse_column(row, 3)?,
    })
}

/// Finds a subscription within the partner's customer, in one query (reads).
async fn find_subscription(
    conn: &mut PgConnection,
    key: &SubscriptionKey,
) -> Result<Lookup<SubscriptionRow>, StoreError> {
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
    Ok(Lookup::Found(subscription_row(&row)?))
}

/// Finds a subscription and locks its row until the transaction ends (writes).
async fn lock_subscription(
    tx: &mut PgConnection,
    key: &SubscriptionKey,
) -> Result<Lookup<SubscriptionRow>, StoreError> {
    let customer: Option<i64> = sqlx::query_scalar(
        "select id from customers where partner_tenant_id = $1 and customer_id = $2",
    )
    .bind(key.partner.to_string())
    .bind(key.customer.to_string())
    .fetch_optional(&mut *tx)
    .await?;
    let Some(customer) = customer else {
        return Ok(Lookup::CustomerNotFound);
    };
    let row = sqlx::query(
        "select id, kind, status, registration_state from subscriptions
         where customer_ref = $1 and subscription_id = $2 for update",
    )
    .bind(customer)
    .bind(key.subscription.to_string())
    .fetch_optional(&mut *tx)
    .await?;
    match row {
        Some(row) => Ok(Lookup::Found(subscription_row(&row)?)),
        None => Ok(Lookup::SubscriptionNotFound),
    }
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

/// A subscription from `subscription_id, kind, status, offer_name, registration_state, activated_at`.
fn subscription_of(row: &PgRow) -> Result<Subscription, StoreError> {
    Ok(Subscription {
        id: parse_column(row, 0)?,
        kind: parse_column(row, 1)?,
        status: parse_column(row, 2)?,
        offer_name: row.try_get(3)?,
        registration: parse_column(row, 4)?,
        activated_at: row
            .try_get::<Option<i64>, _>(5)?
            .map(Timestamp::from_millis),
    })
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
                state: parse_column(row, 0)?,
                requested_at: Timestamp::from_millis(row.try_get(1)?),
                completed_at: row
                    .try_get::<Option<i64>, _>(2)?
                    .map(Timestamp::from_millis),
            })
        })
        .collect()
}

/// Completes (or fails) registration `registration` if it is still in progress, and removes its
/// job, within a transaction. `None` when it was settled before (a retried job).
async fn settle_in(
    tx: &mut PgConnection,
    registration: i64,
    fails: bool,
    now: Timestamp,
) -> Result<Option<CompletedRegistration>, StoreError> {
    let (state, subscription_state) = if fails {
        ("Failed", "NotRegistered")
    } else {
        ("Registered", "Registered")
    };
    let row = sqlx::query(
        "update registrations set state = $3, completed_at = $2
         where id = $1 and state = 'Registering'
         returning subscription_ref, requested_at",
    )
    .bind(registration)
    .bind(now.as_millis())
    .bind(state)
    .fetch_optional(&mut *tx)
    .await?;
    sqlx::query("delete from registration_jobs where registration_ref = $1")
        .bind(registration)
        .execute(&mut *tx)
        .await?;
    let Some(row) = row else { return Ok(None) };
    let subscription_ref: i64 = row.try_get(0)?;
    let requested_at = Timestamp::from_millis(row.try_get(1)?);
    let ids = sqlx::query(
        "update subscriptions s set registration_state = $3, updated_at = $2
         from customers c
         where s.id = $1 and c.id = s.customer_ref
         returning c.partner_tenant_id, c.customer_id, s.subscription_id",
    )
    .bind(subscription_ref)
    .bind(now.as_millis())
    .bind(subscription_state)
    .fetch_one(&mut *tx)
    .await?;
    Ok(Some(CompletedRegistration {
        key: SubscriptionKey {
            partner: parse_column(&ids, 0)?,
            customer: parse_column(&ids, 1)?,
            subscription: parse_column(&ids, 2)?,
        },
        requested_at,
        completed_at: now,
        failed: fails,
    }))
}

async fn register_in(
    tx: &mut PgConnection,
    key: &SubscriptionKey,
    now: Timestamp,
    fails: bool,
) -> Result<Lookup<RegisterOutcome>, StoreError> {
    let sub = match lock_subscription(tx, key).await?.found() {
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
                sqlx::query("update subscriptions set registration_state = 'Registering', updated_at = $2 where id = $1")
                    .bind(sub.id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                let registration: i64 = sqlx::query_scalar(
                    "insert into registrations (subscription_ref, state, requested_at)
                     values ($1, 'Registering', $2) returning id",
                )
                .bind(sub.id)
                .bind(now)
                .fetch_one(&mut *tx)
                .await?;
                sqlx::query(
                    "insert into registration_jobs (registration_ref, enqueued_at, fails) values ($1, $2, $3)",
                )
                .bind(registration)
                .bind(now)
                .bind(fails)
                .execute(&mut *tx)
                .await?;
                RegisterOutcome::Accepted
            }
        }
    };
    Ok(Lookup::Found(outcome))
}

async fn activate_in(
    tx: &mut PgConnection,
    key: &SubscriptionKey,
    now: Timestamp,
) -> Result<Lookup<ActivateOutcome>, StoreError> {
    let sandbox: Option<bool> =
        sqlx::query_scalar("select sandbox from partners where tenant_id = $1")
            .bind(key.partner.to_string())
            .fetch_optional(&mut *tx)
            .await?;
    if sandbox != Some(true) {
        return Ok(Lookup::Found(ActivateOutcome::NotSandbox));
    }
    let sub = match lock_subscription(tx, key).await?.found() {
        Ok(sub) => sub,
        Err(missing) => return Ok(missing),
    };
    let outcome = match (sub.kind, sub.status) {
        (SubscriptionKind::Saas, SubscriptionStatus::Pending) => {
            sqlx::query("update subscriptions set status = 'active', activated_at = $2, updated_at = $2 where id = $1")
                .bind(sub.id)
                .bind(now.as_millis())
                .execute(&mut *tx)
                .await?;
            ActivateOutcome::Activated
        }
        (SubscriptionKind::Saas, SubscriptionStatus::Active) => ActivateOutcome::AlreadyActive,
        (SubscriptionKind::Saas, status) => ActivateOutcome::NotActivatable(status),
        (kind, _) => ActivateOutcome::NotSaas(kind),
    };
    Ok(Lookup::Found(outcome))
}

impl PostgresStore {
    /// Runs `execute` in a transaction under the idempotency key if there is one; see the module
    /// documentation for how concurrent duplicates meet.
    async fn idempotent<T: StoredOutcome>(
        &self,
        key: &SubscriptionKey,
        now: Timestamp,
        idempotency: Option<&Idempotency>,
        execute: impl AsyncFnOnce(&mut PgConnection) -> Result<T, StoreError>,
    ) -> Result<Recorded<T>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let partner = key.partner.to_string();
        if let Some(idem) = idempotency {
            // Claim the key: a fresh insert, or the takeover of an expired record. A concurrent
            // claim of the same key waits here until the first transaction ends.
            let claimed: Option<i32> = sqlx::query_scalar(
                "insert into idempotency_records
                   (partner_tenant_id, request_id, method, path, outcome, created_at, expires_at)
                 values ($1, $2, $3, $4, '', $5, $6)
                 on conflict (partner_tenant_id, request_id, method, path) do update
                   set outcome = '', created_at = excluded.created_at, expires_at = excluded.expires_at
                   where idempotency_records.expires_at <= $5
                 returning 1",
            )
            .bind(&partner)
            .bind(&idem.request_id)
            .bind(&idem.method)
            .bind(&idem.path)
            .bind(now.as_millis())
            .bind(idem.expires_at.as_millis())
            .fetch_optional(&mut *tx)
            .await?;
            if claimed.is_none() {
                let text: String = sqlx::query_scalar(
                    "select outcome from idempotency_records
                     where partner_tenant_id = $1 and request_id = $2 and method = $3 and path = $4",
                )
                .bind(&partner)
                .bind(&idem.request_id)
                .bind(&idem.method)
                .bind(&idem.path)
                .fetch_one(&mut *tx)
                .await?;
                let outcome = T::decode(&text)
                    .ok_or_else(|| corrupt(format!("idempotency outcome `{text}`")))?;
                return Ok(Recorded {
                    outcome,
                    replayed: true,
                });
            }
        }
        let outcome = execute(&mut tx).await?;
        if let Some(idem) = idempotency {
            sqlx::query(
                "update idempotency_records set outcome = $5
                 where partner_tenant_id = $1 and request_id = $2 and method = $3 and path = $4",
            )
            .bind(&partner)
            .bind(&idem.request_id)
            .bind(&idem.method)
            .bind(&idem.path)
            .bind(outcome.encode())
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(Recorded {
            outcome,
            replayed: false,
        })
    }
}

#[async_trait]
impl Store for PostgresStore {
    async fn ping(&self) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        conn.ping().await?;
        Ok(())
    }

    async fn apply_fixture(&self, fixture: &Fixture) -> Result<SeedReport, StoreError> {
        let now = Timestamp::now().as_millis();
        let mut report = SeedReport::default();
        let mut tx = self.pool.begin().await?;
        for partner in &fixture.partners {
            report.partners += 1;
            let tenant = partner.tenant_id.to_string();
            report.changed += sqlx::query(
                "insert into partners (tenant_id, name, sandbox, created_at, updated_at)
                 values ($1, $2, $3, $4, $4)
                 on conflict (tenant_id) do update
                 set name = excluded.name, sandbox = excluded.sandbox, updated_at = excluded.updated_at
                 where partners.name is distinct from excluded.name or partners.sandbox is distinct from excluded.sandbox",
            )
            .bind(&tenant)
            .bind(&partner.name)
            .bind(partner.sandbox)
            .bind(now)
            .execute(&mut *tx)
            .await?
            .rows_affected();

            for application in &partner.applications {
                let client_id = application.client_id.to_string();
                let stored: Option<(String, String)> = sqlx::query_as(
                    "select name, secret_hash from applications where partner_tenant_id = $1 and client_id = $2",
                )
                .bind(&tenant)
                .bind(&client_id)
                .fetch_optional(&mut *tx)
                .await?;
                let unchanged = stored.is_some_and(|(name, hash)| {
                    name == application.name && secret::verify(&hash, &application.client_secret)
                });
                if !unchanged {
                    report.changed += sqlx::query(
                        "insert into applications (partner_tenant_id, client_id, name, secret_hash, created_at, updated_at)
                         values ($1, $2, $3, $4, $5, $5)
                         on conflict (partner_tenant_id, client_id) do update
                         set name = excluded.name, secret_hash = excluded.secret_hash, updated_at = excluded.updated_at",
                    )
                    .bind(&tenant)
                    .bind(&client_id)
                    .bind(&application.name)
                    .bind(secret::hash(&application.client_secret))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
            }

            for customer in &partner.customers {
                report.customers += 1;
                let customer_id = customer.id.to_string();
                report.changed += sqlx::query(
                    "insert into customers (partner_tenant_id, customer_id, company_name, created_at, updated_at)
                     values ($1, $2, $3, $4, $4)
                     on conflict (partner_tenant_id, customer_id) do update
                     set company_name = excluded.company_name, updated_at = excluded.updated_at
                     where customers.company_name is distinct from excluded.company_name",
                )
                .bind(&tenant)
                .bind(&customer_id)
                .bind(&customer.company_name)
                .bind(now)
                .execute(&mut *tx)
                .await?
                .rows_affected();
                let customer_ref: i64 = sqlx::query_scalar(
                    "select id from customers where partner_tenant_id = $1 and customer_id = $2",
                )
                .bind(&tenant)
                .bind(&customer_id)
                .fetch_one(&mut *tx)
                .await?;

                for subscription in &customer.subscriptions {
                    report.subscriptions += 1;
                    report.changed += sqlx::query(
                        "insert into subscriptions
                           (customer_ref, subscription_id, kind, status, offer_name, created_at, updated_at)
                         values ($1, $2, $3, $4, $5, $6, $6)
                         on conflict (customer_ref, subscription_id) do update
                         set kind = excluded.kind, offer_name = excluded.offer_name, updated_at = excluded.updated_at
                         where subscriptions.kind is distinct from excluded.kind
                            or subscriptions.offer_name is distinct from excluded.offer_name",
                    )
                    .bind(customer_ref)
                    .bind(subscription.id.to_string())
                    .bind(subscription.kind.as_str())
                    .bind(subscription.status.as_str())
                    .bind(&subscription.offer_name)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                }
            }
        }
        tx.commit().await?;
        Ok(report)
    }

    async fn partner(&self, tenant: TenantId) -> Result<Option<Partner>, StoreError> {
        let row: Option<(String, bool)> =
            sqlx::query_as("select name, sandbox from partners where tenant_id = $1")
                .bind(tenant.to_string())
                .fetch_optional(&self.pool)
                .await?;
        Ok(row.map(|(name, sandbox)| Partner {
            tenant_id: tenant,
            name,
            sandbox,
        }))
    }

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

    async fn release_orphaned_claims(&self) -> Result<(), StoreError> {
        // Several instances share the queue: another one's lease may be live. Dead instances'
        // leases simply run out.
        Ok(())
    }

    async fn registration_status(
        &self,
        key: &SubscriptionKey,
    ) -> Result<Lookup<RegistrationStatus>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Ok(find_subscription(&mut conn, key)
            .await?
            .map(|sub| sub.registration))
    }

    async fn register(
        &self,
        key: &SubscriptionKey,
        now: Timestamp,
        idempotency: Option<&Idempotency>,
        fails: bool,
    ) -> Result<Recorded<Lookup<RegisterOutcome>>, StoreError> {
        self.idempotent(key, now, idempotency, async |tx| {
            register_in(tx, key, now, fails).await
        })
        .await
    }

    async fn activate(
        &self,
        key: &SubscriptionKey,
        now: Timestamp,
        idempotency: Option<&Idempotency>,
    ) -> Result<Recorded<Lookup<ActivateOutcome>>, StoreError> {
        self.idempotent(key, now, idempotency, async |tx| {
            activate_in(tx, key, now).await
        })
        .await
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

    async fn registration_history(
        &self,
        key: &SubscriptionKey,
    ) -> Result<Lookup<Vec<RegistrationRecord>>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let sub = match find_subscription(&mut conn, key).await?.found() {
            Ok(sub) => sub,
            Err(missing) => return Ok(missing),
        };
        Ok(Lookup::Found(history(&mut conn, sub.id).await?))
    }

    async fn claim_registrations(
        &self,
        accepted_by: Timestamp,
        now: Timestamp,
        lease: Duration,
        limit: u32,
    ) -> Result<Vec<ClaimedRegistration>, StoreError> {
        let rows = sqlx::query(
            "update registration_jobs set lease_until = $3, attempts = attempts + 1
             where registration_ref in (
                 select registration_ref from registration_jobs
                 where enqueued_at <= $1 and (lease_until is null or lease_until <= $2)
                 order by enqueued_at, registration_ref
                 limit $4
                 for update skip locked)
             returning registration_ref, attempts, fails",
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
                    registration: row.try_get(0)?,
                    attempts: i64::from(row.try_get::<i32, _>(1)?),
                    fails: row.try_get(2)?,
                })
            })
            .collect()
    }

    async fn complete_registrations(
        &self,
        claimed: &[ClaimedRegistration],
        now: Timestamp,
    ) -> Result<Vec<CompletedRegistration>, StoreError> {
        let mut completed = Vec::with_capacity(claimed.len());
        let mut tx = self.pool.begin().await?;
        for claim in claimed {
            if let Some(done) = settle_in(&mut tx, claim.registration, claim.fails, now).await? {
                completed.push(done);
            }
        }
        tx.commit().await?;
        Ok(completed)
    }

    async fn next_registration_due(
        &self,
        delay: Duration,
    ) -> Result<Option<Timestamp>, StoreError> {
        let delay = i64::try_from(delay.as_millis()).unwrap_or(i64::MAX / 2);
        let due: Option<i64> = sqlx::query_scalar(
            "select min(greatest(enqueued_at + $1, coalesce(lease_until, 0))) from registration_jobs",
        )
        .bind(delay)
        .fetch_one(&self.pool)
        .await?;
        Ok(due.map(Timestamp::from_millis))
    }

    async fn queue_depth(&self) -> Result<u64, StoreError> {
        let depth: i64 = sqlx::query_scalar("select count(*) from registration_jobs")
            .fetch_one(&self.pool)
            .await?;
        Ok(u64::try_from(depth).unwrap_or_default())
    }

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
        // `xmax = 0` tells an inserted row from an updated one.
        let inserted: bool = sqlx::query_scalar(
            "insert into partners (tenant_id, name, sandbox, created_at, updated_at) values ($1, $2, $3, $4, $4)
             on conflict (tenant_id) do update
             set name = excluded.name, sandbox = excluded.sandbox, updated_at = excluded.updated_at
             returning (xmax = 0)",
        )
        .bind(partner.tenant_id.to_string())
        .bind(&partner.name)
        .bind(partner.sandbox)
        .bind(now.as_millis())
        .fetch_one(&self.pool)
        .await?;
        Ok(if inserted {
            Upserted::Created
        } else {
            Upserted::Updated
        })
    }

    async fn delete_partner(&self, tenant: TenantId) -> Result<bool, StoreError> {
        let deleted = sqlx::query("delete from partners where tenant_id = $1")
            .bind(tenant.to_string())
            .execute(&self.pool)
            .await?
            .rows_affected();
        Ok(deleted > 0)
    }

    async fn list_customers(&self, tenant: TenantId) -> Result<Option<Vec<Customer>>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let exists: Option<i32> = sqlx::query_scalar("select 1 from partners where tenant_id = $1")
            .bind(tenant.to_string())
            .fetch_optional(&mut *conn)
            .await?;
        if exists.is_none() {
            return Ok(None);
        }
        let rows: Vec<(String, String)> = sqlx::query_as(
            "select customer_id, company_name from customers where partner_tenant_id = $1 order by customer_id",
        )
        .bind(tenant.to_string())
        .fetch_all(&mut *conn)
        .await?;
        rows.into_iter()
            .map(|(id, company_name)| {
                Ok(Customer {
                    id: id.parse().map_err(corrupt)?,
                    company_name,
                })
            })
            .collect::<Result<_, StoreError>>()
            .map(Some)
    }

    async fn put_customer(
        &self,
        tenant: TenantId,
        customer: &Customer,
        now: Timestamp,
    ) -> Result<Option<Upserted>, StoreError> {
        let inserted: Option<bool> = sqlx::query_scalar(
            "insert into customers (partner_tenant_id, customer_id, company_name, created_at, updated_at)
             select tenant_id, $2, $3, $4, $4 from partners where tenant_id = $1
             on conflict (partner_tenant_id, customer_id) do update
             set company_name = excluded.company_name, updated_at = excluded.updated_at
             returning (xmax = 0)",
        )
        .bind(tenant.to_string())
        .bind(customer.id.to_string())
        .bind(&customer.company_name)
        .bind(now.as_millis())
        .fetch_optional(&self.pool)
        .await?;
        Ok(inserted.map(|inserted| {
            if inserted {
                Upserted::Created
            } else {
                Upserted::Updated
            }
        }))
    }

    async fn delete_customer(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<bool, StoreError> {
        let deleted =
            sqlx::query("delete from customers where partner_tenant_id = $1 and customer_id = $2")
                .bind(tenant.to_string())
                .bind(customer.to_string())
                .execute(&self.pool)
                .await?
                .rows_affected();
        Ok(deleted > 0)
    }

    async fn list_subscriptions(
        &self,
        tenant: TenantId,
        customer: CustomerId,
    ) -> Result<Lookup<Vec<Subscription>>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let Some(customer_ref) = customer_ref(&mut conn, tenant, customer).await? else {
            return Ok(Lookup::CustomerNotFound);
        };
        let rows = sqlx::query(
            "select subscription_id, kind, status, offer_name, registration_state, activated_at
             from subscriptions where customer_ref = $1 order by subscription_id",
        )
        .bind(customer_ref)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(subscription_of)
            .collect::<Result<_, _>>()
            .map(Lookup::Found)
    }

    async fn put_subscription(
        &self,
        tenant: TenantId,
        customer: CustomerId,
        subscription: &FixtureSubscription,
        now: Timestamp,
    ) -> Result<Lookup<Upserted>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let Some(customer_ref) = customer_ref(&mut conn, tenant, customer).await? else {
            return Ok(Lookup::CustomerNotFound);
        };
        let inserted: bool = sqlx::query_scalar(
            "insert into subscriptions (customer_ref, subscription_id, kind, status, offer_name, created_at, updated_at)
             values ($1, $2, $3, $4, $5, $6, $6)
             on conflict (customer_ref, subscription_id) do update
             set kind = excluded.kind, status = excluded.status, offer_name = excluded.offer_name,
                 updated_at = excluded.updated_at
             returning (xmax = 0)",
        )
        .bind(customer_ref)
        .bind(subscription.id.to_string())
        .bind(subscription.kind.as_str())
        .bind(subscription.status.as_str())
        .bind(&subscription.offer_name)
        .bind(now.as_millis())
        .fetch_one(&mut *conn)
        .await?;
        Ok(Lookup::Found(if inserted {
            Upserted::Created
        } else {
            Upserted::Updated
        }))
    }

    async fn delete_subscription(&self, key: &SubscriptionKey) -> Result<bool, StoreError> {
        let deleted = sqlx::query(
            "delete from subscriptions s using customers c
             where s.customer_ref = c.id and c.partner_tenant_id = $1 and c.customer_id = $2 and s.subscription_id = $3",
        )
        .bind(key.partner.to_string())
        .bind(key.customer.to_string())
        .bind(key.subscription.to_string())
        .execute(&self.pool)
        .await?
        .rows_affected();
        Ok(deleted > 0)
    }

    async fn subscription(
        &self,
        key: &SubscriptionKey,
    ) -> Result<Lookup<SubscriptionDetail>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let Some(customer_ref) = customer_ref(&mut conn, key.partner, key.customer).await? else {
            return Ok(Lookup::CustomerNotFound);
        };
        let row = sqlx::query(
            "select subscription_id, kind, status, offer_name, registration_state, activated_at, id
             from subscriptions where customer_ref = $1 and subscription_id = $2",
        )
        .bind(customer_ref)
        .bind(key.subscription.to_string())
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else {
            return Ok(Lookup::SubscriptionNotFound);
        };
        let subscription = subscription_of(&row)?;
        let id: i64 = row.try_get(6)?;
        let registrations = history(&mut conn, id).await?;
        Ok(Lookup::Found(SubscriptionDetail {
            subscription,
            registrations,
        }))
    }

    async fn settle_registration(
        &self,
        key: &SubscriptionKey,
        settlement: Settlement,
        now: Timestamp,
    ) -> Result<Lookup<Settled>, StoreError> {
        let mut tx = self.pool.begin().await?;
        let sub = match lock_subscription(&mut tx, key).await?.found() {
            Ok(sub) => sub,
            Err(missing) => return Ok(missing),
        };
        let registration: Option<i64> = sqlx::query_scalar(
            "select id from registrations where subscription_ref = $1 and state = 'Registering'",
        )
        .bind(sub.id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(registration) = registration else {
            return Ok(Lookup::Found(Settled::NotRegistering(sub.registration)));
        };
        settle_in(&mut tx, registration, settlement == Settlement::Fail, now).await?;
        tx.commit().await?;
        Ok(Lookup::Found(Settled::Done))
    }

    async fn reset(&self) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("delete from partners")
            .execute(&mut *tx)
            .await?;
        sqlx::query("delete from idempotency_records")
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
