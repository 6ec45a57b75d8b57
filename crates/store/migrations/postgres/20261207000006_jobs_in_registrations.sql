-- A registration's job is kept in the registration's own row, no longer in a table of its own: a
-- registration wrote two rows (the registration and its job) with five index entries, where it now
-- writes one row with four, and checked a foreign key from the one to the other. Measured with pgbench replaying the service's
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

-- Instances of the previous version, still running while new ones replace them (docs/operations.md:
-- migrations leave the schema usable by the version before), keep using their job table: this view
-- of the queued registrations, which their claims update through. Their two other writes are made
-- here: a job added to the registration just written, and a job dropped (which must not delete
-- the registration). A later migration drops the view, once no such instance can be running.
create view registration_jobs as
    select id as registration_ref, enqueued_at, lease_until, attempts, fails
    from registrations
    where enqueued_at is not null;

create function registration_jobs_insert() returns trigger language plpgsql as $$
begin
    update registrations
       set enqueued_at = new.enqueued_at, lease_until = new.lease_until,
           attempts = coalesce(new.attempts, 0), fails = coalesce(new.fails, false)
     where id = new.registration_ref;
    return new;
end
$$;

create trigger registration_jobs_insert instead of insert on registration_jobs
    for each row execute function registration_jobs_insert();

create function registration_jobs_delete() returns trigger language plpgsql as $$
begin
    update registrations set enqueued_at = null, lease_until = null where id = old.registration_ref;
    return old;
end
$$;

create trigger registration_jobs_delete instead of delete on registration_jobs
    for each row execute function registration_jobs_delete();

-- Statistics of the new columns, for the worker's queries, now rather than whenever autovacuum gets
-- to it (only the queued rows were written here, maybe too few to wake it): without them, the
-- planner takes `enqueued_at is not null` to hold for nearly every row, and may scan the whole table
-- for each look at the queue. Not on an empty table (a new database): statistics of an empty table
-- make plans for one that stays empty (docs/operations.md).
do $$
begin
    if exists (select 1 from registrations) then
        analyze registrations;
    end if;
end
$$;
