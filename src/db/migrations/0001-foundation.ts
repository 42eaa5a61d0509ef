import { type Kysely, sql } from 'kysely'

/**
 * The schemas of DESIGN §3 and the tables the foundation needs: the keyring, the audit chain,
 * the job queue and staff accounts. Later migrations add each domain's tables to its schema.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql
    .raw(`
create schema intake;
comment on schema intake is 'Submissions, the encrypted payload spool, quarantine, receipts (受領記録).';
create schema identity;
comment on schema identity is 'Personal data (encrypted), blocking tokens, persons, link decisions, opt-outs. Core zone only.';
create schema clinical;
comment on schema clinical is 'Pseudonymous clinical events keyed by patient_ref; never a name or a hospital ID.';
create schema governance;
comment on schema governance is 'Institutions, accounts, roles, projects, reviews, contracts, releases.';
create schema audit;
comment on schema audit is 'The append-only, hash-chained event log and its signed checkpoints.';
create schema jobs;
comment on schema jobs is 'The work queue shared by the workers of every zone.';
create schema keyring;
comment on schema keyring is 'Data-encryption keys, each wrapped by the key-encryption key held outside the database.';

create table keyring.data_key (
  purpose    text        not null,
  version    integer     not null check (version > 0),
  kek_id     text        not null,
  wrapped    bytea       not null,
  created_at timestamptz not null default now(),
  primary key (purpose, version)
);

create table audit.event (
  seq       bigint      primary key check (seq > 0),
  at        timestamptz not null,
  actor     text        not null,
  action    text        not null,
  target    text,
  outcome   text        not null check (outcome in ('ok', 'denied', 'failed')),
  detail    jsonb       not null default '{}',
  prev_hash bytea       not null check (length(prev_hash) = 32),
  hash      bytea       not null check (length(hash) = 32)
);
create index event_at_idx on audit.event (at);
create index event_action_idx on audit.event (action, seq);

create table audit.checkpoint (
  seq       bigint      primary key,
  hash      bytea       not null,
  at        timestamptz not null default now(),
  key_id    text        not null,
  signature bytea       not null
);

create function audit.refuse_change() returns trigger
language plpgsql as $fn$
begin
  raise exception 'audit.% is append-only: % refused', tg_table_name, tg_op
    using errcode = 'insufficient_privilege';
end
$fn$;
create trigger event_append_only before update or delete on audit.event
  for each row execute function audit.refuse_change();
create trigger event_no_truncate before truncate on audit.event
  for each statement execute function audit.refuse_change();
create trigger checkpoint_append_only before update or delete on audit.checkpoint
  for each row execute function audit.refuse_change();
create trigger checkpoint_no_truncate before truncate on audit.checkpoint
  for each statement execute function audit.refuse_change();

-- The one way into audit.event. The caller computes the keyed hash (the key never enters the
-- database); this function serialises writers and refuses an event that does not extend the head.
create function audit.append(
  p_seq bigint, p_at timestamptz, p_actor text, p_action text, p_target text, p_outcome text,
  p_detail jsonb, p_prev_hash bytea, p_hash bytea
) returns void
language plpgsql security definer set search_path = pg_catalog, pg_temp as $fn$
declare
  head_seq  bigint;
  head_hash bytea;
begin
  perform pg_advisory_xact_lock(7305150470001);
  select e.seq, e.hash into head_seq, head_hash from audit.event e order by e.seq desc limit 1;
  if coalesce(head_seq, 0) + 1 <> p_seq
     or coalesce(head_hash, '\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea) <> p_prev_hash then
    raise exception 'audit chain head moved (expected to follow event %)', coalesce(head_seq, 0)
      using errcode = 'serialization_failure';
  end if;
  insert into audit.event (seq, at, actor, action, target, outcome, detail, prev_hash, hash)
  values (p_seq, p_at, p_actor, p_action, p_target, p_outcome, p_detail, p_prev_hash, p_hash);
end
$fn$;

-- The head of the chain, read under the same lock so that the next append cannot race it.
create function audit.head(out seq bigint, out hash bytea)
language plpgsql security definer set search_path = pg_catalog, pg_temp as $fn$
begin
  perform pg_advisory_xact_lock(7305150470001);
  select e.seq, e.hash into seq, hash from audit.event e order by e.seq desc limit 1;
end
$fn$;

create function audit.add_checkpoint(p_seq bigint, p_hash bytea, p_key_id text, p_signature bytea)
returns void
language plpgsql security definer set search_path = pg_catalog, pg_temp as $fn$
begin
  insert into audit.checkpoint (seq, hash, key_id, signature) values (p_seq, p_hash, p_key_id, p_signature)
  on conflict (seq) do nothing;
end
$fn$;

revoke all on function audit.append(bigint, timestamptz, text, text, text, text, jsonb, bytea, bytea) from public;
revoke all on function audit.head() from public;
revoke all on function audit.add_checkpoint(bigint, bytea, text, bytea) from public;

create table jobs.job (
  id              bigint      generated always as identity primary key,
  kind            text        not null,
  payload         jsonb       not null default '{}',
  status          text        not null default 'queued' check (status in ('queued', 'running', 'done', 'failed')),
  priority        integer     not null default 0,
  attempts        integer     not null default 0,
  max_attempts    integer     not null check (max_attempts > 0),
  run_at          timestamptz not null default now(),
  locked_by       text,
  locked_until    timestamptz,
  idempotency_key text        unique,
  last_error      text,
  result          jsonb,
  created_at      timestamptz not null default now(),
  started_at      timestamptz,
  finished_at     timestamptz
);
create index job_claim_idx on jobs.job (priority desc, run_at, id) where status = 'queued';
create index job_lease_idx on jobs.job (locked_until) where status = 'running';

create table governance.account (
  id                   bigint      generated always as identity primary key,
  username             text        not null unique check (username ~ '^[a-z][a-z0-9._-]{1,63}$'),
  password_hash        text        not null,
  roles                text[]      not null,
  must_change_password boolean     not null default true,
  created_at           timestamptz not null default now(),
  disabled_at          timestamptz
);
`)
    .execute(db)
}
