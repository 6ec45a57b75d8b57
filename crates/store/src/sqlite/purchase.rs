//! Buying, on SQLite: the loads the purchase decisions need (the catalog, a customer's facts, carts
//! and orders), and the capability's methods. Being the only writer, a write sees nothing change
//! between its loads and its changes.

use std::sync::Arc;

use async_trait::async_trait;
use partner_center_domain::CustomerKey;
use partner_center_domain::catalog::Catalog;
use partner_center_domain::purchase::{
    self, Buyer, CancelOutcome, Cart, CartOutcome, CheckoutOutcome, CustomerFacts, LineRequest,
    Order, OrderIds, OrderOutcome, OrderStatus, SubscriptionSummary,
};
use partner_center_model::Timestamp;
use partner_center_model::catalog::CatalogItem;
use rusqlite::{Connection, Row, params};

use super::engine::Tx;
use super::{Guid, SqliteStore, customer_ref, parse, partner_row};
use crate::{Idempotency, PurchaseStore, Recorded, StoreError, codec, purchase_context};
use partner_center_domain::SubscriptionKey;

/// The catalog: the stored one, or the built-in one when none is stored.
pub(super) fn load_catalog(conn: &Connection) -> Result<Catalog, StoreError> {
    stored_catalog(conn).map(Catalog::of)
}

/// The items a fixture declared (none: the built-in catalog is offered).
pub(super) fn stored_catalog(conn: &Connection) -> Result<Vec<CatalogItem>, StoreError> {
    let mut statement = conn.prepare_cached("select item from catalog_items order by position")?;
    let mut rows = statement.query([])?;
    let mut items = Vec::new();
    while let Some(row) = rows.next()? {
        items.push(codec::catalog_item(&row.get::<_, String>(0)?)?);
    }
    Ok(items)
}

/// What purchases for the customer at `customer_ref` are checked against.
fn load_facts(
    tx: &Tx<'_>,
    customer: CustomerKey,
    customer_ref: i64,
) -> Result<CustomerFacts, StoreError> {
    let conn = tx.conn();
    let sandbox = tx.sandbox(customer.partner, partner_row)?;
    let mut statement = conn.prepare_cached(
        "select subscription_id, kind, status, registration_state, quantity from subscriptions
         where customer_ref = ?1",
    )?;
    let mut rows = statement.query([customer_ref])?;
    let mut subscriptions = Vec::new();
    while let Some(row) = rows.next()? {
        subscriptions.push(SubscriptionSummary {
            id: parse(row, 0)?,
            kind: parse(row, 1)?,
            status: parse(row, 2)?,
            registration: parse(row, 3)?,
            quantity: row.get(4)?,
        });
    }
    let mut statement = conn.prepare_cached(
        "select id, billing_cycle, status, lines, created_at, updated_at from orders
         where customer_ref = ?1 and status = 'pending'",
    )?;
    let mut rows = statement.query([customer_ref])?;
    let mut pending_orders = Vec::new();
    while let Some(row) = rows.next()? {
        pending_orders.push(order_of(row, customer)?);
    }
    Ok(CustomerFacts {
        sandbox,
        subscriptions,
        pending_orders,
    })
}

/// An order from `id, billing_cycle, status, lines, created_at, updated_at`.
fn order_of(row: &Row<'_>, customer: CustomerKey) -> Result<Order, StoreError> {
    Ok(Order {
        id: row.get(0)?,
        customer,
        billing_cycle: row.get(1)?,
        status: codec::order_status(row.get_ref(2)?.as_str().map_err(rusqlite::Error::from)?)?,
        lines: codec::order_lines(row.get_ref(3)?.as_str().map_err(rusqlite::Error::from)?)?,
        created_at: Timestamp::from_millis(row.get(4)?),
        updated_at: Timestamp::from_millis(row.get(5)?),
    })
}

/// A cart from `id, status, lines, order_ids, created_at, updated_at, expires_at`.
fn cart_of(row: &Row<'_>, customer: CustomerKey) -> Result<Cart, StoreError> {
    Ok(Cart {
        id: row.get(0)?,
        customer,
        status: codec::cart_status(row.get_ref(1)?.as_str().map_err(rusqlite::Error::from)?)?,
        lines: codec::cart_lines(row.get_ref(2)?.as_str().map_err(rusqlite::Error::from)?)?,
        order_ids: codec::order_ids(row.get_ref(3)?.as_str().map_err(rusqlite::Error::from)?)?,
        created_at: Timestamp::from_millis(row.get(4)?),
        updated_at: Timestamp::from_millis(row.get(5)?),
        expires_at: Timestamp::from_millis(row.get(6)?),
    })
}

fn load_cart(
    conn: &Connection,
    customer: CustomerKey,
    customer_ref: i64,
    cart_id: &str,
) -> Result<Option<Cart>, StoreError> {
    let mut statement = conn.prepare_cached(
        "select id, status, lines, order_ids, created_at, updated_at, expires_at from carts
         where customer_ref = ?1 and id = ?2",
    )?;
    let mut rows = statement.query(params![customer_ref, cart_id])?;
    rows.next()?.map(|row| cart_of(row, customer)).transpose()
}

pub(super) fn load_order(
    conn: &Connection,
    customer: CustomerKey,
    customer_ref: i64,
    order_id: &str,
) -> Result<Option<Order>, StoreError> {
    let mut statement = conn.prepare_cached(
        "select id, billing_cycle, status, lines, created_at, updated_at from orders
         where customer_ref = ?1 and id = ?2",
    )?;
    let mut rows = statement.query(params![customer_ref, order_id])?;
    rows.next()?.map(|row| order_of(row, customer)).transpose()
}

/// An order by its id alone, with whose it is (the worker's claims name only the order).
pub(super) fn load_claimed_order(
    conn: &Connection,
    order_id: &str,
) -> Result<Option<Order>, StoreError> {
    let mut statement = conn.prepare_cached(
        "select o.id, o.billing_cycle, o.status, o.lines, o.created_at, o.updated_at,
                c.partner_tenant_id, c.customer_id
         from orders o join customers c on c.id = o.customer_ref where o.id = ?1",
    )?;
    let mut rows = statement.query([order_id])?;
    let Some(row) = rows.next()? else {
        return Ok(None);
    };
    let customer = CustomerKey {
        partner: parse(row, 6)?,
        customer: parse(row, 7)?,
    };
    order_of(row, customer).map(Some)
}

/// The order that made a subscription, if an order did.
pub(super) fn order_of_subscription(
    conn: &Connection,
    key: &SubscriptionKey,
) -> Result<Option<Order>, StoreError> {
    let mut statement = conn.prepare_cached(
        "select o.id, o.billing_cycle, o.status, o.lines, o.created_at, o.updated_at
         from customers c
         join subscriptions s on s.customer_ref = c.id
         join orders o on o.id = s.order_id and o.customer_ref = c.id
         where c.partner_tenant_id = ?1 and c.customer_id = ?2 and s.subscription_id = ?3",
    )?;
    let mut rows = statement.query(params![
        Guid::of(key.partner.encode()),
        Guid::of(key.customer.encode()),
        Guid::of(key.subscription.encode())
    ])?;
    rows.next()?
        .map(|row| order_of(row, key.customer_key()))
        .transpose()
}

/// A customer the partner has, with the catalog shared with the writer's cache.
type Context = purchase_context::Context<Arc<Catalog>>;

/// The customer's context (`None`: the partner has no such customer), its row remembered for the
/// carts and orders of the decision.
fn purchase_context(tx: &mut Tx<'_>, customer: CustomerKey) -> Result<Option<Context>, StoreError> {
    let Some(customer_ref) = customer_ref(tx.conn(), customer.partner, customer.customer)? else {
        return Ok(None);
    };
    tx.locate_customer(customer, customer_ref);
    Ok(Some(Context {
        customer_ref,
        facts: load_facts(tx, customer, customer_ref)?,
        catalog: tx.catalog(load_catalog)?,
    }))
}

/// The buyer of a request that names the customer's cart `cart_id`, with the cart as found.
fn cart_buyer<'a>(
    conn: &Connection,
    customer: CustomerKey,
    context: Option<&'a Context>,
    cart_id: &str,
) -> Result<Option<Buyer<'a, Option<Cart>>>, StoreError> {
    context
        .map(|c| {
            Ok(c.buyer()
                .with(load_cart(conn, customer, c.customer_ref, cart_id)?))
        })
        .transpose()
}

/// Provisions one claimed order.
pub(super) fn provision_in(
    tx: &mut Tx<'_>,
    order_id: &str,
    now: Timestamp,
) -> Result<Option<Order>, StoreError> {
    let found = load_claimed_order(tx.conn(), order_id)?;
    tx.decided(purchase::provision(found, order_id, now))
}

#[async_trait]
impl PurchaseStore for SqliteStore {
    async fn catalog(&self) -> Result<Catalog, StoreError> {
        self.engine.read(load_catalog).await
    }

    async fn create_cart(
        &self,
        customer: CustomerKey,
        cart_id: &str,
        lines: &[LineRequest],
        now: Timestamp,
        lifetime: std::time::Duration,
        idempotency: Option<&Idempotency>,
    ) -> Result<Recorded<CartOutcome>, StoreError> {
        let (cart_id, lines) = (cart_id.to_owned(), lines.to_vec());
        self.idempotent(customer.partner, now, idempotency, move |tx| {
            let context = purchase_context(tx, customer)?;
            tx.decided(purchase::create_cart(
                customer,
                cart_id.clone(),
                &lines,
                context.as_ref().map(Context::buyer),
                now,
                lifetime,
            ))
        })
        .await
    }

    async fn update_cart(
        &self,
        customer: CustomerKey,
        cart_id: &str,
        lines: &[LineRequest],
        now: Timestamp,
        lifetime: std::time::Duration,
        idempotency: Option<&Idempotency>,
    ) -> Result<Recorded<CartOutcome>, StoreError> {
        let (cart_id, lines) = (cart_id.to_owned(), lines.to_vec());
        self.idempotent(customer.partner, now, idempotency, move |tx| {
            let context = purchase_context(tx, customer)?;
            let buyer = cart_buyer(tx.conn(), customer, context.as_ref(), &cart_id)?;
            tx.decided(purchase::update_cart(buyer, &lines, now, lifetime))
        })
        .await
    }

    async fn cart(&self, customer: CustomerKey, cart_id: &str) -> Result<Option<Cart>, StoreError> {
        let cart_id = cart_id.to_owned();
        self.engine
            .read(
                move |conn| match customer_ref(conn, customer.partner, customer.customer)? {
                    Some(customer_ref) => load_cart(conn, customer, customer_ref, &cart_id),
                    None => Ok(None),
                },
            )
            .await
    }

    async fn checkout(
        &self,
        customer: CustomerKey,
        cart_id: &str,
        order_ids: OrderIds,
        now: Timestamp,
        idempotency: Option<&Idempotency>,
    ) -> Result<Recorded<CheckoutOutcome>, StoreError> {
        let cart_id = cart_id.to_owned();
        self.idempotent(customer.partner, now, idempotency, move |tx| {
            let context = purchase_context(tx, customer)?;
            let buyer = cart_buyer(tx.conn(), customer, context.as_ref(), &cart_id)?;
            tx.decided(purchase::checkout(buyer, order_ids, now))
        })
        .await
    }

    async fn place_order(
        &self,
        customer: CustomerKey,
        order_id: &str,
        lines: &[LineRequest],
        now: Timestamp,
        idempotency: Option<&Idempotency>,
    ) -> Result<Recorded<OrderOutcome>, StoreError> {
        let (order_id, lines) = (order_id.to_owned(), lines.to_vec());
        self.idempotent(customer.partner, now, idempotency, move |tx| {
            let context = purchase_context(tx, customer)?;
            tx.decided(purchase::place_order(
                customer,
                order_id.clone(),
                &lines,
                context.as_ref().map(Context::buyer),
                now,
            ))
        })
        .await
    }

    async fn cancel_order(
        &self,
        customer: CustomerKey,
        order_id: &str,
        now: Timestamp,
        idempotency: Option<&Idempotency>,
    ) -> Result<Recorded<CancelOutcome>, StoreError> {
        let order_id = order_id.to_owned();
        self.idempotent(customer.partner, now, idempotency, move |tx| {
            let sandbox = tx.sandbox(customer.partner, partner_row)?;
            let found = customer_ref(tx.conn(), customer.partner, customer.customer)?
                .map(|customer_ref| load_order(tx.conn(), customer, customer_ref, &order_id))
                .transpose()?;
            tx.decided(purchase::cancel(sandbox, found, now))
        })
        .await
    }

    async fn order(
        &self,
        customer: CustomerKey,
        order_id: &str,
    ) -> Result<Option<Order>, StoreError> {
        let order_id = order_id.to_owned();
        self.engine
            .read(
                move |conn| match customer_ref(conn, customer.partner, customer.customer)? {
                    Some(customer_ref) => load_order(conn, customer, customer_ref, &order_id),
                    None => Ok(None),
                },
            )
            .await
    }

    async fn orders(&self, customer: CustomerKey) -> Result<Option<Vec<Order>>, StoreError> {
        self.engine
            .read(move |conn| {
                let Some(customer_ref) = customer_ref(conn, customer.partner, customer.customer)?
                else {
                    return Ok(None);
                };
                let mut statement = conn.prepare_cached(
                    "select id, billing_cycle, status, lines, created_at, updated_at from orders
                     where customer_ref = ?1 order by created_at desc, id",
                )?;
                let mut rows = statement.query([customer_ref])?;
                let mut orders = Vec::new();
                while let Some(row) = rows.next()? {
                    orders.push(order_of(row, customer)?);
                }
                Ok(Some(orders))
            })
            .await
    }

    async fn carts(&self, customer: CustomerKey) -> Result<Option<Vec<Cart>>, StoreError> {
        self.engine
            .read(move |conn| {
                let Some(customer_ref) = customer_ref(conn, customer.partner, customer.customer)?
                else {
                    return Ok(None);
                };
                let mut statement = conn.prepare_cached(
                    "select id, status, lines, order_ids, created_at, updated_at, expires_at from carts
                     where customer_ref = ?1 order by created_at desc, id",
                )?;
                let mut rows = statement.query([customer_ref])?;
                let mut carts = Vec::new();
                while let Some(row) = rows.next()? {
                    carts.push(cart_of(row, customer)?);
                }
                Ok(Some(carts))
            })
            .await
    }
}

/// Claims up to `limit` queued orders placed at or before `placed_by`, leasing them to `until`.
pub(super) fn claim_orders(
    tx: &mut Tx<'_>,
    placed_by: Timestamp,
    now: Timestamp,
    until: Timestamp,
    limit: u32,
) -> Result<Vec<String>, StoreError> {
    let mut statement = tx.conn().prepare_cached(
        "update order_jobs set lease_until = ?3, attempts = attempts + 1
         where order_ref in (
             select order_ref from order_jobs
             where enqueued_at <= ?1 and (lease_until is null or lease_until <= ?2)
             order by enqueued_at, order_ref
             limit ?4)
         returning order_ref",
    )?;
    let claimed = statement
        .query_map(
            params![
                placed_by.as_millis(),
                now.as_millis(),
                until.as_millis(),
                limit
            ],
            |row| row.get(0),
        )?
        .collect::<Result<Vec<String>, _>>()?;
    Ok(claimed)
}

/// When the first queued order becomes claimable, an order being due `delay` after it was placed.
pub(super) fn next_order_due(
    conn: &Connection,
    delay: i64,
) -> Result<Option<Timestamp>, StoreError> {
    let due: Option<i64> = conn
        .prepare_cached(
            "select min(max(enqueued_at + ?1, coalesce(lease_until, 0))) from order_jobs",
        )?
        .query_row([delay], |row| row.get(0))?;
    Ok(due.map(Timestamp::from_millis))
}

/// How many orders there are in each status (those with none left out).
pub(super) fn order_counts(conn: &Connection) -> Result<Vec<(OrderStatus, u64)>, StoreError> {
    let mut statement =
        conn.prepare_cached("select status, count(*) from orders group by status")?;
    let mut rows = statement.query([])?;
    let mut counts = Vec::new();
    while let Some(row) = rows.next()? {
        let status = codec::order_status(&row.get::<_, String>(0)?)?;
        let count: i64 = row.get(1)?;
        counts.push((status, u64::try_from(count).unwrap_or_default()));
    }
    Ok(counts)
}

/// Provisions a customer's order now, whatever the delay (an operator's `advance`).
pub(super) fn advance_order(
    tx: &mut Tx<'_>,
    customer: CustomerKey,
    order_id: &str,
    now: Timestamp,
) -> Result<Option<Order>, StoreError> {
    let Some(customer_ref) = customer_ref(tx.conn(), customer.partner, customer.customer)? else {
        return Ok(None);
    };
    let Some(found) = load_order(tx.conn(), customer, customer_ref, order_id)? else {
        return Ok(None);
    };
    let unchanged = found.clone();
    Ok(Some(
        tx.decided(purchase::provision(Some(found), order_id, now))?
            .unwrap_or(unchanged),
    ))
}
