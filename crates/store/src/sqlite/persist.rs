//! How each [`Change`] is written to SQLite. No rules here: what to change was decided by the
//! domain core; this is only the SQL that makes it so.

use partner_center_domain::{Change, CustomerKey, SubscriptionKey};
use partner_center_model::{RegistrationEnding, RegistrationState, SubscriptionStatus};
use rusqlite::{Connection, OptionalExtension as _, params};

use super::Guid;
use crate::{StoreError, codec, record_state};

/// The row id of a partner's customer, as a subquery on `?1` (partner) and `?2` (customer).
macro_rules! customer_ref {
    () => {
        "(select id from customers where partner_tenant_id = ?1 and customer_id = ?2)"
    };
}

fn customer(key: &CustomerKey) -> (Guid, Guid) {
    (
        Guid::of(key.partner.encode()),
        Guid::of(key.customer.encode()),
    )
}

fn subscription(key: &SubscriptionKey) -> (Guid, Guid, Guid) {
    let (partner, customer) = customer(&key.customer_key());
    (partner, customer, Guid::of(key.subscription.encode()))
}

/// Rows found by the job whose decision is being written, a subscription's and a customer's: its
/// changes to them go straight to the row instead of finding it again through two indexes.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Located {
    pub(crate) subscription: Option<(SubscriptionKey, i64)>,
    pub(crate) customer: Option<(CustomerKey, i64)>,
}

/// The row id of `key`'s subscription: `located`'s, if it is that subscription's.
fn subscription_row(
    conn: &Connection,
    key: &SubscriptionKey,
    located: Located,
) -> Result<Option<i64>, StoreError> {
    if let Some((_, id)) = located.subscription.filter(|(found, _)| found == key) {
        return Ok(Some(id));
    }
    let (partner, customer, subscription) = subscription(key);
    Ok(conn
        .prepare_cached(concat!(
            "select id from subscriptions where customer_ref = ",
            customer_ref!(),
            " and subscription_id = ?3"
        ))?
        .query_row(params![partner, customer, subscription], |row| row.get(0))
        .optional()?)
}

/// The row id of `key`'s customer, which a cart or an order is written for: `located`'s, if it is
/// that customer's.
fn customer_row(conn: &Connection, key: &CustomerKey, located: Located) -> Result<i64, StoreError> {
    if let Some((_, id)) = located.customer.filter(|(found, _)| found == key) {
        return Ok(id);
    }
    super::customer_ref(conn, key.partner, key.customer)?.ok_or_else(|| {
        StoreError::Corrupt(format!(
            "the customer {} to write for is not there",
            key.customer
        ))
    })
}

/// Writes one change; `located` holds the rows the job found (see [`Located`]).
pub(crate) fn write(
    conn: &Connection,
    change: &Change,
    located: Located,
) -> Result<(), StoreError> {
    match change {
        Change::PartnerPut { partner, at } => {
            conn.prepare_cached(
                "insert into partners (tenant_id, name, sandbox, created_at, updated_at)
                 values (?1, ?2, ?3, ?4, ?4)
                 on conflict (tenant_id) do update
                 set name = excluded.name, sandbox = excluded.sandbox, updated_at = excluded.updated_at",
            )?
            .execute(params![
                Guid::of(partner.tenant_id.encode()),
                partner.name,
                partner.sandbox,
                at.as_millis()
            ])?;
        }
        Change::PartnerDeleted(tenant) => {
            conn.prepare_cached("delete from partners where tenant_id = ?1")?
                .execute([Guid::of(tenant.encode())])?;
        }
        Change::ApplicationPut(application) => {
            conn.prepare_cached(
                "insert into applications (partner_tenant_id, client_id, name, secret_hash, created_at, updated_at)
                 values (?1, ?2, ?3, ?4, ?5, ?5)
                 on conflict (partner_tenant_id, client_id) do update
                 set name = excluded.name, secret_hash = excluded.secret_hash, updated_at = excluded.updated_at",
            )?
            .execute(params![
                Guid::of(application.tenant.encode()),
                Guid::of(application.client_id.encode()),
                application.name,
                application.secret_hash,
                application.at.as_millis()
            ])?;
        }
        Change::CustomerPut {
            key,
            company_name,
            domain,
            at,
        } => {
            let (partner, customer) = customer(key);
            conn.prepare_cached(
                "insert into customers (partner_tenant_id, customer_id, company_name, domain, created_at, updated_at)
                 values (?1, ?2, ?3, ?4, ?5, ?5)
                 on conflict (partner_tenant_id, customer_id) do update
                 set company_name = excluded.company_name, domain = excluded.domain,
                     updated_at = excluded.updated_at",
            )?
            .execute(params![partner, customer, company_name, domain, at.as_millis()])?;
        }
        Change::CustomerDeleted(key) => {
            let (partner, customer) = customer(key);
            conn.prepare_cached(
                "delete from customers where partner_tenant_id = ?1 and customer_id = ?2",
            )?
            .execute(params![partner, customer])?;
        }
        Change::SubscriptionPut(values) => {
            let (partner, customer, subscription) = subscription(&values.key);
            conn.prepare_cached(concat!(
                "insert into subscriptions
                   (customer_ref, subscription_id, kind, status, offer_name, offer_id, friendly_name,
                    quantity, registration_state, order_id, term_duration, created_at, updated_at)
                 values (",
                customer_ref!(),
                ", ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?12, ?13, ?11, ?11)
                 on conflict (customer_ref, subscription_id) do update
                 set kind = excluded.kind, status = excluded.status, offer_name = excluded.offer_name,
                     offer_id = excluded.offer_id, friendly_name = excluded.friendly_name,
                     quantity = excluded.quantity,
                     order_id = coalesce(excluded.order_id, subscriptions.order_id),
                     term_duration = coalesce(excluded.term_duration, subscriptions.term_duration),
                     updated_at = excluded.updated_at"
            ))?
            .execute(params![
                partner,
                customer,
                subscription,
                values.kind.as_str(),
                values.status.as_str(),
                values.offer_name,
                values.offer_id,
                values.friendly_name,
                values.quantity,
                RegistrationState::NotRegistered.as_str(),
                values.at.as_millis(),
                values.order_id,
                values.term_duration
            ])?;
        }
        Change::SubscriptionDeleted(key) => {
            let (partner, customer, subscription) = subscription(key);
            conn.prepare_cached(concat!(
                "delete from subscriptions where customer_ref = ",
                customer_ref!(),
                " and subscription_id = ?3"
            ))?
            .execute(params![partner, customer, subscription])?;
        }
        Change::RegistrationAccepted { key, ending, at } => {
            let Some(id) = subscription_row(conn, key, located)? else {
                return Err(StoreError::Corrupt(format!(
                    "the subscription {} to register is not there",
                    key.subscription
                )));
            };
            conn.prepare_cached(
                "update subscriptions set registration_state = ?2, updated_at = ?3 where id = ?1",
            )?
            .execute(params![
                id,
                RegistrationState::Registering.as_str(),
                at.as_millis()
            ])?;
            conn.prepare_cached(
                "insert into registrations (subscription_ref, state, requested_at) values (?1, ?2, ?3)",
            )?
            .execute(params![id, record_state(None), at.as_millis()])?;
            let registration = conn.last_insert_rowid();
            conn.prepare_cached(
                "insert into registration_jobs (registration_ref, enqueued_at, fails) values (?1, ?2, ?3)",
            )?
            .execute(params![
                registration,
                at.as_millis(),
                *ending == RegistrationEnding::Failed
            ])?;
        }
        Change::RegistrationSettled(settlement) => {
            conn.prepare_cached(
                "update registrations set state = ?2, completed_at = ?3 where id = ?1",
            )?
            .execute(params![
                settlement.registration.0,
                record_state(Some(settlement.ending)),
                settlement.at.as_millis()
            ])?;
            let (partner, customer, subscription) = subscription(&settlement.key);
            conn.prepare_cached(concat!(
                "update subscriptions set registration_state = ?4, updated_at = ?5
                 where customer_ref = ",
                customer_ref!(),
                " and subscription_id = ?3"
            ))?
            .execute(params![
                partner,
                customer,
                subscription,
                settlement.ending.state().as_str(),
                settlement.at.as_millis()
            ])?;
            drop_job(conn, settlement.registration.0)?;
        }
        Change::RegistrationJobDropped(registration) => drop_job(conn, registration.0)?,
        Change::SubscriptionActivated { key, at } => {
            if let Some(id) = subscription_row(conn, key, located)? {
                conn.prepare_cached(
                    "update subscriptions set status = ?2, activated_at = ?3, updated_at = ?3
                     where id = ?1",
                )?
                .execute(params![
                    id,
                    SubscriptionStatus::Active.as_str(),
                    at.as_millis()
                ])?;
            }
        }
        Change::SubscriptionStatusSet { key, status, at } => {
            let (partner, customer, subscription) = subscription(key);
            conn.prepare_cached(concat!(
                "update subscriptions set status = ?4, updated_at = ?5 where customer_ref = ",
                customer_ref!(),
                " and subscription_id = ?3"
            ))?
            .execute(params![
                partner,
                customer,
                subscription,
                status.as_str(),
                at.as_millis()
            ])?;
        }
        Change::CartPut(cart) => {
            conn.prepare_cached(
                "insert into carts (id, customer_ref, status, lines, order_ids, created_at, updated_at, expires_at)
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 on conflict (id) do update
                 set status = excluded.status, lines = excluded.lines, order_ids = excluded.order_ids,
                     updated_at = excluded.updated_at, expires_at = excluded.expires_at",
            )?
            .execute(params![
                cart.id,
                customer_row(conn, &cart.customer, located)?,
                cart.status.as_str(),
                codec::to_text(&cart.lines),
                codec::to_text(&cart.order_ids),
                cart.created_at.as_millis(),
                cart.updated_at.as_millis(),
                cart.expires_at.as_millis()
            ])?;
        }
        Change::OrderPut(order) => {
            conn.prepare_cached(
                "insert into orders (id, customer_ref, billing_cycle, status, lines, created_at, updated_at)
                 values (?1, ?2, ?3, ?4, ?5, ?6, ?7)
                 on conflict (id) do update
                 set status = excluded.status, lines = excluded.lines, updated_at = excluded.updated_at",
            )?
            .execute(params![
                order.id,
                customer_row(conn, &order.customer, located)?,
                order.billing_cycle,
                order.status.as_str(),
                codec::to_text(&order.lines),
                order.created_at.as_millis(),
                order.updated_at.as_millis()
            ])?;
        }
        Change::OrderQueued { order_id, at } => {
            conn.prepare_cached(
                "insert into order_jobs (order_ref, enqueued_at) values (?1, ?2)
                 on conflict (order_ref) do nothing",
            )?
            .execute(params![order_id, at.as_millis()])?;
        }
        Change::OrderJobDropped(order_id) => {
            conn.prepare_cached("delete from order_jobs where order_ref = ?1")?
                .execute([order_id])?;
        }
        Change::CatalogReplaced(items) => {
            conn.prepare_cached("delete from catalog_items")?
                .execute([])?;
            let mut insert = conn.prepare_cached(
                "insert into catalog_items (position, id, item) values (?1, ?2, ?3)",
            )?;
            for (position, item) in (0i64..).zip(items) {
                insert.execute(params![position, item.id, codec::to_text(item)])?;
            }
        }
        Change::Reset => {
            conn.prepare_cached("delete from partners")?.execute([])?;
            conn.prepare_cached("delete from catalog_items")?
                .execute([])?;
            conn.prepare_cached("delete from idempotency_records")?
                .execute([])?;
        }
    }
    Ok(())
}

fn drop_job(conn: &Connection, registration: i64) -> Result<(), StoreError> {
    conn.prepare_cached("delete from registration_jobs where registration_ref = ?1")?
        .execute([registration])?;
    Ok(())
}
