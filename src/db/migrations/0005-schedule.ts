import { type Kysely, sql } from 'kysely'

/**
 * The access schedule, two-person approvals, the monitor's webhook deliveries and its wake-up
 * (Security).
 *
 * - `governance.schedule`: who may act, on what, when. An action that no entry covers is unscheduled
 *   and the monitor blocks its actor. A fresh install's entries cover everyone at every hour; the
 *   agency narrows them (`tokumei schedule`).
 * - `governance.approval`: an operation that needs two people (a block's lift, a key rotation, a
 *   release's approval) is a request by one and an approval by another person.
 * - A statement-level trigger on audit.event notifies `tokumei_audit`, so the monitor wakes on every
 *   new event instead of polling.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql
    .raw(`
create table governance.schedule (
  id          bigint      generated always as identity primary key,
  who         text        not null check (who ~ '^(os|account|role|institution):.+$'),
  actions     text[]      not null default '{*}' check (cardinality(actions) > 0),
  days        smallint[]  not null default '{1,2,3,4,5,6,7}' check (days <@ '{1,2,3,4,5,6,7}' and cardinality(days) > 0),
  from_time   time        not null default '00:00',
  to_time     time        not null default '24:00',
  starts_at   timestamptz,
  ends_at     timestamptz,
  note        text        not null default '',
  created_by  text        not null,
  created_at  timestamptz not null default now(),
  removed_by  text,
  removed_at  timestamptz,
  check (from_time <> to_time),
  check (starts_at is null or ends_at is null or starts_at < ends_at)
);
comment on column governance.schedule.days is 'ISO weekdays (1 Monday … 7 Sunday) in the agency''s time zone.';
comment on column governance.schedule.to_time is 'Exclusive; earlier than from_time means the period runs past midnight.';

insert into governance.schedule (who, note, created_by) values
  ('os:*', 'fresh install: commands on the core host and the jobs they run, at any hour', 'system:install'),
  ('account:*', 'fresh install: every staff account at any hour — narrow with tokumei schedule', 'system:install'),
  ('institution:*', 'fresh install: every institution''s API keys at any hour — narrow with tokumei schedule', 'system:install');

create table governance.approval (
  id               bigint      generated always as identity primary key,
  kind             text        not null,
  target           text        not null,
  params           jsonb       not null default '{}',
  requested_by     text        not null,
  requested_person text        not null,
  requested_at     timestamptz not null default now(),
  expires_at       timestamptz not null,
  approved_by      text,
  approved_person  text,
  approved_at      timestamptz,
  done_at          timestamptz,
  result           jsonb,
  cancelled_by     text,
  cancelled_at     timestamptz,
  check (approved_person is null or approved_person <> requested_person)
);
create unique index approval_open_idx on governance.approval (kind, target)
  where approved_at is null and cancelled_at is null;

alter table governance.alert add column delivery_attempts integer not null default 0;

alter table governance.block drop constraint block_subject_check;
alter table governance.block add constraint block_subject_check check (subject ~ '^(account|key|source|os):.+$');

create index event_actor_idx on audit.event (actor, at);

create function audit.notify_appended() returns trigger
language plpgsql as $fn$
begin
  perform pg_notify('tokumei_audit', '');
  return null;
end
$fn$;
create trigger event_notify after insert on audit.event
  for each statement execute function audit.notify_appended();
`)
    .execute(db)
}
