-- Outcomes of POSTs that carried an MS-RequestId, kept for the retention window so that a repeat gets
-- the first outcome without a second effect. The key is (partner tenant, request id, method,
-- normalised path); `outcome` is the store's encoding of what the first request did. A record is
-- written in the same transaction as the effect it records.

create table idempotency_records (
    partner_tenant_id  text    not null,
    request_id         text    not null,
    method             text    not null,
    path               text    not null,
    outcome            text    not null,
    created_at         integer not null,
    expires_at         integer not null,
    primary key (partner_tenant_id, request_id, method, path)
) strict, without rowid;

create index idempotency_records_by_expiry on idempotency_records (expires_at);
