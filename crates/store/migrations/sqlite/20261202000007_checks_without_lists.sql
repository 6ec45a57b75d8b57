-- no-transaction
-- Cheaper writes, the same rows allowed:
-- - SQLite checks `x in ('a', 'b', 'c')` (a list of more than two) by building a temporary index
--   of the list every time a statement checks it: every registration, settlement and purchase.
--   The same checks written as `x = 'a' or x = 'b' or ...` compare in place.
-- - `registrations_one_in_progress` (at most one registration in progress per subscription) cost
--   an index page written at every registration and at every settlement. The registration
--   decision refuses a second one (`partner_center_domain::registration`), and on SQLite it is
--   taken in the one writer's transaction, where nothing can race it; PostgreSQL, where several
--   instances write, keeps its index.
-- SQLite cannot change a CHECK constraint in place, so the three tables are rebuilt (with foreign
-- keys off, so that nothing cascades; ids are kept, so references still hold).
pragma foreign_keys = off;
begin;

create table subscriptions_rebuilt (
    id                  integer primary key,
    customer_ref        integer not null references customers (id) on delete cascade,
    subscription_id     text    not null,
    kind                text    not null
                        check (kind = 'azure' or kind = 'azurePlan' or kind = 'saas'
                               or kind = 'license' or kind = 'reservation'),
    status              text    not null
                        check (status = 'active' or status = 'pending' or status = 'suspended'
                               or status = 'deleted' or status = 'expired' or status = 'disabled'),
    offer_name          text    not null,
    -- The offer or catalog item, the partner's name for it, and how many; null: the kind's default.
    offer_id            text,
    friendly_name       text,
    quantity            integer not null default 1 check (quantity >= 1),
    -- The order that created it, and its term (P1M, P1Y, P3Y), when it was bought.
    order_id            text,
    term_duration       text,
    registration_state  text    not null default 'NotRegistered'
                        check (registration_state = 'NotRegistered'
                               or registration_state = 'Registering'
                               or registration_state = 'Registered'),
    activated_at        integer,
    created_at          integer not null,
    updated_at          integer not null,
    unique (customer_ref, subscription_id)
) strict;
insert into subscriptions_rebuilt
    (id, customer_ref, subscription_id, kind, status, offer_name, offer_id, friendly_name, quantity,
     order_id, term_duration, registration_state, activated_at, created_at, updated_at)
    select id, customer_ref, subscription_id, kind, status, offer_name, offer_id, friendly_name,
           quantity, order_id, term_duration, registration_state, activated_at, created_at,
           updated_at
    from subscriptions;
drop table subscriptions;
alter table subscriptions_rebuilt rename to subscriptions;
create index subscriptions_by_order on subscriptions (customer_ref, order_id) where order_id is not null;

create table registrations_rebuilt (
    id                integer primary key,
    subscription_ref  integer not null references subscriptions (id) on delete cascade,
    state             text    not null
                      check (state = 'Registering' or state = 'Registered' or state = 'Failed'),
    requested_at      integer not null,
    completed_at      integer
) strict;
insert into registrations_rebuilt (id, subscription_ref, state, requested_at, completed_at)
    select id, subscription_ref, state, requested_at, completed_at from registrations;
drop table registrations;
alter table registrations_rebuilt rename to registrations;
create index registrations_by_subscription on registrations (subscription_ref);

create table orders_rebuilt (
    id             text    primary key not null,
    customer_ref   integer not null references customers (id) on delete cascade,
    billing_cycle  text    not null,
    status         text    not null
                   check (status = 'pending' or status = 'completed' or status = 'cancelled'),
    lines          text    not null,
    created_at     integer not null,
    updated_at     integer not null
) strict;
insert into orders_rebuilt (id, customer_ref, billing_cycle, status, lines, created_at, updated_at)
    select id, customer_ref, billing_cycle, status, lines, created_at, updated_at from orders;
drop table orders;
alter table orders_rebuilt rename to orders;
create index orders_by_customer on orders (customer_ref, status);

commit;
pragma foreign_keys = on;
