//! The seeded populations, inserted with SQL after `partner-center migrate` created the schema (a
//! million rows through the fixture path would take minutes, and the benchmark measures serving,
//! not seeding):
//!
//! - the benchmark's sandbox partner, with customers of 1,000 subscriptions each, the even
//!   subscriptions active Azure plans (registrable), the odd ones pending SaaS (activatable); their
//!   GUIDs either patterned (`...-000000000001`) or random (version-4 GUIDs derived from a
//!   SplitMix64 of the subscription's number, so that a path is recomputed, never stored); and,
//!   when asked, one large customer of its own (100,000 subscriptions by default) and customers
//!   without subscriptions (so that the customers list has 10,000 to page through);
//! - the buying partner (a sandbox partner too), with customers of one registered Azure plan each:
//!   the sandbox limits allow a customer 2 reservation instances, so each purchase of the benchmark
//!   is on a customer of its own.

use sqlx::Connection as _;

/// The benchmark's partner.
pub const PARTNER: &str = "b1e5d2a0-0000-4000-8000-0000000000b0";
/// Subscriptions per customer.
pub const PER_CUSTOMER: u64 = 1000;
/// Customer `k`'s patterned id is this and `k` in 12 digits.
pub const CUSTOMER_PREFIX: &str = "c2f6e3b1-0000-4000-8000-";
/// Subscription `n`'s patterned id is this and `n` in 12 digits.
pub const SUBSCRIPTION_PREFIX: &str = "d3a7f4c2-0000-4000-8000-";

/// How the GUIDs of a population look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guids {
    /// `c2f6e3b1-0000-4000-8000-000000000001`: sorted as they are numbered.
    Patterned,
    /// Version-4 GUIDs in no order, as Partner Center's are.
    Random,
}

impl Guids {
    pub const fn label(self) -> &'static str {
        match self {
            Self::Patterned => "patterned GUIDs",
            Self::Random => "random GUIDs",
        }
    }

    /// Customer `k`'s id.
    pub fn customer(self, k: u64) -> String {
        match self {
            Self::Patterned => format!("{CUSTOMER_PREFIX}{k:012}"),
            Self::Random => random_guid(0xC0, k),
        }
    }

    /// Subscription `n`'s id (it belongs to customer `n / PER_CUSTOMER`).
    pub fn subscription(self, n: u64) -> String {
        match self {
            Self::Patterned => format!("{SUBSCRIPTION_PREFIX}{n:012}"),
            Self::Random => random_guid(0x5B, n),
        }
    }

    /// The path of `action` on subscription `n`.
    pub fn path(self, n: u64, action: &str) -> String {
        format!(
            "/v1/customers/{}/subscriptions/{}/{action}",
            self.customer(n / PER_CUSTOMER),
            self.subscription(n)
        )
    }
}

/// The path of `action` on (patterned) subscription `n`.
pub fn path(n: u64, action: &str) -> String {
    Guids::Patterned.path(n, action)
}

/// A pseudo-random, well-spread number for `n` (SplitMix64).
pub const fn spread(n: u64) -> u64 {
    let mut z = n.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// The POSTs of one kind, whose `MS-RequestId`s come from a space of their own (see
/// [`request_id`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Posts {
    Register = 1,
    Activate = 2,
    Replay = 3,
    Cart = 4,
    Checkout = 5,
    Order = 6,
}

impl Posts {
    /// The space its request ids are drawn from ([`random_guid`]'s salt): apart from the
    /// customers' and the subscriptions'.
    pub const fn salt(self) -> u64 {
        0x80 | self as u64
    }
}

/// The `MS-RequestId` of POST `n` of its kind: a random (version 4) GUID, as Partner Center's
/// SDKs send (a new GUID per request), recomputed from its number. Random ids spread the
/// idempotency records over their index, as real clients' do; numbered ones would all land at
/// its end. wrk's scripts compute the same (`wrk::PRELUDE`'s `request_id`).
pub fn request_id(posts: Posts, n: u64) -> String {
    random_guid(posts.salt(), n)
}

/// A version-4 GUID of `n` in the space `salt` (customers and subscriptions differ).
fn random_guid(salt: u64, n: u64) -> String {
    let high = spread((salt << 56) ^ n.wrapping_mul(2));
    let low = spread((salt << 56) ^ n.wrapping_mul(2).wrapping_add(1));
    let high = (high & !0xF000) | 0x4000; // version 4
    let low = (low & !(0xC << 60)) | (0x8 << 60); // RFC 4122 variant
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        high >> 32,
        (high >> 16) & 0xFFFF,
        high & 0xFFFF,
        low >> 48,
        low & 0xFFFF_FFFF_FFFF
    )
}

/// The large customer (its ids differ from the ordinary ones in the fourth group).
pub const LARGE_CUSTOMER: &str = "c2f6e3b1-0000-4000-8001-000000000000";

/// Subscription `n` of the large customer.
pub fn large_path(n: u64, action: &str) -> String {
    format!("/v1/customers/{LARGE_CUSTOMER}/subscriptions/d3a7f4c2-0000-4000-8001-{n:012}/{action}")
}

/// Customers without subscriptions added to the large population, so that the customers list has
/// 10,000 customers to page through.
pub const EMPTY_CUSTOMERS: u64 = 9_000;

/// The buying partner.
pub const BUYER: &str = "b1e5d2a0-0000-4000-8000-0000000000b1";
/// Buyer `b`'s customer id is this and `b` in 12 digits.
pub const BUYER_CUSTOMER_PREFIX: &str = "c2f6e3b1-0000-4000-8003-";
/// Buyer `b`'s registered Azure plan is this and `b` in 12 digits.
pub const BUYER_SUBSCRIPTION_PREFIX: &str = "d3a7f4c2-0000-4000-8003-";

/// Buyer `b`'s customer id.
pub fn buyer_customer(b: u64) -> String {
    format!("{BUYER_CUSTOMER_PREFIX}{b:012}")
}

/// Buyer `b`'s registered Azure plan.
pub fn buyer_subscription(b: u64) -> String {
    format!("{BUYER_SUBSCRIPTION_PREFIX}{b:012}")
}

/// A Standard_B1s reservation in eastus, of the built-in catalog.
pub const RESERVATION: &str = "DZH318Z0BQ36:0048:DZH318Z08C0T";

/// The body of a cart of one reservation on `subscription`.
pub fn cart_body(subscription: &str) -> String {
    format!(
        r#"{{"lineItems":[{{"id":0,"catalogItemId":"{RESERVATION}","quantity":1,"billingCycle":"one_time","termDuration":"P1Y","provisioningContext":{{"subscriptionId":"{subscription}","scope":"shared","duration":"1Year"}}}}]}}"#
    )
}

/// The body of a direct order of one reservation on `subscription`.
pub fn order_body(subscription: &str) -> String {
    format!(
        r#"{{"billingCycle":"one_time","lineItems":[{{"lineItemNumber":0,"offerId":"{RESERVATION}","quantity":1,"provisioningContext":{{"subscriptionId":"{subscription}","scope":"single"}}}}]}}"#
    )
}

/// What one database holds.
#[derive(Debug, Clone, Copy)]
pub struct Population {
    /// The benchmark partner's subscriptions, in customers of [`PER_CUSTOMER`].
    pub subscriptions: u64,
    pub guids: Guids,
    /// Subscriptions of the large customer (none when 0).
    pub large_customer: u64,
    /// Customers without subscriptions.
    pub empty: u64,
    /// Customers of the buying partner (none when 0).
    pub buyers: u64,
}

impl Population {
    pub const fn of(subscriptions: u64, guids: Guids) -> Self {
        Self {
            subscriptions,
            guids,
            large_customer: 0,
            empty: 0,
            buyers: 0,
        }
    }
}

fn int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// Inserts `population` into the migrated database at `url`.
pub async fn seed(url: &str, population: &Population) -> Result<(), sqlx::Error> {
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await?;
        let mut tx = conn.begin().await?;
        seed_sqlite(&mut tx, population).await?;
        tx.commit().await?;
        sqlx::query("pragma wal_checkpoint(truncate)")
            .execute(&mut conn)
            .await?;
        conn.close().await
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await?;
        let mut tx = conn.begin().await?;
        seed_postgres(&mut tx, population).await?;
        tx.commit().await?;
        // As `pgbench -i` does for its ceiling's tables: statistics, hint bits and the visibility
        // map set now, not by the first reads of the measured runs. Only the seeded tables: the
        // others stay as a fresh deployment has them, never analysed. An empty table analysed as
        // empty gets plans for a one-page table, and the plan of each foreign-key check into it
        // (an order's job into `orders`) is kept by each backend for its life: a
        // sequential scan, which a table growing by thousands of rows a second makes slower with
        // every write until autovacuum analyses it again (docs/operations.md).
        sqlx::query("vacuum analyze partners, customers, subscriptions")
            .execute(&mut conn)
            .await?;
        crate::pgbench::checkpoint(&mut conn).await;
        conn.close().await
    }
}

async fn seed_sqlite(
    tx: &mut sqlx::SqliteConnection,
    population: &Population,
) -> Result<(), sqlx::Error> {
    let customers = population.subscriptions.div_ceil(PER_CUSTOMER);
    sqlx::query("insert into partners (tenant_id, name, sandbox, created_at, updated_at) values (?1, 'Bench', 1, 0, 0)")
        .bind(PARTNER)
        .execute(&mut *tx)
        .await?;
    match population.guids {
        Guids::Patterned => {
            sqlx::query(
                "with recursive c(n) as (select 0 union all select n + 1 from c where n + 1 < ?2)
                 insert into customers (partner_tenant_id, customer_id, company_name, created_at, updated_at)
                 select ?1, printf('c2f6e3b1-0000-4000-8000-%012d', n), 'Customer', 0, 0 from c",
            )
            .bind(PARTNER)
            .bind(int(customers))
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "with recursive s(n) as (select 0 union all select n + 1 from s where n + 1 < ?1)
                 insert into subscriptions (customer_ref, subscription_id, kind, status, offer_name, created_at, updated_at)
                 select (select id from customers
                         where partner_tenant_id = ?3 and customer_id = printf('c2f6e3b1-0000-4000-8000-%012d', n / ?2)),
                        printf('d3a7f4c2-0000-4000-8000-%012d', n),
                        case when n % 2 = 0 then 'azurePlan' else 'saas' end,
                        case when n % 2 = 0 then 'active' else 'pending' end,
                        'Bench offer', 0, 0
                 from s",
            )
            .bind(int(population.subscriptions))
            .bind(int(PER_CUSTOMER))
            .bind(PARTNER)
            .execute(&mut *tx)
            .await?;
        }
        Guids::Random => {
            // One customer at a time: its row, then its subscriptions from a JSON array of their
            // ids (`key` is the position in it; customers start at an even number, so its parity
            // is the subscription's).
            for k in 0..customers {
                let (id,): (i64,) = sqlx::query_as(
                    "insert into customers (partner_tenant_id, customer_id, company_name, created_at, updated_at)
                     values (?1, ?2, 'Customer', 0, 0) returning id",
                )
                .bind(PARTNER)
                .bind(Guids::Random.customer(k))
                .fetch_one(&mut *tx)
                .await?;
                sqlx::query(
                    "insert into subscriptions (customer_ref, subscription_id, kind, status, offer_name, created_at, updated_at)
                     select ?1, value,
                            case when key % 2 = 0 then 'azurePlan' else 'saas' end,
                            case when key % 2 = 0 then 'active' else 'pending' end,
                            'Bench offer', 0, 0
                     from json_each(?2)",
                )
                .bind(id)
                .bind(serde_json::to_string(&customer_subscriptions(population, k))
                    .unwrap_or_default())
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    if population.large_customer > 0 {
        sqlx::query(
            "insert into customers (partner_tenant_id, customer_id, company_name, created_at, updated_at)
             values (?1, ?2, 'Large customer', 0, 0)",
        )
        .bind(PARTNER)
        .bind(LARGE_CUSTOMER)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "with recursive s(n) as (select 0 union all select n + 1 from s where n + 1 < ?1)
             insert into subscriptions (customer_ref, subscription_id, kind, status, offer_name, created_at, updated_at)
             select (select id from customers where partner_tenant_id = ?3 and customer_id = ?2),
                    printf('d3a7f4c2-0000-4000-8001-%012d', n), 'azurePlan', 'active', 'Bench offer', 0, 0
             from s",
        )
        .bind(int(population.large_customer))
        .bind(LARGE_CUSTOMER)
        .bind(PARTNER)
        .execute(&mut *tx)
        .await?;
    }
    if population.empty > 0 {
        sqlx::query(
            "with recursive c(n) as (select 0 union all select n + 1 from c where n + 1 < ?2)
             insert into customers (partner_tenant_id, customer_id, company_name, created_at, updated_at)
             select ?1, printf('c2f6e3b1-0000-4000-8002-%012d', n), 'Empty customer', 0, 0 from c",
        )
        .bind(PARTNER)
        .bind(int(population.empty))
        .execute(&mut *tx)
        .await?;
    }
    if population.buyers > 0 {
        sqlx::query("insert into partners (tenant_id, name, sandbox, created_at, updated_at) values (?1, 'Bench buyer', 1, 0, 0)")
            .bind(BUYER)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "with recursive c(n) as (select 0 union all select n + 1 from c where n + 1 < ?2)
             insert into customers (partner_tenant_id, customer_id, company_name, created_at, updated_at)
             select ?1, ?3 || printf('%012d', n), 'Buyer', 0, 0 from c",
        )
        .bind(BUYER)
        .bind(int(population.buyers))
        .bind(BUYER_CUSTOMER_PREFIX)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "with recursive s(n) as (select 0 union all select n + 1 from s where n + 1 < ?1)
             insert into subscriptions (customer_ref, subscription_id, kind, status, offer_name, registration_state, created_at, updated_at)
             select (select id from customers where partner_tenant_id = ?2 and customer_id = ?3 || printf('%012d', n)),
                    ?4 || printf('%012d', n), 'azurePlan', 'active', 'Bench offer', 'Registered', 0, 0
             from s",
        )
        .bind(int(population.buyers))
        .bind(BUYER)
        .bind(BUYER_CUSTOMER_PREFIX)
        .bind(BUYER_SUBSCRIPTION_PREFIX)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

/// The ids of customer `k`'s subscriptions.
fn customer_subscriptions(population: &Population, k: u64) -> Vec<String> {
    let first = k * PER_CUSTOMER;
    let last = (first + PER_CUSTOMER).min(population.subscriptions);
    (first..last)
        .map(|n| population.guids.subscription(n))
        .collect()
}

async fn seed_postgres(
    tx: &mut sqlx::PgConnection,
    population: &Population,
) -> Result<(), sqlx::Error> {
    let customers = population.subscriptions.div_ceil(PER_CUSTOMER);
    sqlx::query("insert into partners (tenant_id, name, sandbox, created_at, updated_at) values ($1, 'Bench', true, 0, 0)")
        .bind(PARTNER)
        .execute(&mut *tx)
        .await?;
    match population.guids {
        Guids::Patterned => {
            sqlx::query(
                "insert into customers (partner_tenant_id, customer_id, company_name, created_at, updated_at)
                 select $1, 'c2f6e3b1-0000-4000-8000-' || lpad(n::text, 12, '0'), 'Customer', 0, 0
                 from generate_series(0, $2 - 1) as n",
            )
            .bind(PARTNER)
            .bind(int(customers))
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "insert into subscriptions (customer_ref, subscription_id, kind, status, offer_name, created_at, updated_at)
                 select c.id, 'd3a7f4c2-0000-4000-8000-' || lpad(n::text, 12, '0'),
                        case when n % 2 = 0 then 'azurePlan' else 'saas' end,
                        case when n % 2 = 0 then 'active' else 'pending' end,
                        'Bench offer', 0, 0
                 from generate_series(0, $1 - 1) as n
                 join customers c on c.partner_tenant_id = $3
                  and c.customer_id = 'c2f6e3b1-0000-4000-8000-' || lpad((n / $2)::text, 12, '0')",
            )
            .bind(int(population.subscriptions))
            .bind(int(PER_CUSTOMER))
            .bind(PARTNER)
            .execute(&mut *tx)
            .await?;
        }
        Guids::Random => {
            for k in 0..customers {
                let (id,): (i64,) = sqlx::query_as(
                    "insert into customers (partner_tenant_id, customer_id, company_name, created_at, updated_at)
                     values ($1, $2, 'Customer', 0, 0) returning id",
                )
                .bind(PARTNER)
                .bind(Guids::Random.customer(k))
                .fetch_one(&mut *tx)
                .await?;
                sqlx::query(
                    "insert into subscriptions (customer_ref, subscription_id, kind, status, offer_name, created_at, updated_at)
                     select $1, s.id,
                            case when s.position % 2 = 1 then 'azurePlan' else 'saas' end,
                            case when s.position % 2 = 1 then 'active' else 'pending' end,
                            'Bench offer', 0, 0
                     from unnest($2::text[]) with ordinality as s(id, position)",
                )
                .bind(id)
                .bind(customer_subscriptions(population, k))
                .execute(&mut *tx)
                .await?;
            }
        }
    }
    if population.large_customer > 0 {
        sqlx::query(
            "insert into customers (partner_tenant_id, customer_id, company_name, created_at, updated_at)
             values ($1, $2, 'Large customer', 0, 0)",
        )
        .bind(PARTNER)
        .bind(LARGE_CUSTOMER)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "insert into subscriptions (customer_ref, subscription_id, kind, status, offer_name, created_at, updated_at)
             select c.id, 'd3a7f4c2-0000-4000-8001-' || lpad(n::text, 12, '0'), 'azurePlan', 'active', 'Bench offer', 0, 0
             from generate_series(0, $1 - 1) as n, customers c
             where c.partner_tenant_id = $3 and c.customer_id = $2",
        )
        .bind(int(population.large_customer))
        .bind(LARGE_CUSTOMER)
        .bind(PARTNER)
        .execute(&mut *tx)
        .await?;
    }
    if population.empty > 0 {
        sqlx::query(
            "insert into customers (partner_tenant_id, customer_id, company_name, created_at, updated_at)
             select $1, 'c2f6e3b1-0000-4000-8002-' || lpad(n::text, 12, '0'), 'Empty customer', 0, 0
             from generate_series(0, $2 - 1) as n",
        )
        .bind(PARTNER)
        .bind(int(population.empty))
        .execute(&mut *tx)
        .await?;
    }
    if population.buyers > 0 {
        sqlx::query("insert into partners (tenant_id, name, sandbox, created_at, updated_at) values ($1, 'Bench buyer', true, 0, 0)")
            .bind(BUYER)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "insert into customers (partner_tenant_id, customer_id, company_name, created_at, updated_at)
             select $1, $3 || lpad(n::text, 12, '0'), 'Buyer', 0, 0
             from generate_series(0, $2 - 1) as n",
        )
        .bind(BUYER)
        .bind(int(population.buyers))
        .bind(BUYER_CUSTOMER_PREFIX)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "insert into subscriptions (customer_ref, subscription_id, kind, status, offer_name, registration_state, created_at, updated_at)
             select c.id, $4 || lpad(n::text, 12, '0'), 'azurePlan', 'active', 'Bench offer', 'Registered', 0, 0
             from generate_series(0, $1 - 1) as n
             join customers c on c.partner_tenant_id = $2 and c.customer_id = $3 || lpad(n::text, 12, '0')",
        )
        .bind(int(population.buyers))
        .bind(BUYER)
        .bind(BUYER_CUSTOMER_PREFIX)
        .bind(BUYER_SUBSCRIPTION_PREFIX)
        .execute(&mut *tx)
        .await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_guids_are_version_4_distinct_and_recomputable() {
        let a = Guids::Random.subscription(1);
        assert_eq!(a, Guids::Random.subscription(1));
        assert_ne!(a, Guids::Random.subscription(2));
        assert_ne!(a, Guids::Random.customer(1));
        let id: Vec<char> = a.chars().collect();
        assert_eq!(id.len(), 36);
        assert_eq!(id[14], '4', "{a}");
        assert!(matches!(id[19], '8' | '9' | 'a' | 'b'), "{a}");
        let request = request_id(Posts::Register, 7);
        // What wrk's `request_id(129, 7)` printed (docs/benchmark-history.md, 2026-12-07 evening).
        assert_eq!(request, "42ff4046-c26f-4eac-a906-182c39e25da4");
        assert_ne!(request, request_id(Posts::Activate, 7));
        assert_ne!(request, request_id(Posts::Register, 8));
        assert_eq!(
            Guids::Patterned.path(1001, "registrationstatus"),
            "/v1/customers/c2f6e3b1-0000-4000-8000-000000000001/subscriptions/d3a7f4c2-0000-4000-8000-000000001001/registrationstatus"
        );
    }
}
