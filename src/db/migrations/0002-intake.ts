import { type Kysely, sql } from 'kysely'

/**
 * Intake: institutions and their API keys, submissions and their encrypted spool, receipts (受領記録),
 * quarantine, notice holds; the identity vault and opt-out tombstones; the pseudonymous clinical
 * tables and the holdings catalogue (保有状況). Clinical tables have no foreign keys so that they can
 * be distributed by patient_ref (DESIGN §3).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql
    .raw(`
create table governance.institution (
  id           bigint      generated always as identity primary key,
  code         text        not null unique check (code ~ '^[0-9]{10}$'),
  name         text        not null check (length(name) between 1 and 200),
  notice_start date        not null,
  created_at   timestamptz not null default now()
);
comment on column governance.institution.notice_start is 'The day the institution began notifying its patients (通知開始日).';

create table governance.institution_key (
  id             bigint      generated always as identity primary key,
  institution_id bigint      not null references governance.institution (id),
  key_id         text        not null unique,
  secret_sha256  bytea       not null check (length(secret_sha256) = 32),
  created_at     timestamptz not null default now(),
  revoked_at     timestamptz
);
create index institution_key_institution_idx on governance.institution_key (institution_id);

create table governance.holding (
  institution_id bigint      not null,
  category       text        not null,
  patients       bigint      not null,
  records        bigint      not null,
  first_date     date,
  last_date      date,
  updated_at     timestamptz not null default now(),
  primary key (institution_id, category)
);

create table intake.submission (
  id                bigint      generated always as identity primary key,
  institution_id    bigint      not null,
  status            text        not null default 'receiving'
                    check (status in ('receiving', 'received', 'processing', 'processed', 'duplicate')),
  declared_format   text        not null check (declared_format in ('auto', 'ssmix2', 'uke', 'fhir', 'dicom')),
  channel           text        not null check (channel in ('api', 'cli')),
  submitted_by      text        not null,
  files             integer     not null default 0,
  content_sha256    bytea,
  duplicate_of      bigint,
  counts            jsonb       not null default '{}',
  created_at        timestamptz not null default now(),
  received_at       timestamptz,
  processed_at      timestamptz
);
create index submission_institution_idx on intake.submission (institution_id, id);
create index submission_status_idx on intake.submission (status) where status in ('receiving', 'received', 'processing');

-- One row per file of a submission. The path is encrypted (SS-MIX2 paths contain the hospital's
-- patient ID); display_path is the same path with that ID masked. The payload is encrypted with the
-- spool key and removed once the item is processed.
create table intake.spool_item (
  submission_id bigint  not null,
  seq           integer not null,
  format        text    not null check (format in ('ssmix2', 'uke', 'fhir', 'dicom')),
  category      text    not null,
  path_hash     bytea   not null,
  path_enc      bytea   not null,
  display_path  text    not null,
  size          bigint  not null,
  sha256        bytea   not null check (length(sha256) = 32),
  payload       bytea,
  status        text    not null default 'pending' check (status in ('pending', 'done', 'duplicate')),
  primary key (submission_id, seq),
  unique (submission_id, path_hash)
);
create index spool_item_pending_idx on intake.spool_item (submission_id, seq) where status = 'pending';

-- Content already received from an institution: the same file sent again is not ingested twice.
create table intake.item_digest (
  institution_id bigint not null,
  sha256         bytea  not null,
  submission_id  bigint not null,
  primary key (institution_id, sha256)
);

-- 受領記録 — the record of receipt, signed, kept for the configured retention (default 3 years).
create table intake.receipt (
  submission_id  bigint      primary key,
  institution_id bigint      not null,
  received_at    timestamptz not null,
  body           jsonb       not null,
  content_sha256 bytea       not null,
  retain_until   date        not null,
  key_id         text        not null,
  signature      bytea       not null
);

create table intake.quarantine (
  id            bigint      generated always as identity primary key,
  submission_id bigint      not null,
  item_seq      integer,
  display_path  text        not null,
  position      jsonb       not null default '{}',
  code          text        not null,
  reason        text        not null,
  created_at    timestamptz not null default now()
);
create index quarantine_submission_idx on intake.quarantine (submission_id);

-- Records of patients whose notice period (通知期間) has not yet passed, encrypted, until it has.
create table intake.held_record (
  id             bigint      generated always as identity primary key,
  submission_id  bigint      not null,
  institution_id bigint      not null,
  item_seq       integer     not null,
  local_hash     bytea       not null,
  hold_until     date        not null,
  record_enc     bytea       not null,
  created_at     timestamptz not null default now()
);
create index held_record_due_idx on intake.held_record (hold_until);
create index held_record_patient_idx on intake.held_record (institution_id, local_hash);

-- The identity vault: one row per patient per institution; the personal data is encrypted, the
-- hospital's patient ID is present only as a keyed hash. patient_ref is the surrogate the clinical
-- store uses.
create table identity.patient (
  patient_ref    bigint      generated always as identity primary key,
  institution_id bigint      not null,
  local_hash     bytea       not null check (length(local_hash) = 32),
  identity_enc   bytea       not null,
  first_seen     date,
  created_at     timestamptz not null default now(),
  updated_at     timestamptz not null default now(),
  unique (institution_id, local_hash)
);

-- 提供停止: a refusal is kept only as a keyed-hash tombstone that stops future intake.
create table identity.optout (
  id               bigint      generated always as identity primary key,
  institution_id   bigint      not null,
  local_hash       bytea       not null check (length(local_hash) = 32),
  registered_at    timestamptz not null default now(),
  registered_by    text        not null,
  channel          text        not null check (channel in ('cli', 'api')),
  deleted_patients integer     not null default 0,
  deleted_records  bigint      not null default 0,
  unique (institution_id, local_hash)
);

create table clinical.patient (
  patient_ref    bigint      primary key,
  institution_id bigint      not null,
  birth_date     date,
  sex            text        check (sex in ('M', 'F', 'O', 'U')),
  updated_at     timestamptz not null default now()
);
create index patient_institution_idx on clinical.patient (institution_id);

-- SS-MIX2 versions: the newest message per (patient, data type, order number) and whether it deleted
-- the order (condition flag 0), so that flag 2 and 0 messages update what an earlier one said.
create table clinical.source_version (
  patient_ref bigint  not null,
  source_key  text    not null,
  version     text    not null,
  deleted     boolean not null,
  primary key (patient_ref, source_key)
);

create table clinical.encounter (
  patient_ref bigint not null, institution_id bigint not null, submission_id bigint not null, source_key text,
  class text not null, event text not null, date date, department text
);
create table clinical.condition (
  patient_ref bigint not null, institution_id bigint not null, submission_id bigint not null, source_key text,
  name text, medis_code text, icd10 text, receipt_code text, modifiers text,
  onset date, recorded date, main boolean not null
);
create table clinical.medication (
  patient_ref bigint not null, institution_id bigint not null, submission_id bigint not null, source_key text,
  name text, hot9 text, receipt_code text, dose numeric, unit text, route text, days integer,
  usage text, administered boolean not null, injection boolean not null, date date, per_day jsonb
);
create table clinical.procedure (
  patient_ref bigint not null, institution_id bigint not null, submission_id bigint not null, source_key text,
  code text, category text, points integer, count integer not null, month date, per_day jsonb
);
create table clinical.lab (
  patient_ref bigint not null, institution_id bigint not null, submission_id bigint not null, source_key text,
  name text, jlac10 text, value text, numeric numeric, unit text, range text, flag text, date date
);
create table clinical.allergy (
  patient_ref bigint not null, institution_id bigint not null, submission_id bigint not null, source_key text,
  name text, category text
);
create table clinical.clinical_order (
  patient_ref bigint not null, institution_id bigint not null, submission_id bigint not null, source_key text,
  code text, name text, date date
);
create table clinical.imaging (
  patient_ref bigint not null, institution_id bigint not null, submission_id bigint not null, source_key text,
  study_uid text, series_uid text, sop_instance_uid text, sop_class_uid text, modality text, date date,
  body_part text, burned_in boolean, object_key text not null, object_bytes bigint not null
);
-- Documents may name people in their text: the content is encrypted (documents key), bound to doc_key.
create table clinical.document (
  patient_ref bigint not null, institution_id bigint not null, submission_id bigint not null, source_key text,
  doc_key uuid not null unique, title text, date date, content_type text not null, content_enc bytea not null
);
create index encounter_patient_idx on clinical.encounter (patient_ref);
create index condition_patient_idx on clinical.condition (patient_ref);
create index medication_patient_idx on clinical.medication (patient_ref);
create index procedure_patient_idx on clinical.procedure (patient_ref);
create index lab_patient_idx on clinical.lab (patient_ref);
create index allergy_patient_idx on clinical.allergy (patient_ref);
create index clinical_order_patient_idx on clinical.clinical_order (patient_ref);
create index imaging_patient_idx on clinical.imaging (patient_ref);
create index document_patient_idx on clinical.document (patient_ref);
`)
    .execute(db)
}
