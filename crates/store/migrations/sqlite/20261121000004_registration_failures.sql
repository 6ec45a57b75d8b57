-- no-transaction
-- A registration may end in failure (the subscription goes back to NotRegistered), when an operator
-- fails it or a fault rule decided so when it was accepted. SQLite cannot change a CHECK constraint
-- in place, so `registrations` is rebuilt (with foreign keys off, so that nothing cascades).
pragma foreign_keys = off;
begin;

create table registrations_rebuilt (
    id                integer primary key,
    subscription_ref  integer not null references subscriptions (id) on delete cascade,
    state             text    not null check (state in ('Registering', 'Registered', 'Failed')),
    requested_at      integer not null,
    completed_at      integer
) strict;
insert into registrations_rebuilt (id, subscription_ref, state, requested_at, completed_at)
    select id, subscription_ref, state, requested_at, completed_at from registrations;
drop table registrations;
alter table registrations_rebuilt rename to registrations;
create unique index registrations_one_in_progress
    on registrations (subscription_ref) where state = 'Registering';
create index registrations_by_subscription on registrations (subscription_ref);

-- Whether the queued registration is to end in failure.
alter table registration_jobs add column fails integer not null default 0 check (fails in (0, 1));

commit;
pragma foreign_keys = on;
