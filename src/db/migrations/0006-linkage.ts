import { type Kysely, sql } from 'kysely'

/**
 * Identity resolution (名寄せ): persons, the person of each patient, linkage runs, and pairs for
 * review with their decisions. A person id never changes meaning: a merge marks the absorbed person
 * `merged_into` the one that stays, a split gives the part that leaves a new person `split_from` the
 * old one. `clinical.patient_person` holds the current person of each patient (the clinical store's
 * only link between institutions); it changes in the transaction that records the run.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql
    .raw(`
create table identity.person (
  id          bigint      generated always as identity primary key,
  created_at  timestamptz not null default now(),
  merged_into bigint      references identity.person (id),
  merged_at   timestamptz,
  split_from  bigint      references identity.person (id),
  check (merged_into is null or merged_into <> id)
);

create table clinical.patient_person (
  patient_ref bigint      primary key,
  person_id   bigint      not null,
  linked_at   timestamptz not null default now()
);
create index patient_person_person_idx on clinical.patient_person (person_id);

create table identity.link_run (
  id          bigint      generated always as identity primary key,
  job_id      bigint,
  started_at  timestamptz not null,
  finished_at timestamptz not null default now(),
  records     integer     not null,
  candidates  bigint      not null,
  links       integer     not null,
  review      integer     not null,
  persons     integer     not null,
  merges      integer     not null,
  splits      integer     not null,
  passes      jsonb       not null,
  model       jsonb       not null,
  timings     jsonb       not null
);

-- Pairs a reviewer decides (linkage reviewer role); the decision is final for that pair. The
-- explanation holds levels and weights per field, never a value.
create table identity.link_pair (
  a_ref       bigint           not null,
  b_ref       bigint           not null,
  weight      double precision not null,
  explanation jsonb            not null,
  state       text             not null default 'review' check (state in ('review', 'accepted', 'rejected')),
  run_id      bigint           not null references identity.link_run (id),
  decided_by  text,
  decided_at  timestamptz,
  primary key (a_ref, b_ref),
  check (a_ref < b_ref),
  check ((state = 'review') = (decided_at is null))
);
create index link_pair_review_idx on identity.link_pair (weight desc) where state = 'review';
`)
    .execute(db)
}
