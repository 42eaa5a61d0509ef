import { type Kysely, sql } from 'kysely'

/**
 * What the web console adds to the store.
 *
 * - `governance.optout_request`: a patient's 提供停止 request from the public page. The portal
 *   writes it with the patient ID and birth date sealed (spool key, bound to the row), queues an
 *   `optout.request` job, and the core registers the refusal and records the outcome here; the patient
 *   follows it by the receipt number alone. The portal never reads the sealed columns back.
 * - `governance.policy`: named anonymization policies for the persons table, so that a release built
 *   from the portal can choose one (a spec sent to the portal cannot name a file on the core host).
 * - `jobs.job.progress`: how far a running job has come (done, total, unit), stored by the worker at
 *   most once a second, so the console can show a release build's progress.
 * - `identity.optout.channel` admits `portal` (a request from the patients' page).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql
    .raw(`
create table governance.optout_request (
  id              bigint      generated always as identity primary key,
  receipt         text        not null unique check (receipt ~ '^OR-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$'),
  institution_id  bigint      not null references governance.institution (id),
  patient_id_enc  bytea       not null,
  birth_date_enc  bytea       not null,
  status          text        not null default 'received'
                  check (status in ('received', 'registered', 'unconfirmed', 'failed')),
  optout_id       bigint,
  received_at     timestamptz not null default now(),
  done_at         timestamptz
);
comment on column governance.optout_request.status is 'received: queued; registered: the refusal is in the registry and the data deleted; unconfirmed: the birth date did not match what the institution sent, so the institution must confirm the person; failed: the job could not run.';

create table governance.policy (
  name        text        primary key check (name ~ '^[a-z0-9][a-z0-9_-]{0,63}$' and name <> 'default'),
  description text        not null default '',
  text        text        not null,
  sha256      text        not null,
  created_by  text        not null,
  created_at  timestamptz not null default now()
);

alter table jobs.job add column progress jsonb;

alter table identity.optout drop constraint optout_channel_check;
alter table identity.optout add constraint optout_channel_check check (channel in ('cli', 'api', 'portal'));
`)
    .execute(db)
}
