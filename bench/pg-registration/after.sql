\set i :i + 1
\set s :base + 2 * (:client_id + 64 * :i)
\set c :s / 1000
\set r random(1, 9000000000000000000)
\set now 1700000000000 + :i
select s.id as sid, s.kind, s.status, s.registration_state, c.id
  from (values (1)) as one (x)
  left join customers c on c.partner_tenant_id = :p and c.customer_id = 'c2f6e3b1-0000-4000-8000-' || lpad(:c::text, 12, '0')
  left join subscriptions s on s.customer_ref = c.id and s.subscription_id = 'd3a7f4c2-0000-4000-8000-' || lpad(:s::text, 12, '0')
\gset
with locked as (
  select s.id from subscriptions s
  where s.id = :sid::bigint
    and s.kind = 'azurePlan' and s.status = 'active' and s.registration_state = 'NotRegistered'
  for update of s),
claim as (insert into idempotency_records (partner_tenant_id, request_id, method, path, outcome, created_at, expires_at)
  select :p, lpad(:r::text, 36, '0'), 'POST', '/v1/customers/c2f6e3b1-0000-4000-8000-' || lpad(:c::text, 12, '0') || '/subscriptions/d3a7f4c2-0000-4000-8000-' || lpad(:s::text, 12, '0') || '/registrations', 'accepted', :now::bigint, :now::bigint + 86400000 from locked
  on conflict (partner_tenant_id, request_id, method, path) do update set outcome = excluded.outcome, created_at = excluded.created_at, expires_at = excluded.expires_at where idempotency_records.expires_at <= :now::bigint returning 1),
subscription as (update subscriptions s set registration_state = 'Registering', updated_at = :now::bigint from locked where s.id = locked.id and exists (select 1 from claim) returning s.id),
registration as (insert into registrations (subscription_ref, state, requested_at, enqueued_at, fails) select id, 'Registering', :now::bigint, :now::bigint, false from subscription returning id)
select (select count(*) from registration), null::text;
