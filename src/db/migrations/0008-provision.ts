import { type Kysely, sql } from 'kysely'

/**
 * Provision (提供): projects, their review by the committee, contracts, release packages, their
 * delivery and downloads, publication checks, statistical queries — and the area of each patient
 * that analyses are made by.
 *
 * - `clinical.patient` gains the prefecture (JIS X 0401) and the municipality as the address wrote
 *   it (市区町村, no street): the finest area a release may hold.
 * - `clinical.withheld_person`: the persons of patients who refused (提供停止), so that what other
 *   institutions sent about the same person is left out too.
 * - A project is an application; every amendment keeps the text it replaced
 *   (`project_version`); a review is one committee member's decision on one version, so an
 *   amendment needs its own two approvals.
 * - A release keeps its spec, its manifest and the digests of its pseudonyms (`release_mark`), so a
 *   leaked fragment can be traced to it; its key is derived, never stored.
 * - A delivery's link is kept as the SHA-256 of its secret; each download is a row and an audit event.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql
    .raw(`
alter table clinical.patient
  add column prefecture   text check (prefecture ~ '^(0[1-9]|[1-3][0-9]|4[0-7])$'),
  add column municipality text;

-- A person whose patient refused provision at any institution is left out of every release and
-- statistic from then on, whatever other institutions hold about them.
create table clinical.withheld_person (
  person_id   bigint      primary key,
  withheld_at timestamptz not null default now()
);

create table governance.project (
  id             bigint      generated always as identity primary key,
  code           text        not null unique,
  title          text        not null,
  organisation   text        not null,
  investigator   text        not null,
  purpose        text        not null check (purpose in ('research', 'administration')),
  kind           text        not null default 'anonymized' check (kind in ('anonymized', 'pseudonymized')),
  application    jsonb       not null,
  version        integer     not null default 1,
  state          text        not null default 'submitted'
                 check (state in ('submitted', 'approved', 'rejected', 'withdrawn', 'contracted', 'closed')),
  applied_by     text        not null,
  applied_person text        not null,
  applied_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now()
);

create table governance.project_version (
  project_id  bigint      not null references governance.project (id),
  version     integer     not null,
  application jsonb       not null,
  changed_by  text        not null,
  changed_at  timestamptz not null default now(),
  reason      text        not null,
  primary key (project_id, version)
);

create table governance.review (
  id              bigint      generated always as identity primary key,
  project_id      bigint      not null references governance.project (id),
  version         integer     not null,
  reviewer        text        not null,
  reviewer_person text        not null,
  decision        text        not null check (decision in ('approve', 'reject')),
  comment         text        not null default '',
  decided_at      timestamptz not null default now(),
  unique (project_id, version, reviewer_person)
);

create table governance.contract (
  id                   bigint      generated always as identity primary key,
  code                 text        not null unique,
  project_id           bigint      not null references governance.project (id),
  recipients           jsonb       not null,
  purposes             text[]      not null check (cardinality(purposes) > 0),
  sharing_scope        text        not null,
  bans                 text[]      not null,
  publication_check    boolean     not null default true,
  starts_on            date        not null,
  ends_on              date        not null,
  destroy_by           date        not null,
  state                text        not null default 'active' check (state in ('active', 'ended', 'destroyed', 'terminated')),
  signed_by            text        not null,
  signed_at            timestamptz not null default now(),
  ended_at             timestamptz,
  destruction          jsonb,
  check (starts_on <= ends_on and ends_on <= destroy_by),
  check (bans @> '{re-identification,onward-provision}')
);
create unique index contract_active_idx on governance.contract (project_id) where state = 'active';

create table governance.release (
  id            text        primary key,
  kind          text        not null check (kind in ('dataset', 'statistics')),
  project_id    bigint      not null references governance.project (id),
  contract_id   bigint      not null references governance.contract (id),
  spec          jsonb       not null,
  spec_sha256   text        not null,
  state         text        not null default 'building' check (state in ('building', 'built', 'failed', 'revoked')),
  dir           text,
  manifest      jsonb,
  persons       integer,
  error         text,
  built_by      text        not null,
  started_at    timestamptz not null default now(),
  finished_at   timestamptz
);

create table governance.release_mark (
  mark       bytea not null,
  release_id text  not null references governance.release (id),
  primary key (mark, release_id)
);

create table governance.delivery (
  id            bigint      generated always as identity primary key,
  release_id    text        not null references governance.release (id),
  recipient     text        not null,
  key_id        text        not null,
  object_key    text        not null,
  bytes         bigint      not null,
  sha256        text        not null,
  token_sha256  bytea       not null unique,
  expires_at    timestamptz not null,
  max_downloads integer     not null check (max_downloads > 0),
  downloads     integer     not null default 0,
  created_by    text        not null,
  created_at    timestamptz not null default now(),
  revoked_at    timestamptz
);

create table governance.download (
  delivery_id bigint      not null references governance.delivery (id),
  at          timestamptz not null default now(),
  client      text        not null,
  outcome     text        not null check (outcome in ('ok', 'expired', 'exhausted', 'revoked'))
);

create table governance.publication_check (
  id           bigint      generated always as identity primary key,
  project_id   bigint      not null references governance.project (id),
  file_name    text        not null,
  sha256       text        not null,
  threshold    integer     not null,
  cells        integer     not null,
  flagged      integer     not null,
  result       jsonb       not null,
  checked_by   text        not null,
  checked_at   timestamptz not null default now()
);

create table governance.stats_query (
  id          bigint      generated always as identity primary key,
  actor       text        not null,
  project_id  bigint      references governance.project (id),
  query       jsonb       not null,
  shape       text        not null,
  cohort      integer     not null,
  outcome     text        not null check (outcome in ('answered', 'refused')),
  reason      text,
  release_id  text        references governance.release (id),
  asked_at    timestamptz not null default now()
);
create index stats_query_shape_idx on governance.stats_query (shape, asked_at);
comment on column governance.stats_query.shape is 'The query without its filters'' values: queries of one shape that differ by a few persons could difference one out.';
`)
    .execute(db)
}
