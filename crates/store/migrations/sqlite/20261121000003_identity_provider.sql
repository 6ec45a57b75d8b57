-- The built-in identity provider: its signing key, generated once and kept, and the applications
-- that may obtain tokens by client credentials. Client secrets are stored hashed (PBKDF2-SHA256).

create table signing_keys (
    kid                text    primary key not null,
    algorithm          text    not null check (algorithm in ('RS256')),
    private_key_pkcs8  blob    not null,
    created_at         integer not null
) strict;

create table applications (
    partner_tenant_id  text    not null references partners (tenant_id) on delete cascade,
    client_id          text    not null,
    name               text    not null,
    secret_hash        text    not null,
    created_at         integer not null,
    updated_at         integer not null,
    primary key (partner_tenant_id, client_id)
) strict, without rowid;
