//! Buying, on PostgreSQL: the loads the purchase decisions need, locked, and the capability's
//! methods.
//!
//! # Locks
//!
//! A purchase (a cart created, updated or checked out, an order placed) locks its customer's row
//! (`FOR NO KEY UPDATE`, which registrations' `FOR KEY SHARE` does not wait for) before it counts
//! the customer's subscriptions and pending orders, so that two purchases on two instances cannot
//! both pass a sandbox limit that only one of them fits; the provisioning of an order takes the
//! same lock, so that a purchase never counts between an order's line and the subscription it
//! made. An order's row is locked before the subscriptions it made (activation, cancellation,
//! provisioning), so those never wait on each other in a cycle.

use async_trait::async_trait;
use partner_center_domain::catalog::Catalog;
use partner_center_domain::purchase::{
    self, Buyer, CancelOutcome, Cart, CartOutcome, CheckoutOutcome, CustomerFacts, LineRequest,
    Order, OrderIds, OrderOutcome, OrderStatus, SubscriptionSummary,
};
use partner_center_domain::{CustomerKey, Decision, SubscriptionKey};
use partner_center_model::Timestamp;
use partner_center_model::catalog::CatalogItem;
use sqlx::Row;
use sqlx::postgres::{PgConnection, PgRow};

use super::{PostgresStore, corrupt, customer_ref, decided, parse_column, partner_row};
use crate::{Idempotency, PurchaseStore, Recorded, StoreError, codec, purchase_context};

/// The columns [`order_of`] reads, in its order.
const ORDER_COLUMNS: &str = "id, billing_cycle, status, lines, created_at, updated_at";
/// The columns [`cart_of`] reads, in its order.
const CART_COLUMNS: &str = "id, status, lines, order_ids, created_at, updated_at, expires_at";

/// The items a fixture declared (none: the built-in catalog is offered).
pub(super) async fn stored_catalog(
    conn: &mut PgConnection,
) -> Result<Vec<CatalogItem>, StoreError> {
    let texts: Vec<String> = sqlx::query_scalar("select item from catalog_items order by position")
        .fetch_all(&mut *conn)
        .await?;
    texts.iter().map(|text| codec::catalog_item(text)).collect()
}

fn order_of(row: &PgRow, customer: CustomerKey) -> Result<Order, StoreError> {
    Ok(Order {
        id: row.try_get(0)?,
        customer,
        billing_cycle: row.try_get(1)?,
        status: codec::order_status(row.try_get(2)?)?,
        lines: codec::order_lines(row.try_get(3)?)?,
        created_at: Timestamp::from_millis(row.try_get(4)?),
        updated_at: Timestamp::from_millis(row.try_get(5)?),
    })
}

fn cart_of(row: &PgRow, customer: CustomerKey) -> Result<Cart, StoreError> {
    Ok(Cart {
        id: row.try_get(0)?,
        customer,
        status: codec::cart_status(row.try_get(1)?)?,
        lines: codec::cart_lines(row.try_get(2)?)?,
        order_ids: codec::order_ids(row.try_get(3)?)?,
        created_at: Timestamp::from_millis(row.try_get(4)?),
        updated_at: Timestamp::from_millis(row.try_get(5)?),
        expires_at: Timestamp::from_millis(row.try_get(6)?),
    })
}

/// Locks a partner's customer for a purchase (see the module documentation); its row id.
async fn lock_customer(
    tx: &mut PgConnection,
    customer: CustomerKey,
) -> Result<Option<i64>, StoreError> {
    Ok(sqlx::query_scalar(
        "select id from customers where partner_tenant_id = $1 and customer_id = $2
         for no key update",
    )
    .bind(customer.partner.to_string())
    .bind(customer.customer.to_string())
    .fetch_optional(&mut *tx)
    .await?)
}

/// What purchases for the (locked) customer at `customer_ref` are checked against.
async fn load_facts(
    tx: &mut PgConnection,
    customer: CustomerKey,
    customer_ref: i64,
) -> Result<CustomerFacts, StoreError> {
    let sandbox = partner_row(tx, customer.partner, false)
        .await?
        .is_some_and(|p| p.sandbox);
    let rows = sqlx::query(
        "select subscription_id, kind, status, registration_state, quantity from subscriptions
         where customer_ref = $1",
    )
    .bind(customer_ref)
    .fetch_all(&mut *tx)
    .await?;
    let subscriptions = rows
        .iter()
        .map(|row| {
            Ok(SubscriptionSummary {
                id: parse_column(row, 0)?,
                kind: parse_column(row, 1)?,
                status: parse_column(row, 2)?,
                registration: parse_column(row, 3)?,
                quantity: u32::try_from(row.try_get::<i32, _>(4)?).map_err(corrupt)?,
            })
        })
        .collect::<Result<_, StoreError>>()?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {ORDER_COLUMNS} from orders where customer_ref = $1 and status = 'pending'"
    )))
    .bind(customer_ref)
    .fetch_all(&mut *tx)
    .await?;
    let pending_orders = rows
        .iter()
        .map(|row| order_of(row, customer))
        .collect::<Result<_, _>>()?;
    Ok(CustomerFacts {
        sandbox,
        subscriptions,
        pending_orders,
    })
}

/// The customer locked, its facts and the catalog: what every purchase decision takes.
async fn purchase_context(
    tx: &mut PgConnection,
    customer: CustomerKey,
) -> Result<Option<Context>, StoreError> {
    let Some(customer_ref) = lock_customer(tx, customer).await? else {
        return Ok(None);
    };
    Ok(Some(Context {
        customer_ref,
        facts: load_facts(tx, customer, customer_ref).await?,
        catalog: Catalog::of(stored_catalog(tx).await?),
    }))
}

/// A customer the partner has, with the catalog owned.
type Context = purchase_context::Context<Catalog>;

/// The buyer of a request that names the customer's cart `cart_id`, with the cart as found
/// (locked).
async fn cart_buyer<'a>(
    tx: &mut PgConnection,
    customer: CustomerKey,
    context: Option<&'a Context>,
    cart_id: &str,
) -> Result<Option<Buyer<'a, Option<Cart>>>, StoreError> {
    Ok(match context {
        Some(c) => {
            let found = load_cart(tx, customer, c.customer_ref, cart_id, true).await?;
            Some(c.buyer().with(found))
        }
        None => None,
    })
}

async fn load_cart(
    conn: &mut PgConnection,
    customer: CustomerKey,
    customer_ref: i64,
    cart_id: &str,
    lock: bool,
) -> Result<Option<Cart>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {CART_COLUMNS} from carts where customer_ref = $1 and id = $2{}",
        if lock { " for update" } else { "" }
    )))
    .bind(customer_ref)
    .bind(cart_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|row| cart_of(&row, customer)).transpose()
}

async fn load_order(
    conn: &mut PgConnection,
    customer: CustomerKey,
    customer_ref: i64,
    order_id: &str,
    lock: bool,
) -> Result<Option<Order>, StoreError> {
    let row = sqlx::query(sqlx::AssertSqlSafe(format!(
        "select {ORDER_COLUMNS} from orders where customer_ref = $1 and id = $2{}",
        if lock { " for update" } else { "" }
    )))
    .bind(customer_ref)
    .bind(order_id)
    .fetch_optional(&mut *conn)
    .await?;
    row.map(|row| order_of(&row, customer)).transpose()
}

/// The order that made a subscription, if an order did, its row locked.
pub(super) async fn lock_order_of_subscription(
    tx: &mut PgConnection,
    key: &SubscriptionKey,
) -> Result<Option<Order>, StoreError> {
    let row = sqlx::query(
        "select o.id, o.billing_cycle, o.status, o.lines, o.created_at, o.updated_at
         from customers c
         join subscriptions s on s.customer_ref = c.id
         join orders o on o.id = s.order_id and o.customer_ref = c.id
         where c.partner_tenant_id = $1 and c.customer_id = $2 and s.subscription_id = $3
         for update of o",
    )
    .bind(key.partner.to_string())
    .bind(key.customer.to_string())
    .bind(key.subscription.to_string())
    .fetch_optional(&mut *tx)
    .await?;
    row.map(|row| order_of(&row, key.customer_key()))
        .transpose()
}

/// Provisions one order (`customer` given: only if it is that customer's), its customer and row
/// locked: the order if this call provisioned it, and the order as it then is (`None`: there is no
/// such order).
pub(super) async fn provision_in(
    tx: &mut PgConnection,
    order_id: &str,
    customer: Option<CustomerKey>,
    now: Timestamp,
) -> Result<(Option<Order>, Option<Order>), StoreError> {
    let row: Option<(String, String)> = sqlx::query_as(
        "select c.partner_tenant_id, c.customer_id from orders o
         join customers c on c.id = o.customer_ref where o.id = $1",
    )
    .bind(order_id)
    .fetch_optional(&mut *tx)
    .await?;
    let owner = match row {
        Some((partner, customer)) => Some(CustomerKey {
            partner: partner.parse().map_err(corrupt)?,
            customer: customer.parse().map_err(corrupt)?,
        }),
        None => None,
    };
    let found = match owner.filter(|owner| customer.is_none_or(|c| c == *owner)) {
        Some(owner) => match lock_customer(tx, owner).await? {
            Some(customer_ref) => load_order(tx, owner, customer_ref, order_id, true).await?,
            None => None,
        },
        None if customer.is_some() => return Ok((None, None)),
        None => None,
    };
    let unchanged = found.clone();
    let provisioned = decided(tx, purchase::provision(found, order_id, now)).await?;
    let now_is = provisioned.clone().or(unchanged);
    Ok((provisioned, now_is))
}

impl PostgresStore {
    /// Runs a purchase decision for `customer` under the idempotency key: `decide` is given the
    /// customer's context (`None` when the partner has no such customer), and its decision is
    /// persisted.
    async fn purchase<T: crate::outcome::StoredOutcome>(
        &self,
        customer: CustomerKey,
        now: Timestamp,
        idempotency: Option<&Idempotency>,
        decide: impl AsyncFnOnce(&mut PgConnection, Option<Context>) -> Result<Decision<T>, StoreError>,
    ) -> Result<Recorded<T>, StoreError> {
        self.idempotent(customer.partner, now, idempotency, async |tx| {
            let context = purchase_context(tx, customer).await?;
            decide(tx, context).await
        })
        .await
    }
}

#[async_trait]
impl PurchaseStore for PostgresStore {
    async fn catalog(&self) -> Result<Catalog, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Ok(Catalog::of(stored_catalog(&mut conn).await?))
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
        self.purchase(customer, now, idempotency, async |_, context| {
            Ok(purchase::create_cart(
                customer,
                cart_id.to_owned(),
                lines,
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
        self.purchase(customer, now, idempotency, async |tx, context| {
            let buyer = cart_buyer(tx, customer, context.as_ref(), cart_id).await?;
            Ok(purchase::update_cart(buyer, lines, now, lifetime))
        })
        .await
    }

    async fn cart(&self, customer: CustomerKey, cart_id: &str) -> Result<Option<Cart>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        match customer_ref(&mut conn, customer.partner, customer.customer).await? {
            Some(customer_ref) => {
                load_cart(&mut conn, customer, customer_ref, cart_id, false).await
            }
            None => Ok(None),
        }
    }

    async fn checkout(
        &self,
        customer: CustomerKey,
        cart_id: &str,
        order_ids: OrderIds,
        now: Timestamp,
        idempotency: Option<&Idempotency>,
    ) -> Result<Recorded<CheckoutOutcome>, StoreError> {
        self.purchase(customer, now, idempotency, async |tx, context| {
            let buyer = cart_buyer(tx, customer, context.as_ref(), cart_id).await?;
            Ok(purchase::checkout(buyer, order_ids, now))
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
        self.purchase(customer, now, idempotency, async |_, context| {
            Ok(purchase::place_order(
                customer,
                order_id.to_owned(),
                lines,
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
        self.idempotent(customer.partner, now, idempotency, async |tx| {
            let sandbox = partner_row(tx, customer.partner, false)
                .await?
                .is_some_and(|p| p.sandbox);
            let found = match customer_ref(tx, customer.partner, customer.customer).await? {
                Some(customer_ref) => {
                    Some(load_order(tx, customer, customer_ref, order_id, true).await?)
                }
                None => None,
            };
            Ok(purchase::cancel(sandbox, found, now))
        })
        .await
    }

    async fn order(
        &self,
        customer: CustomerKey,
        order_id: &str,
    ) -> Result<Option<Order>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        match customer_ref(&mut conn, customer.partner, customer.customer).await? {
            Some(customer_ref) => {
                load_order(&mut conn, customer, customer_ref, order_id, false).await
            }
            None => Ok(None),
        }
    }

    async fn orders(&self, customer: CustomerKey) -> Result<Option<Vec<Order>>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let Some(customer_ref) =
            customer_ref(&mut conn, customer.partner, customer.customer).await?
        else {
            return Ok(None);
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "select {ORDER_COLUMNS} from orders where customer_ref = $1 order by created_at desc, id"
        )))
        .bind(customer_ref)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|row| order_of(row, customer))
            .collect::<Result<_, _>>()
            .map(Some)
    }

    async fn carts(&self, customer: CustomerKey) -> Result<Option<Vec<Cart>>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let Some(customer_ref) =
            customer_ref(&mut conn, customer.partner, customer.customer).await?
        else {
            return Ok(None);
        };
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "select {CART_COLUMNS} from carts where customer_ref = $1 order by created_at desc, id"
        )))
        .bind(customer_ref)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|row| cart_of(row, customer))
            .collect::<Result<_, _>>()
            .map(Some)
    }
}

/// How many orders there are in each status (those with none left out).
pub(super) async fn order_counts(
    conn: &mut PgConnection,
) -> Result<Vec<(OrderStatus, u64)>, StoreError> {
    let rows: Vec<(String, i64)> =
        sqlx::query_as("select status, count(*) from orders group by status")
            .fetch_all(&mut *conn)
            .await?;
    rows.into_iter()
        .map(|(status, count)| {
            Ok((
                codec::order_status(&status)?,
                u64::try_from(count).unwrap_or_default(),
            ))
        })
        .collect()
}
