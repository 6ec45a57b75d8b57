-- A registration may end in failure (the subscription goes back to NotRegistered), when an operator
-- fails it or a fault rule decided so when it was accepted.
alter table registrations drop constraint registrations_state_check;
alter table registrations add constraint registrations_state_check
    check (state in ('Registering', 'Registered', 'Failed'));

-- Whether the queued registration is to end in failure.
alter table registration_jobs add column fails boolean not null default false;
