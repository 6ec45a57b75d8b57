-- The partner's world: partners (by Entra tenant), their customers and the customers' subscriptions,
-- each subscription's registrations for Reserved Instance purchase, and the durable queue of work for
-- the registration worker. Times are integer milliseconds since the Unix epoch (UTC); ids are
-- lower-case hyphenated GUIDs. Migrations are append-only: never edit one that has shipped.

create table partners (
    tenant_id   text    primary key not null,
    name        text    not null,
    sandbox     integer not null check (sandbox in (0, 1)),
    created_at  integer not null,
    updated_at  integer not null
) strict;

create table customers (
    id                 integer primary key,
    partner_tenant_id  text    not null references partners (tenant_id) on delete cascade,
    customer_id        text    not null,
    company_name       text    not null,
    created_at         integer not null,
    updated_at         integer not null,
    -- A customer may have several partners; each partner sees only its own relationship.
    unique (partner_tenant_id, customer_id)
) strict;

create table subscriptions (
    id                  integer primary key,
    customer_ref        integer not null references customers (id) on delete cascade,
    subscription_id     text    not null,
    kind                text    not null check (kind in ('azure', 'azurePlan', 'saas', 'license')),
    status              text    not null
                        check (status in ('active', 'pending', 'suspended', 'deleted', 'expired', 'disabled')),
    offer_name          text    not null,
    registration_state  text    not null default 'NotRegistered'
                        check (registration_state in ('NotRegistered', 'Registering', 'Registered')),
    activated_at        integer,
    created_at          integer not null,
    updated_at          integer not null,
    unique (customer_ref, subscription_id)
) strict;

-- One row per accepted registration: its history, with timestamps.
create table registrations (
    id                integer primary key,
    subscription_ref  integer not null references subscriptions (id) on delete cascade,
    state             text    not null check (state in ('Registering', 'Registered')),
    requested_at      integer not null,
    completed_at      integer
) strict;

-- At most one registration of a subscription is in progress at any time.
create unique index registrations_one_in_progress
    on registrations (subscription_ref) where state = 'Registering';
create index registrations_by_subscription on registrations (subscription_ref);

-- The worker's queue: one row per registration still to complete. A claim sets `lease_until`; a
-- claim whose lease has passed may be taken again (work is at-least-once, completion is idempotent).
create table registration_jobs (
    registration_ref  integer primary key references registrations (id) on delete cascade,
    enqueued_at       integer not null,
    lease_until       integer,
    attempts          integer not null default 0
) strict;

create index registration_jobs_by_enqueued_at on registration_jobs (enqueued_at);
