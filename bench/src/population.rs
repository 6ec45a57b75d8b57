//! The seeded population: one sandbox partner, customers of 1,000 subscriptions each, the even
//! subscriptions active Azure plans (registrable), the odd ones pending SaaS (activatable); and,
//! when asked, one large customer of its own (100,000 subscriptions by default). Inserted with SQL
//! after `partner-center migrate` created the schema: a million rows through the fixture path
//! would take minutes, and the benchmark measures serving, not seeding.

use sqlx::Connection as _;

/// The benchmark's partner.
pub const PARTNER: &str = "b1e5d2a0-0000-4000-8000-0000000000b0";
/// Subscriptions per customer.
pub const PER_CUSTOMER: u64 = 1000;

pub fn customer(n: u64) -> String {
    format!("c2f6e3b1-0000-4000-8000-{:012}", n / PER_CUSTOMER)
}

pub fn subscription(n: u64) -> String {
    format!("d3a7f4c2-0000-4000-8000-{n:012}")
}

pub fn path(n: u64, action: &str) -> String {
    format!(
        "/v1/customers/{}/subscriptions/{}/{action}",
        customer(n),
        subscription(n)
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

/// Inserts `subscriptions` subscriptions into the migrated database at `url`, the large customer
/// with `large_customer` of its own (none when 0), and `empty` customers without subscriptions.
pub async fn seed(
    url: &str,
    subscriptions: u64,
    large_customer: u64,
    empty: u64,
) -> Result<(), sqlx::Error> {
    let customers = subscriptions.div_ceil(PER_CUSTOMER);
    let large_customer = i64::try_from(large_customer).unwrap_or(i64::MAX);
    let empty = i64::try_from(empty).unwrap_or(i64::MAX);
    if url.starts_with("sqlite:") {
        let mut conn = sqlx::SqliteConnection::connect(url).await?;
        let mut tx = conn.begin().await?;
        sqlx::query("insert into partners (tenant_id, name, sandbox, created_at, updated_at) values (?1, 'Bench', 1, 0, 0)")
            .bind(PARTNER)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "with recursive c(n) as (select 0 union all select n + 1 from c where n + 1 < ?2)
             insert into customers (partner_tenant_id, customer_id, company_name, created_at, updated_at)
             select ?1, printf('c2f6e3b1-0000-4000-8000-%012d', n), 'Customer', 0, 0 from c",
        )
        .bind(PARTNER)
        .bind(i64::try_from(customers).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "with recursive s(n) as (select 0 union all select n + 1 from s where n + 1 < ?1)
             insert into subscriptions (customer_ref, subscription_id, kind, status, offer_name, created_at, updated_at)
             select (select id from customers where customer_id = printf('c2f6e3b1-0000-4000-8000-%012d', n / ?2)),
                    printf('d3a7f4c2-0000-4000-8000-%012d', n),
                    case when n % 2 = 0 then 'azurePlan' else 'saas' end,
                    case when n % 2 = 0 then 'active' else 'pending' end,
                    'Bench offer', 0, 0
             from s",
        )
        .bind(i64::try_from(subscriptions).unwrap_or(i64::MAX))
        .bind(i64::try_from(PER_CUSTOMER).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?;
        if large_customer > 0 {
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
                 select (select id from customers where customer_id = ?2),
                        printf('d3a7f4c2-0000-4000-8001-%012d', n), 'azurePlan', 'active', 'Bench offer', 0, 0
                 from s",
            )
            .bind(large_customer)
            .bind(LARGE_CUSTOMER)
            .execute(&mut *tx)
            .await?;
        }
        if empty > 0 {
            sqlx::query(
                "with recursive c(n) as (select 0 union all select n + 1 from c where n + 1 < ?2)
                 insert into customers (partner_tenant_id, customer_id, company_name, created_at, updated_at)
                 select ?1, printf('c2f6e3b1-0000-4000-8002-%012d', n), 'Empty customer', 0, 0 from c",
            )
            .bind(PARTNER)
            .bind(empty)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        sqlx::query("pragma wal_checkpoint(truncate)")
            .execute(&mut conn)
            .await?;
        conn.close().await
    } else {
        let mut conn = sqlx::PgConnection::connect(url).await?;
        let mut tx = conn.begin().await?;
        sqlx::query("insert into partners (tenant_id, name, sandbox, created_at, updated_at) values ($1, 'Bench', true, 0, 0)")
            .bind(PARTNER)
            .execute(&mut *tx)
            .await?;
        sqlx::query(
            "insert into customers (partner_tenant_id, customer_id, company_name, created_at, updated_at)
             select $1, 'c2f6e3b1-0000-4000-8000-' || lpad(n::text, 12, '0'), 'Customer', 0, 0
             from generate_series(0, $2 - 1) as n",
        )
        .bind(PARTNER)
        .bind(i64::try_from(customers).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "insert into subscriptions (customer_ref, subscription_id, kind, status, offer_name, created_at, updated_at)
             select c.id, 'd3a7f4c2-0000-4000-8000-' || lpad(n::text, 12, '0'),
                    case when n % 2 = 0 then 'azurePlan' else 'saas' end,
                    case when n % 2 = 0 then 'active' else 'pending' end,
                    'Bench offer', 0, 0
             from generate_series(0, $1 - 1) as n
             join customers c on c.customer_id = 'c2f6e3b1-0000-4000-8000-' || lpad((n / $2)::text, 12, '0')",
        )
        .bind(i64::try_from(subscriptions).unwrap_or(i64::MAX))
        .bind(i64::try_from(PER_CUSTOMER).unwrap_or(i64::MAX))
        .execute(&mut *tx)
        .await?;
        if large_customer > 0 {
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
                 from generate_series(0, $1 - 1) as n, customers c where c.customer_id = $2",
            )
            .bind(large_customer)
            .bind(LARGE_CUSTOMER)
            .execute(&mut *tx)
            .await?;
        }
        if empty > 0 {
            sqlx::query(
                "insert into customers (partner_tenant_id, customer_id, company_name, created_at, updated_at)
                 select $1, 'c2f6e3b1-0000-4000-8002-' || lpad(n::text, 12, '0'), 'Empty customer', 0, 0
                 from generate_series(0, $2 - 1) as n",
            )
            .bind(PARTNER)
            .bind(empty)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        sqlx::query("analyze").execute(&mut conn).await?;
        conn.close().await
    }
}
