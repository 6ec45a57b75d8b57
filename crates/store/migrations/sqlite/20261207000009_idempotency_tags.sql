-- Each idempotency record keeps its tag (src/sqlite/idempotency.rs), so that the writer reads its
-- index at start from the expiry index, a few bytes a record, where it read every record's key and
-- hashed it again (about 0.8 s a million records). Tags are made by a hash keyed once for the
-- database, here; records written before this migration get theirs when the writer first reads
-- them.
alter table idempotency_records add column tag integer;

drop index idempotency_records_by_expiry;
create index idempotency_records_by_expiry on idempotency_records (expires_at, tag);

create table idempotency_tag_key (
    k0  integer not null,
    k1  integer not null
) strict;
insert into idempotency_tag_key (k0, k1) values (random(), random());
