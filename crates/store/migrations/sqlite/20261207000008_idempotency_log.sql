-- Idempotency records in the order they come: a rowid table, appended to, where the writer finds a
-- record through an index it keeps in memory (src/sqlite/idempotency.rs). Keyed by partner and
-- request id, as before, each record went into a random leaf of a B-tree many times the writer's
-- page cache once request ids are random GUIDs, as Partner Center's SDKs send them: every POST
-- read a page, dirtied it and wrote it to the WAL again.
create table idempotency_log (
    id                 integer primary key,
    partner_tenant_id  text    not null,
    request_id         text    not null,
    method             text    not null,
    path               text    not null,
    outcome            text    not null,
    created_at         integer not null,
    expires_at         integer not null
) strict;

insert into idempotency_log
    (partner_tenant_id, request_id, method, path, outcome, created_at, expires_at)
select partner_tenant_id, request_id, method, path, outcome, created_at, expires_at
  from idempotency_records
 order by created_at;

drop table idempotency_records;

alter table idempotency_log rename to idempotency_records;

-- Expiry follows arrival (one retention for all), so this index is appended to as well.
create index idempotency_records_by_expiry on idempotency_records (expires_at);
