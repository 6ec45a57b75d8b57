-- Buying: the catalog a fixture declares, carts, orders, and the durable queue of orders to
-- provision. A cart's and an order's lines are read and written whole with them, so they are kept
-- as JSON (the store's own encoding of the domain's lines); what is queried (an order's status,
-- the order a subscription came from) has columns of its own.

-- The catalog, in order; empty: the service offers its built-in sandbox catalog.
create table catalog_items (
    position  integer primary key,
    id        text    not null unique,
    item      text    not null
) strict;

create table carts (
    id            text    primary key not null,
    customer_ref  integer not null references customers (id) on delete cascade,
    status        text    not null check (status in ('Active', 'Ordered')),
    lines         text    not null,
    order_ids     text    not null default '[]',
    created_at    integer not null,
    updated_at    integer not null,
    expires_at    integer not null
) strict;
create index carts_by_customer on carts (customer_ref);

create table orders (
    id             text    primary key not null,
    customer_ref   integer not null references customers (id) on delete cascade,
    billing_cycle  text    not null,
    status         text    not null check (status in ('pending', 'completed', 'cancelled')),
    lines          text    not null,
    created_at     integer not null,
    updated_at     integer not null
) strict;
create index orders_by_customer on orders (customer_ref, status);

-- The worker's queue of orders to provision; a claim sets `lease_until`, as for registrations.
create table order_jobs (
    order_ref    text    primary key not null references orders (id) on delete cascade,
    enqueued_at  integer not null,
    lease_until  integer,
    attempts     integer not null default 0
) strict;
create index order_jobs_by_enqueued_at on order_jobs (enqueued_at);
