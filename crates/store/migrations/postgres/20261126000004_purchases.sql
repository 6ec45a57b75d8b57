-- Buying: the catalog a fixture declares, carts, orders, and the durable queue of orders to
-- provision. See migrations/sqlite/ for the same schema.

create table catalog_items (
    position  bigint primary key,
    id        text   not null unique,
    item      text   not null
);

create table carts (
    id            text   primary key,
    customer_ref  bigint not null references customers (id) on delete cascade,
    status        text   not null check (status in ('Active', 'Ordered')),
    lines         text   not null,
    order_ids     text   not null default '[]',
    created_at    bigint not null,
    updated_at    bigint not null,
    expires_at    bigint not null
);
create index carts_by_customer on carts (customer_ref);

create table orders (
    id             text   primary key,
    customer_ref   bigint not null references customers (id) on delete cascade,
    billing_cycle  text   not null,
    status         text   not null check (status in ('pending', 'completed', 'cancelled')),
    lines          text   not null,
    created_at     bigint not null,
    updated_at     bigint not null
);
create index orders_by_customer on orders (customer_ref, status);

create table order_jobs (
    order_ref    text    primary key references orders (id) on delete cascade,
    enqueued_at  bigint  not null,
    lease_until  bigint,
    attempts     integer not null default 0
);
create index order_jobs_by_enqueued_at on order_jobs (enqueued_at);
