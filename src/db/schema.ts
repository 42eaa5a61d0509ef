import type { ColumnType, Generated } from 'kysely'

/**
 * The tables as Kysely sees them. Written by hand beside the migrations that create them
 * (`migrations/`); a migration that changes a table changes its interface here in the same commit.
 * int8 columns arrive as JS numbers on both dialects (see `database.ts`); bytea as Uint8Array.
 */

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>
type Bytes = ColumnType<Uint8Array, Uint8Array, Uint8Array>
type Json<T> = ColumnType<T, string, string>

/** clinical.withheld_person — persons left out of releases after a refusal. */
export interface WithheldPersonTable {
  person_id: number
  withheld_at: Timestamp
}

/** keyring.data_key — data-encryption keys, each wrapped by the key-encryption key (KEK). */
export interface DataKeyTable {
  purpose: string
  version: number
  kek_id: string
  wrapped: Bytes
  created_at: Timestamp
}

export type AuditOutcome = 'ok' | 'denied' | 'failed'
export type AuditDetail = Record<string, string | number | boolean | null>

/** audit.event — the append-only, hash-chained log. Written only through `audit.append()`. */
export interface AuditEventTable {
  seq: number
  at: Date
  actor: string
  action: string
  target: string | null
  outcome: AuditOutcome
  detail: Json<AuditDetail>
  prev_hash: Bytes
  hash: Bytes
}

/** audit.checkpoint — Ed25519 signatures over the chain head at a sequence number. */
export interface AuditCheckpointTable {
  seq: number
  hash: Bytes
  at: Timestamp
  key_id: string
  signature: Bytes
}

export type JobStatus = 'queued' | 'running' | 'done' | 'failed'

/** jobs.job — the work queue. */
export interface JobTable {
  id: Generated<number>
  kind: string
  payload: Json<Record<string, unknown>>
  status: ColumnType<JobStatus, JobStatus | undefined, JobStatus>
  priority: ColumnType<number, number | undefined, number>
  attempts: ColumnType<number, number | undefined, number>
  max_attempts: number
  run_at: Timestamp
  locked_by: string | null
  locked_until: Date | null
  idempotency_key: string | null
  last_error: string | null
  result: Json<Record<string, unknown>> | null
  progress: ColumnType<{ done: number; total: number; unit: string } | null, string | undefined, string>
  created_at: Timestamp
  started_at: Date | null
  finished_at: Date | null
}

/** governance.account — agency staff and researchers (issue Security extends it). */
export interface AccountTable {
  id: Generated<number>
  username: string
  password_hash: string
  roles: ColumnType<string[], string[], string[]>
  must_change_password: ColumnType<boolean, boolean | undefined, boolean>
  created_at: Timestamp
  disabled_at: Date | null
  totp_secret_enc: Uint8Array | null
  totp_enabled_at: Date | null
  totp_last_step: ColumnType<number | null, number | null | undefined, number | null>
  failed_logins: ColumnType<number, number | undefined, number>
  locked_until: Date | null
  reset_code_hash: Uint8Array | null
  reset_expires_at: Date | null
  password_set_at: Date | null
}

/** governance.session — a signed-in person's session (cookie token kept as a digest). */
export interface SessionTable {
  id: Generated<number>
  token_sha256: Uint8Array
  csrf_sha256: Uint8Array
  account_id: number
  created_at: Timestamp
  last_seen_at: Timestamp
  expires_at: Date
  source: string
  revoked_at: Date | null
  revoked_reason: string | null
}

/** governance.alert — what the monitor saw (rule, subject, the audit event that triggered it). */
export interface AlertTable {
  id: Generated<number>
  at: Timestamp
  rule: string
  subject: string
  message: string
  event_seq: number
  delivered_at: Date | null
  delivery_error: string | null
  delivery_attempts: Generated<number>
}

/** governance.block — an account, API key or client address stopped until two people lift it. */
export interface BlockTable {
  id: Generated<number>
  subject: string
  alert_id: number
  created_at: Timestamp
  lift_requested_by: string | null
  lift_requested_at: Date | null
  lifted_by: string | null
  lifted_at: Date | null
}

/** governance.schedule — who may act, on what, when (an action no entry covers is unscheduled). */
export interface ScheduleTable {
  id: Generated<number>
  who: string
  actions: ColumnType<string[], string[] | undefined, string[]>
  days: ColumnType<number[], number[] | undefined, number[]>
  from_time: ColumnType<string, string | undefined, string>
  to_time: ColumnType<string, string | undefined, string>
  starts_at: Date | null
  ends_at: Date | null
  note: Generated<string>
  created_by: string
  created_at: Timestamp
  removed_by: string | null
  removed_at: Date | null
}

/** identity.person — a person across institutions; merges and splits are recorded, never undone. */
export interface PersonTable {
  id: Generated<number>
  created_at: Timestamp
  merged_into: number | null
  merged_at: Date | null
  split_from: number | null
}

/** clinical.patient_person — the current person of each patient. */
export interface PatientPersonTable {
  patient_ref: number
  person_id: number
  linked_at: Timestamp
}

/** identity.link_run — one linkage run: counts, the model, per-pass blocking figures, timings. */
export interface LinkRunTable {
  id: Generated<number>
  job_id: number | null
  started_at: Date
  finished_at: Timestamp
  records: number
  candidates: number
  links: number
  review: number
  persons: number
  merges: number
  splits: number
  passes: ColumnType<unknown, string, string>
  model: ColumnType<unknown, string, string>
  timings: ColumnType<unknown, string, string>
  mode: Generated<'full' | 'incremental'>
  pending: number | null
}

/** identity.link_token — a patient's blocking key in one pass, as a keyed hash. */
export interface LinkTokenTable {
  pass: number
  token: Uint8Array
  patient_ref: number
}

/** identity.link_pair — a pair for review, and its final decision. */
export interface LinkPairTable {
  a_ref: number
  b_ref: number
  weight: number
  explanation: ColumnType<unknown, string, string>
  state: Generated<'review' | 'accepted' | 'rejected'>
  run_id: number
  decided_by: string | null
  decided_at: Date | null
}

/** governance.approval — an operation that needs two people: one requests, another approves. */
export interface ApprovalTable {
  id: Generated<number>
  kind: string
  target: string
  params: ColumnType<Record<string, unknown>, string | undefined, string>
  requested_by: string
  requested_person: string
  requested_at: Timestamp
  expires_at: Date
  approved_by: string | null
  approved_person: string | null
  approved_at: Date | null
  done_at: Date | null
  result: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>
  cancelled_by: string | null
  cancelled_at: Date | null
}

export interface MonitorCursorTable {
  name: string
  last_seq: number
}

/** governance.institution — a hospital, clinic or pharmacy that provides data (医療情報取扱事業者). */
export interface InstitutionTable {
  id: Generated<number>
  code: string
  name: string
  notice_start: ColumnType<string, string, string>
  created_at: Timestamp
}

/** governance.institution_key — API keys of the gateway; only the SHA-256 of the secret is kept. */
export interface InstitutionKeyTable {
  id: Generated<number>
  institution_id: number
  key_id: string
  secret_sha256: Bytes
  created_at: Timestamp
  revoked_at: Date | null
}

/** governance.holding — the holdings catalogue (保有状況), refreshed by the core after each change. */
export interface HoldingTable {
  institution_id: number
  category: string
  patients: number
  records: number
  first_date: ColumnType<string | null, string | null, string | null>
  last_date: ColumnType<string | null, string | null, string | null>
  updated_at: Timestamp
}

export type SubmissionStatus = 'receiving' | 'received' | 'processing' | 'processed' | 'duplicate'
export type DeclaredFormat = 'auto' | 'ssmix2' | 'uke' | 'fhir' | 'dicom'
export type ItemFormat = Exclude<DeclaredFormat, 'auto'>

export interface SubmissionTable {
  id: Generated<number>
  institution_id: number
  status: ColumnType<SubmissionStatus, SubmissionStatus | undefined, SubmissionStatus>
  declared_format: DeclaredFormat
  channel: 'api' | 'cli'
  submitted_by: string
  files: ColumnType<number, number | undefined, number>
  content_sha256: Bytes | null
  duplicate_of: number | null
  counts: ColumnType<Record<string, number>, string | undefined, string>
  created_at: Timestamp
  received_at: Date | null
  processed_at: Date | null
}

export interface SpoolItemTable {
  submission_id: number
  seq: number
  format: ItemFormat
  category: string
  path_hash: Bytes
  path_enc: Bytes
  display_path: string
  size: number
  sha256: Bytes
  payload: Bytes | null
  status: ColumnType<'pending' | 'done' | 'duplicate', 'pending' | 'done' | 'duplicate' | undefined>
}

export interface ItemDigestTable {
  institution_id: number
  sha256: Bytes
  submission_id: number
}

export interface ReceiptTable {
  submission_id: number
  institution_id: number
  received_at: Timestamp
  body: Json<Record<string, unknown>>
  content_sha256: Bytes
  retain_until: ColumnType<string, string, string>
  key_id: string
  signature: Bytes
}

export interface QuarantineTable {
  id: Generated<number>
  submission_id: number
  item_seq: number | null
  display_path: string
  position: Json<Record<string, string | number>>
  code: string
  reason: string
  created_at: Timestamp
}

export interface HeldRecordTable {
  id: Generated<number>
  submission_id: number
  institution_id: number
  item_seq: number
  local_hash: Bytes
  hold_until: ColumnType<string, string, string>
  record_enc: Bytes
  created_at: Timestamp
}

export interface VaultPatientTable {
  patient_ref: Generated<number>
  institution_id: number
  local_hash: Bytes
  identity_enc: Bytes
  first_seen: ColumnType<string | null, string | null, string | null>
  created_at: Timestamp
  updated_at: Timestamp
}

export interface OptOutTable {
  id: Generated<number>
  institution_id: number
  local_hash: Bytes
  registered_at: Timestamp
  registered_by: string
  channel: 'cli' | 'api' | 'portal'
  deleted_patients: ColumnType<number, number | undefined, number>
  deleted_records: ColumnType<number, number | undefined, number>
}

export interface ClinicalPatientTable {
  patient_ref: number
  institution_id: number
  birth_date: ColumnType<string | null, string | null, string | null>
  sex: string | null
  prefecture: ColumnType<string | null, string | null | undefined, string | null>
  municipality: ColumnType<string | null, string | null | undefined, string | null>
  updated_at: Timestamp
}

export type ProjectState = 'submitted' | 'approved' | 'rejected' | 'withdrawn' | 'contracted' | 'closed'

/** governance.project — an application for data (利用申請), amended in versions. */
export interface ProjectTable {
  id: Generated<number>
  code: string
  title: string
  organisation: string
  investigator: string
  purpose: 'research' | 'administration'
  kind: ColumnType<'anonymized' | 'pseudonymized', 'anonymized' | 'pseudonymized' | undefined, never>
  application: Json<Record<string, unknown>>
  version: ColumnType<number, number | undefined, number>
  state: ColumnType<ProjectState, ProjectState | undefined, ProjectState>
  applied_by: string
  applied_person: string
  applied_at: Timestamp
  updated_at: Timestamp
}

/** governance.project_version — the application as it stood before each amendment. */
export interface ProjectVersionTable {
  project_id: number
  version: number
  application: Json<Record<string, unknown>>
  changed_by: string
  changed_at: Timestamp
  reason: string
}

/** governance.review — one committee member's decision on one version of a project. */
export interface ReviewTable {
  id: Generated<number>
  project_id: number
  version: number
  reviewer: string
  reviewer_person: string
  decision: 'approve' | 'reject'
  comment: ColumnType<string, string | undefined, never>
  decided_at: Timestamp
}

export type ContractState = 'active' | 'ended' | 'destroyed' | 'terminated'

/** governance.contract — what the recipient agreed to (提供契約). */
export interface ContractTable {
  id: Generated<number>
  code: string
  project_id: number
  recipients: Json<Array<{ name: string; organisation: string; publicKey?: string; keyId?: string }>>
  purposes: string[]
  sharing_scope: string
  bans: string[]
  publication_check: ColumnType<boolean, boolean | undefined, never>
  starts_on: ColumnType<string, string, string>
  ends_on: ColumnType<string, string, string>
  destroy_by: ColumnType<string, string, string>
  state: ColumnType<ContractState, ContractState | undefined, ContractState>
  signed_by: string
  signed_at: Timestamp
  ended_at: Date | null
  destruction: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>
}

export type ReleaseState = 'building' | 'built' | 'failed' | 'revoked'

/** governance.release — one package built for a contract (a dataset or statistics). */
export interface ReleaseTable {
  id: string
  kind: 'dataset' | 'statistics'
  project_id: number
  contract_id: number
  spec: Json<Record<string, unknown>>
  spec_sha256: string
  state: ColumnType<ReleaseState, ReleaseState | undefined, ReleaseState>
  dir: string | null
  manifest: ColumnType<Record<string, unknown> | null, string | null | undefined, string | null>
  persons: number | null
  error: string | null
  built_by: string
  started_at: Timestamp
  finished_at: Date | null
}

/** governance.release_mark — a digest of one pseudonym a release holds, for tracing. */
export interface ReleaseMarkTable {
  mark: Uint8Array
  release_id: string
}

/** governance.delivery — a package encrypted to a recipient, behind a time- and count-limited link. */
export interface DeliveryTable {
  id: Generated<number>
  release_id: string
  recipient: string
  key_id: string
  object_key: string
  bytes: number
  sha256: string
  token_sha256: Uint8Array
  expires_at: Date
  max_downloads: number
  downloads: ColumnType<number, number | undefined, number>
  created_by: string
  created_at: Timestamp
  revoked_at: Date | null
}

export interface DownloadTable {
  delivery_id: number
  at: Timestamp
  client: string
  outcome: 'ok' | 'expired' | 'exhausted' | 'revoked'
}

/** governance.publication_check — tables a researcher means to publish, checked cell by cell (公表物確認). */
export interface OptOutRequestTable {
  id: Generated<number>
  receipt: string
  institution_id: number
  patient_id_enc: Bytes
  birth_date_enc: Bytes
  status: ColumnType<
    'received' | 'registered' | 'unconfirmed' | 'failed',
    'received' | undefined,
    'received' | 'registered' | 'unconfirmed' | 'failed'
  >
  optout_id: number | null
  received_at: Timestamp
  done_at: Date | null
}

export interface PolicyTable {
  name: string
  description: ColumnType<string, string | undefined, string>
  text: string
  sha256: string
  created_by: string
  created_at: Timestamp
}

export interface PublicationCheckTable {
  id: Generated<number>
  project_id: number
  file_name: string
  sha256: string
  threshold: number
  cells: number
  flagged: number
  result: Json<Record<string, unknown>>
  checked_by: string
  checked_at: Timestamp
}

/** governance.stats_query — every statistical query, answered or refused. */
export interface StatsQueryTable {
  id: Generated<number>
  actor: string
  project_id: number | null
  query: Json<Record<string, unknown>>
  shape: string
  cohort: number
  outcome: 'answered' | 'refused'
  reason: string | null
  release_id: string | null
  asked_at: Timestamp
}

export interface Schema {
  'keyring.data_key': DataKeyTable
  'audit.event': AuditEventTable
  'audit.checkpoint': AuditCheckpointTable
  'jobs.job': JobTable
  'governance.account': AccountTable
  'governance.session': SessionTable
  'governance.alert': AlertTable
  'governance.block': BlockTable
  'governance.schedule': ScheduleTable
  'governance.approval': ApprovalTable
  'identity.person': PersonTable
  'clinical.patient_person': PatientPersonTable
  'identity.link_run': LinkRunTable
  'identity.link_pair': LinkPairTable
  'identity.link_token': LinkTokenTable
  'governance.monitor_cursor': MonitorCursorTable
  'governance.institution': InstitutionTable
  'governance.institution_key': InstitutionKeyTable
  'governance.holding': HoldingTable
  'intake.submission': SubmissionTable
  'intake.spool_item': SpoolItemTable
  'intake.item_digest': ItemDigestTable
  'intake.receipt': ReceiptTable
  'intake.quarantine': QuarantineTable
  'intake.held_record': HeldRecordTable
  'identity.patient': VaultPatientTable
  'identity.optout': OptOutTable
  'clinical.patient': ClinicalPatientTable
  'clinical.withheld_person': WithheldPersonTable
  'governance.project': ProjectTable
  'governance.project_version': ProjectVersionTable
  'governance.review': ReviewTable
  'governance.contract': ContractTable
  'governance.release': ReleaseTable
  'governance.release_mark': ReleaseMarkTable
  'governance.delivery': DeliveryTable
  'governance.download': DownloadTable
  'governance.publication_check': PublicationCheckTable
  'governance.stats_query': StatsQueryTable
  'governance.optout_request': OptOutRequestTable
  'governance.policy': PolicyTable
}
