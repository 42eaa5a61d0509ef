import { type Kysely, sql } from 'kysely'

/**
 * The monitor (Security): alerts it raises and the blocks it imposes. A block stops an account, an
 * institution's API key or a client address at once — every sign-in, session and gateway request
 * checks it — and is lifted only when two different people have asked for it.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql
    .raw(`
create table governance.alert (
  id            bigint      generated always as identity primary key,
  at            timestamptz not null default now(),
  rule          text        not null,
  subject       text        not null,
  message       text        not null,
  event_seq     bigint      not null,
  delivered_at  timestamptz,
  delivery_error text
);
create index alert_at_idx on governance.alert (at);

create table governance.block (
  id                bigint      generated always as identity primary key,
  subject           text        not null check (subject ~ '^(account|key|source):.+$'),
  alert_id          bigint      not null references governance.alert (id),
  created_at        timestamptz not null default now(),
  lift_requested_by text,
  lift_requested_at timestamptz,
  lifted_by         text,
  lifted_at         timestamptz,
  check (lifted_by is null or lifted_by <> lift_requested_by)
);
create unique index block_active_idx on governance.block (subject) where lifted_at is null;

create table governance.monitor_cursor (
  name     text   primary key,
  last_seq bigint not null
);
`)
    .execute(db)
}
