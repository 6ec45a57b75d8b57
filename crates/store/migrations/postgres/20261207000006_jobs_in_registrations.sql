-- A registration's job is kept in the registration's own row, no longer in a table of its own: a
-- registration wrote two rows (the registration and its job), four index entries among them, and
-- checked a foreign key from the one to the other. Measured with pgbench replaying the service's
-- two statements a registration (docs/benchmark-history.md, 2026-12-07), the job's row was about
-- an eighth of PostgreSQL's CPU time a registration.
--
-- A registration has a job while `enqueued_at` is set: the worker claims it (a lease and an
-- attempt), and settling the registration, or dropping the job, clears it. Only the rows with a
-- job are in `registrations_due`, in the order the worker takes them.
alter table registrations
    add column enqueued_at bigint,
    add column lease_until bigint,
    add column attempts    integer not null default 0,
    add column fails       boolean not null default false;

update registrations r
   set enqueued_at = j.enqueued_at, lease_until = j.lease_until, attempts = j.attempts,
       fails = j.fails
  from registration_jobs j
 where j.registration_ref = r.id;

drop table registration_jobs;

create index registrations_due on registrations (enqueued_at, id) where enqueued_at is not null;

-- A claim's lease is written in place (a heap-only tuple, no index entry), as for subscriptions.
alter table registrations set (fillfactor = 90);
