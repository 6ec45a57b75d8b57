//! How each [`Change`] is written to PostgreSQL. No rules here: what to change was decided by the
//! domain core; this is only the SQL that makes it so.

use partner_center_domain::{Change, Lookup, SubscriptionFacts, SubscriptionKey};
use partner_center_model::{
    RegistrationEnding, RegistrationState, SubscriptionStatus, TenantId, Timestamp,
};
use sqlx::Row as _;
use sqlx::postgres::{PgArguments, PgConnection};
use sqlx::query::Query;

type PgQuery<'q> = Query<'q, sqlx::Postgres, PgArguments>;

use crate::{Idempotency, StoreError, codec, record_state};

/// The statement that claims an idempotency key with its outcome, its parameters numbered as
/// given (partner, request id, method, path, outcome, now, expires at), optionally once for each
/// row of a `from` clause: a fresh insert, or the takeover of an expired record; it returns a row
/// when the key is claimed.
macro_rules! claim_sql {
    ($partner:literal, $request:literal, $method:literal, $path:literal, $outcome:literal,
     $now:literal, $expires:literal) => {
        claim_sql!($partner, $request, $method, $path, $outcome, $now, $expires; "")
    };
    ($partner:literal, $request:literal, $method:literal, $path:literal, $outcome:literal,
     $now:literal, $expires:literal; $from:literal) => {
        concat!(
            "insert into idempotency_records
               (partner_tenant_id, request_id, method, path, outcome, created_at, expires_at)
             select ",
            $partner,
            ", ",
            $request,
            ", ",
            $method,
            ", ",
            $path,
            ", ",
            $outcome,
            ", ",
            $now,
            ", ",
            $expires,
            " ",
            $from,
            "
             on conflict (partner_tenant_id, request_id, method, path) do update
               set outcome = excluded.outcome, created_at = excluded.created_at,
                   expires_at = excluded.expires_at
               where idempotency_records.expires_at <= ",
            $now,
            "
             returning 1"
        )
    };
}

/// An accepted registration's record with its job (`enqueued_at` set: the job is kept in the
/// registration's row), as a common table expression that follows a `subscription` one (the
/// subscription's row id, when its state was written): `registration` has a row when it was
/// written. Its parameters are numbered as given (the record's state, the time, whether it is to
/// fail).
macro_rules! registration_and_job_sql {
    ($state:literal, $at:literal, $fails:literal) => {
        concat!(
            "registration as (
                 insert into registrations (subscription_ref, state, requested_at, enqueued_at, fails)
                 select id, ",
            $state,
            ", ",
            $at,
            ", ",
            $at,
            ", ",
            $fails,
            " from subscription returning id)"
        )
    };
}

/// An accepted registration: the subscription's state, the registration and its job, as common
/// table expressions (`registration` has a row when they were written), numbered `$1` to `$7`.
macro_rules! registration_accepted_sql {
    () => {
        concat!(
            "with subscription as (
                 update subscriptions s set registration_state = $4, updated_at = $5
                 from customers c
                 where s.customer_ref = c.id and c.partner_tenant_id = $1
                   and c.customer_id = $2 and s.subscription_id = $3
                 returning s.id), ",
            registration_and_job_sql!("$6", "$5", "$7")
        )
    };
}

/// A registration's write: the subscription's row (found by its row id, `$1`) locked if it still
/// has the facts the decision read (`$2` kind, `$3` status, `$4` registration state), as the
/// common table expression `locked`; then, with `claimed`, the key claimed (`$9` to `$15`, as
/// `claim_sql!` numbers them); then, only if both held, its state (`$5`, at `$6`) and the
/// registration with its job (`$7` the record's state, `$8` whether it is to fail).
macro_rules! registration_write_sql {
    () => {
        concat!(
            registration_write_sql!(@locked),
            "subscription as (
                 update subscriptions s set registration_state = $5, updated_at = $6
                 from locked where s.id = locked.id returning s.id), ",
            registration_write_sql!(@registration)
        )
    };
    (claimed) => {
        concat!(
            registration_write_sql!(@locked),
            "claim as (",
            claim_sql!("$9", "$10", "$11", "$12", "$13", "$14", "$15"; "from locked"),
            "), subscription as (
                 update subscriptions s set registration_state = $5, updated_at = $6
                 from locked where s.id = locked.id and exists (select 1 from claim)
                 returning s.id), ",
            registration_write_sql!(@registration)
        )
    };
    (@locked) => {
        "with locked as (
             select id from subscriptions
             where id = $1 and kind = $2 and status = $3 and registration_state = $4
             for update), "
    };
    (@registration) => {
        registration_and_job_sql!("$7", "$6", "$8")
    };
}

/// The idempotency record a write claims, with the outcome it stores (see
/// `PostgresStore::idempotent`).
pub(super) struct Claim<'a> {
    pub partner: TenantId,
    pub idempotency: &'a Idempotency,
    pub outcome: String,
    pub now: Timestamp,
}

impl Claim<'_> {
    fn bind<'q>(&'q self, query: PgQuery<'q>) -> PgQuery<'q> {
        query
            .bind(self.partner.to_string())
            .bind(&self.idempotency.request_id)
            .bind(&self.idempotency.method)
            .bind(&self.idempotency.path)
            .bind(&self.outcome)
            .bind(self.now.as_millis())
            .bind(self.idempotency.expires_at.as_millis())
    }
}

/// Writes a decision's changes, in order, and claims the idempotency key if there is one:
/// whether it was claimed (`None`: no key).
pub(super) async fn write_claiming(
    tx: &mut PgConnection,
    changes: &[Change],
    claim: Option<&Claim<'_>>,
) -> Result<Option<bool>, StoreError> {
    for change in changes {
        write(tx, change).await?;
    }
    match claim {
        Some(claim) => claim_key(tx, claim).await.map(Some),
        None => Ok(None),
    }
}

/// Claims the idempotency key, in a statement of its own: whether it was claimed.
pub(super) async fn claim_key(
    conn: &mut PgConnection,
    claim: &Claim<'_>,
) -> Result<bool, StoreError> {
    let claimed = claim
        .bind(sqlx::query(claim_sql!(
            "$1", "$2", "$3", "$4", "$5", "$6", "$7"
        )))
        .fetch_optional(&mut *conn)
        .await?;
    Ok(claimed.is_some())
}

/// What a registration's write did.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum RegistrationWrite {
    /// Written, and the key claimed if there was one.
    Written,
    /// Nothing written: the key is taken, and this outcome is stored under it.
    Taken(String),
    /// Nothing written: the subscription no longer has the facts read (or is gone), or the key
    /// is taken (by a request that committed after the statement began, when no changes were
    /// written). Look for the stored outcome, or read again.
    Stale,
}

/// Writes a registration's decision, made on `read` (the subscription's row id and facts) without
/// a lock, in one statement outside any transaction: only if the subscription still has the
/// facts the decision read (its row is locked for the statement first), and with a claim only if
/// the key is claimed, which happens before anything else is written. A decision without changes
/// looks for the outcome stored under the key first, and claims it only if there is none, so
/// that a repeated request (the usual such decision) only reads.
pub(super) async fn write_registration(
    conn: &mut PgConnection,
    read: Lookup<(i64, SubscriptionFacts)>,
    changes: &[Change],
    claim: Option<&Claim<'_>>,
) -> Result<RegistrationWrite, StoreError> {
    let (ending, at, (row, facts)) = match (changes, read) {
        ([], _) => {
            let Some(claim) = claim else {
                return Ok(RegistrationWrite::Written);
            };
            // The stored outcome is looked for first: a repeated request (the usual reason for a
            // decision without changes) then reads only, locking no record and writing nothing.
            let query = sqlx::query(concat!(
                "with stored as (
                     select outcome from idempotency_records
                     where partner_tenant_id = $1 and request_id = $2 and method = $3
                       and path = $4 and expires_at > $6),
                 claim as (",
                claim_sql!("$1", "$2", "$3", "$4", "$5", "$6", "$7";
                    "where not exists (select 1 from stored)"),
                ") select (select count(*) from claim), (select outcome from stored)"
            ));
            return registration_write_of(claim.bind(query).fetch_one(&mut *conn).await?);
        }
        ([Change::RegistrationAccepted { ending, at, .. }], Lookup::Found(read)) => {
            (*ending, *at, read)
        }
        _ => {
            return Err(StoreError::Unavailable(
                "a registration decided changes that are not written on their own".into(),
            ));
        }
    };
    let query = match claim {
        None => sqlx::query(concat!(
            registration_write_sql!(),
            " select (select count(*) from registration), null::text"
        )),
        Some(_) => sqlx::query(concat!(
            registration_write_sql!(claimed),
            " select (select count(*) from registration), null::text"
        )),
    };
    let query = query
        .bind(row)
        .bind(facts.kind.as_str())
        .bind(facts.status.as_str())
        .bind(facts.registration.as_str())
        .bind(RegistrationState::Registering.as_str())
        .bind(at.as_millis())
        .bind(record_state(None))
        .bind(ending == RegistrationEnding::Failed);
    let query = match claim {
        Some(claim) => claim.bind(query),
        None => query,
    };
    registration_write_of(query.fetch_one(&mut *conn).await?)
}

/// What a registration's statement returned: the rows it wrote (the claim's, or the
/// registration's) and the outcome stored under a taken key.
fn registration_write_of(row: sqlx::postgres::PgRow) -> Result<RegistrationWrite, StoreError> {
    let written: i64 = row.try_get(0)?;
    let taken: Option<String> = row.try_get(1)?;
    Ok(match (written, taken) {
        (1, _) => RegistrationWrite::Written,
        (_, Some(outcome)) => RegistrationWrite::Taken(outcome),
        (_, None) => RegistrationWrite::Stale,
    })
}

/// Writes one change, within the caller's transaction.
pub(super) async fn write(tx: &mut PgConnection, change: &Change) -> Result<(), StoreError> {
    match change {
        Change::PartnerPut { partner, at } => {
            sqlx::query(
                "insert into partners (tenant_id, name, sandbox, created_at, updated_at) values ($1, $2, $3, $4, $4)
                 on conflict (tenant_id) do update
                 set name = excluded.name, sandbox = excluded.sandbox, updated_at = excluded.updated_at",
            )
            .bind(partner.tenant_id.to_string())
            .bind(&partner.name)
            .bind(partner.sandbox)
            .bind(at.as_millis())
            .execute(&mut *tx)
            .await?;
        }
        Change::PartnerDeleted(tenant) => {
            sqlx::query("delete from partners where tenant_id = $1")
                .bind(tenant.to_string())
                .execute(&mut *tx)
                .await?;
        }
        Change::ApplicationPut(application) => {
            sqlx::query(
                "insert into applications (partner_tenant_id, client_id, name, secret_hash, created_at, updated_at)
                 values ($1, $2, $3, $4, $5, $5)
                 on conflict (partner_tenant_id, client_id) do update
                 set name = excluded.name, secret_hash = excluded.secret_hash, updated_at = excluded.updated_at",
            )
            .bind(application.tenant.to_string())
            .bind(application.client_id.to_string())
            .bind(&application.name)
            .bind(&application.secret_hash)
            .bind(application.at.as_millis())
            .execute(&mut *tx)
            .await?;
        }
        Change::CustomerPut {
            key,
            company_name,
            domain,
            at,
        } => {
            sqlx::query(
                "insert into customers (partner_tenant_id, customer_id, company_name, domain, created_at, updated_at)
                 values ($1, $2, $3, $4, $5, $5)
                 on conflict (partner_tenant_id, customer_id) do update
                 set company_name = excluded.company_name, domain = excluded.domain,
                     updated_at = excluded.updated_at",
            )
            .bind(key.partner.to_string())
            .bind(key.customer.to_string())
            .bind(company_name)
            .bind(domain)
            .bind(at.as_millis())
            .execute(&mut *tx)
            .await?;
        }
        Change::CustomerDeleted(key) => {
            sqlx::query("delete from customers where partner_tenant_id = $1 and customer_id = $2")
                .bind(key.partner.to_string())
                .bind(key.customer.to_string())
                .execute(&mut *tx)
                .await?;
        }
        Change::SubscriptionPut(values) => {
            sqlx::query(
                "insert into subscriptions
                   (customer_ref, subscription_id, kind, status, offer_name, offer_id, friendly_name,
                    quantity, registration_state, order_id, term_duration, created_at, updated_at)
                 select c.id, $3, $4, $5, $6, $7, $8, $9, $10, $12, $13, $11, $11
                 from customers c where c.partner_tenant_id = $1 and c.customer_id = $2
                 on conflict (customer_ref, subscription_id) do update
                 set kind = excluded.kind, status = excluded.status, offer_name = excluded.offer_name,
                     offer_id = excluded.offer_id, friendly_name = excluded.friendly_name,
                     quantity = excluded.quantity,
                     order_id = coalesce(excluded.order_id, subscriptions.order_id),
                     term_duration = coalesce(excluded.term_duration, subscriptions.term_duration),
                     updated_at = excluded.updated_at",
            )
            .bind(values.key.partner.to_string())
            .bind(values.key.customer.to_string())
            .bind(values.key.subscription.to_string())
            .bind(values.kind.as_str())
            .bind(values.status.as_str())
            .bind(&values.offer_name)
            .bind(&values.offer_id)
            .bind(&values.friendly_name)
            .bind(i64::from(values.quantity))
            .bind(RegistrationState::NotRegistered.as_str())
            .bind(values.at.as_millis())
            .bind(&values.order_id)
            .bind(&values.term_duration)
            .execute(&mut *tx)
            .await?;
        }
        Change::SubscriptionDeleted(key) => {
            sqlx::query(
                "delete from subscriptions s using customers c
                 where s.customer_ref = c.id and c.partner_tenant_id = $1 and c.customer_id = $2
                   and s.subscription_id = $3",
            )
            .bind(key.partner.to_string())
            .bind(key.customer.to_string())
            .bind(key.subscription.to_string())
            .execute(&mut *tx)
            .await?;
        }
        Change::RegistrationAccepted { key, ending, at } => {
            // The state, the registration and its job in one statement (one round trip).
            let row = registration_accepted(
                sqlx::query(concat!(
                    registration_accepted_sql!(),
                    " select count(*) from registration"
                )),
                key,
                *ending,
                *at,
            )
            .fetch_one(&mut *tx)
            .await?;
            registration_written(row.try_get(0)?)?;
        }
        Change::RegistrationSettled(settlement) => {
            // Settled, so out of the queue: its job is dropped with the same write.
            sqlx::query(
                "update registrations
                 set state = $2, completed_at = $3, enqueued_at = null, lease_until = null
                 where id = $1",
            )
            .bind(settlement.registration.0)
            .bind(record_state(Some(settlement.ending)))
            .bind(settlement.at.as_millis())
            .execute(&mut *tx)
            .await?;
            set_registration_state(
                tx,
                &settlement.key,
                settlement.ending.state(),
                settlement.at,
            )
            .await?;
        }
        Change::RegistrationJobDropped(registration) => drop_job(tx, registration.0).await?,
        Change::SubscriptionActivated { key, at } => {
            sqlx::query(
                "update subscriptions s set status = $4, activated_at = $5, updated_at = $5
                 from customers c
                 where s.customer_ref = c.id and c.partner_tenant_id = $1 and c.customer_id = $2
                   and s.subscription_id = $3",
            )
            .bind(key.partner.to_string())
            .bind(key.customer.to_string())
            .bind(key.subscription.to_string())
            .bind(SubscriptionStatus::Active.as_str())
            .bind(at.as_millis())
            .execute(&mut *tx)
            .await?;
        }
        Change::SubscriptionStatusSet { key, status, at } => {
            sqlx::query(
                "update subscriptions s set status = $4, updated_at = $5
                 from customers c
                 where s.customer_ref = c.id and c.partner_tenant_id = $1 and c.customer_id = $2
                   and s.subscription_id = $3",
            )
            .bind(key.partner.to_string())
            .bind(key.customer.to_string())
            .bind(key.subscription.to_string())
            .bind(status.as_str())
            .bind(at.as_millis())
            .execute(&mut *tx)
            .await?;
        }
        Change::CartPut(cart) => {
            sqlx::query(
                "insert into carts (id, customer_ref, status, lines, order_ids, created_at, updated_at, expires_at)
                 select $3, c.id, $4, $5, $6, $7, $8, $9
                 from customers c where c.partner_tenant_id = $1 and c.customer_id = $2
                 on conflict (id) do update
                 set status = excluded.status, lines = excluded.lines, order_ids = excluded.order_ids,
                     updated_at = excluded.updated_at, expires_at = excluded.expires_at",
            )
            .bind(cart.customer.partner.to_string())
            .bind(cart.customer.customer.to_string())
            .bind(&cart.id)
            .bind(cart.status.as_str())
            .bind(codec::to_text(&cart.lines))
            .bind(codec::to_text(&cart.order_ids))
            .bind(cart.created_at.as_millis())
            .bind(cart.updated_at.as_millis())
            .bind(cart.expires_at.as_millis())
            .execute(&mut *tx)
            .await?;
        }
        Change::OrderPut(order) => {
            sqlx::query(
                "insert into orders (id, customer_ref, billing_cycle, status, lines, created_at, updated_at)
                 select $3, c.id, $4, $5, $6, $7, $8
                 from customers c where c.partner_tenant_id = $1 and c.customer_id = $2
                 on conflict (id) do update
                 set status = excluded.status, lines = excluded.lines, updated_at = excluded.updated_at",
            )
            .bind(order.customer.partner.to_string())
            .bind(order.customer.customer.to_string())
            .bind(&order.id)
            .bind(&order.billing_cycle)
            .bind(order.status.as_str())
            .bind(codec::to_text(&order.lines))
            .bind(order.created_at.as_millis())
            .bind(order.updated_at.as_millis())
            .execute(&mut *tx)
            .await?;
        }
        Change::OrderQueued { order_id, at } => {
            sqlx::query(
                "insert into order_jobs (order_ref, enqueued_at) values ($1, $2)
                 on conflict (order_ref) do nothing",
            )
            .bind(order_id)
            .bind(at.as_millis())
            .execute(&mut *tx)
            .await?;
        }
        Change::OrderJobDropped(order_id) => {
            sqlx::query("delete from order_jobs where order_ref = $1")
                .bind(order_id)
                .execute(&mut *tx)
                .await?;
        }
        Change::CatalogReplaced(items) => {
            // Instances starting with one fixture replace it one after the other.
            sqlx::query("lock table catalog_items in exclusive mode")
                .execute(&mut *tx)
                .await?;
            sqlx::query("delete from catalog_items")
                .execute(&mut *tx)
                .await?;
            for (position, item) in (0i64..).zip(items) {
                sqlx::query("insert into catalog_items (position, id, item) values ($1, $2, $3)")
                    .bind(position)
                    .bind(&item.id)
                    .bind(codec::to_text(item))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        Change::Reset => {
            sqlx::query("delete from partners")
                .execute(&mut *tx)
                .await?;
            sqlx::query("delete from catalog_items")
                .execute(&mut *tx)
                .await?;
            sqlx::query("delete from idempotency_records")
                .execute(&mut *tx)
                .await?;
        }
    }
    Ok(())
}

/// Sets a subscription's registration state; returns its row id.
async fn set_registration_state(
    tx: &mut PgConnection,
    key: &SubscriptionKey,
    state: RegistrationState,
    at: Timestamp,
) -> Result<i64, StoreError> {
    Ok(sqlx::query_scalar(
        "update subscriptions s set registration_state = $4, updated_at = $5
         from customers c
         where s.customer_ref = c.id and c.partner_tenant_id = $1 and c.customer_id = $2
           and s.subscription_id = $3
         returning s.id",
    )
    .bind(key.partner.to_string())
    .bind(key.customer.to_string())
    .bind(key.subscription.to_string())
    .bind(state.as_str())
    .bind(at.as_millis())
    .fetch_one(&mut *tx)
    .await?)
}

/// Drops registration `registration`'s job, if it still has one: its row stays, out of the queue.
async fn drop_job(tx: &mut PgConnection, registration: i64) -> Result<(), StoreError> {
    sqlx::query(
        "update registrations set enqueued_at = null, lease_until = null
         where id = $1 and enqueued_at is not null",
    )
    .bind(registration)
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Binds an accepted registration's parameters (`$1` to `$7` of `registration_accepted_sql!`).
fn registration_accepted<'q>(
    query: PgQuery<'q>,
    key: &SubscriptionKey,
    ending: RegistrationEnding,
    at: Timestamp,
) -> PgQuery<'q> {
    query
        .bind(key.partner.to_string())
        .bind(key.customer.to_string())
        .bind(key.subscription.to_string())
        .bind(RegistrationState::Registering.as_str())
        .bind(at.as_millis())
        .bind(record_state(None))
        .bind(ending == RegistrationEnding::Failed)
}

/// No row written: the subscription is gone, which its lock rules out; an error.
fn registration_written(rows: i64) -> Result<(), StoreError> {
    if rows == 1 {
        Ok(())
    } else {
        Err(sqlx::Error::RowNotFound.into())
    }
}
