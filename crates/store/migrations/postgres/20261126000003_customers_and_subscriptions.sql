-- What a partner reads of its customers and subscriptions (the customers list, a subscription's
-- offer, name, quantity and order), and what purchases add: subscriptions of kind `reservation`,
-- with the order that created them and their term. See migrations/sqlite/ for the same schema.

alter table subscriptions drop constraint subscriptions_kind_check;
alter table subscriptions add constraint subscriptions_kind_check
    check (kind in ('azure', 'azurePlan', 'saas', 'license', 'reservation'));
-- The offer or catalog item, the partner's name for it, and how many; null: the kind's default.
-- The order that created it, and its term (P1M, P1Y, P3Y), when it was bought.
alter table subscriptions
    add column offer_id text,
    add column friendly_name text,
    add column quantity integer not null default 1 check (quantity >= 1),
    add column order_id text,
    add column term_duration text;
create index subscriptions_by_order on subscriptions (customer_ref, order_id) where order_id is not null;

-- A customer's domain, when it was given one (else it is derived from the company name).
alter table customers add column domain text;
-- The customers list pages a partner's customers in the order they were added.
create index customers_by_partner on customers (partner_tenant_id, id);

-- Keys the service keeps for itself (the one that signs continuation tokens), made once.
create table service_keys (
    name        text   primary key,
    key         bytea  not null,
    created_at  bigint not null
);
