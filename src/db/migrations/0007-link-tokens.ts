import { type Kysely, sql } from 'kysely'

/**
 * Incremental linkage: each patient's blocking keys, stored as keyed hashes (HMAC under the
 * `link-blocking` key, never the names or dates they come from), so that a new patient finds the
 * existing patients it must be compared with without decrypting the vault. A run says whether it
 * relinked everything (`full`) or only patients not yet linked (`incremental`).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql
    .raw(`
create table identity.link_token (
  pass        smallint not null,
  token       bytea    not null,
  patient_ref bigint   not null,
  primary key (pass, token, patient_ref)
);
create index link_token_patient_idx on identity.link_token (patient_ref);

alter table identity.link_run
  add column mode    text    not null default 'full' check (mode in ('full', 'incremental')),
  add column pending integer;
comment on column identity.link_run.pending is 'Patients linked by this run (all in a full run; new or changed ones in an incremental run).';
`)
    .execute(db)
}
