-- no-transaction
-- What a partner reads of its customers and subscriptions (the customers list, a subscription's
-- offer, name, quantity and order), and what purchases add: subscriptions of kind `reservation`,
-- with the order that created them and their term. SQLite cannot change a CHECK constraint in
-- place, so `subscriptions` is rebuilt (with foreign keys off, so that nothing cascades; ids are
-- kept, so registrations still point at their subscriptions).
pragma foreign_keys = off;
begin;

create table subscriptions_rebuilt (
    id                  integer primary key,
    customer_ref        integer not null references customers (id) on delete cascade,
    subscription_id     text    not null,
    kind                text    not null
                        check (kind in ('azure', 'azurePlan', 'saas', 'license', 'reservation')),
    status              text    not null
                        check (status in ('active', 'pending', 'suspended', 'deleted', 'expired', 'disabled')),
    offer_name          text    not null,
    -- The offer or catalog item, the partner's name for it, and how many; null: the kind's default.
    offer_id            text,
    friendly_name       text,
    quantity            integer not null default 1 check (quantity >= 1),
    -- The order that created it, and its term (P1M, P1Y, P3Y), when it was bought.
    order_id            text,
    term_duration       text,
    registration_state  text    not null default 'NotRegistered'
                        check (registration_state in ('NotRegistered', 'Registering', 'Registered')),
    activated_at        integer,
    created_at          integer not null,
    updated_at          integer not null,
    unique (customer_ref, subscription_id)
) strict;
insert into subscriptions_rebuilt
    (id, customer_ref, subscription_id, kind, status, offer_name, registration_state, activated_at,
     created_at, updated_at)
    select id, customer_ref, subscription_id, kind, status, offer_name, registration_state, activated_at,
           created_at, updated_at
    from subscriptions;
drop table subscriptions;
alter table subscriptions_rebuilt rename to subscriptions;
create index subscriptions_by_order on subscriptions (customer_ref, order_id) where order_id is not null;

-- A customer's domain, when it was given one (else it is derived from the company name).
alter table customers add column domain text;
-- The customers list pages a partner's customers in the order they were added (row id).
create index customers_by_partner on customers (partner_tenant_id);

-- Keys the service keeps for itself (the one that signs continuation tokens), made once.
create table service_keys (
    name        text    primary key not null,
    key         blob    not null,
    created_at  integer not null
) strict, without rowid;

commit;
pragma foreign_keys = on;
