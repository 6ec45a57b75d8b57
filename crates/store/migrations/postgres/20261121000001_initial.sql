-- The PostgreSQL schema, equivalent to the SQLite one (see migrations/sqlite/): partners, customers,
-- subscriptions, registrations and their durable queue, idempotency records, and the identity
-- provider's key and applications. Times are bigint milliseconds since the Unix epoch (UTC); ids are
-- lower-case hyphenated GUIDs as text. Migrations are append-only: never edit one that has shipped.

create table partners (
    tenant_id   text    primary key,
    name        text    not null,
    sandbox     boolean not null,
    created_at  bigint  not null,
    updated_at  bigint  not null
);

create table customers (
    id                 bigint generated always as identity primary key,
    partner_tenant_id  text   not null references partners (tenant_id) on delete cascade,
    customer_id        text   not null,
    company_name       text   not null,
    created_at         bigint not null,
    updated_at         bigint not null,
    unique (partner_tenant_id, customer_id)
);

create table subscriptions (
    id                  bigint generated always as identity primary key,
    customer_ref        bigint not null references customers (id) on delete cascade,
    subscription_id     text   not null,
    kind                text   not null check (kind in ('azure', 'azurePlan', 'saas', 'license')),
    status              text   not null
                        check (status in ('active', 'pending', 'suspended', 'deleted', 'expired', 'disabled')),
    offer_name          text   not null,
    registration_state  text   not null default 'NotRegistered'
                        check (registration_state in ('NotRegistered', 'Registering', 'Registered')),
    activated_at        bigint,
    created_at          bigint not null,
    updated_at          bigint not null,
    unique (customer_ref, subscription_id)
);

create table registrations (
    id                bigint generated always as identity primary key,
    subscription_ref  bigint not null references subscriptions (id) on delete cascade,
    state             text   not null check (state in ('Registering', 'Registered')),
    requested_at      bigint not null,
    completed_at      bigint
);

create unique index registrations_one_in_progress
    on registrations (subscription_ref) where state = 'Registering';
create index registrations_by_subscription on registrations (subscription_ref);

-- The worker's queue. Instances claim rows with FOR UPDATE SKIP LOCKED and a lease; a lease that has
-- passed (its holder died) makes the row claimable again.
create table registration_jobs (
    registration_ref  bigint primary key references registrations (id) on delete cascade,
    enqueued_at       bigint not null,
    lease_until       bigint,
    attempts          integer not null default 0
);

create index registration_jobs_by_enqueued_at on registration_jobs (enqueued_at);

create table idempotency_records (
    partner_tenant_id  text   not null,
    request_id         text   not null,
    method             text   not null,
    path               text   not null,
    -- Empty while the first request is in progress (never visible once committed).
    outcome            text   not null,
    created_at         bigint not null,
    expires_at         bigint not null,
    primary key (partner_tenant_id, request_id, method, path)
);

create index idempotency_records_by_expiry on idempotency_records (expires_at);

-- One signing key: the slot makes the first instance to store one win.
create table signing_keys (
    slot               smallint primary key default 1 check (slot = 1),
    kid                text     not null,
    algorithm          text     not null check (algorithm in ('RS256')),
    private_key_pkcs8  bytea    not null,
    created_at         bigint   not null
);

create table applications (
    partner_tenant_id  text   not null references partners (tenant_id) on delete cascade,
    client_id          text   not null,
    name               text   not null,
    secret_hash        text   not null,
    created_at         bigint not null,
    updated_at         bigint not null,
    primary key (partner_tenant_id, client_id)
);
