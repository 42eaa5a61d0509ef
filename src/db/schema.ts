import type { ColumnType, Generated } from 'kysely'

/**
 * The tables as Kysely sees them. Written by hand beside the migrations that create them
 * (`migrations/`); a migration that changes a table changes its interface here in the same commit.
 * int8 columns arrive as JS numbers on both dialects (see `database.ts`); bytea as Uint8Array.
 */

type Timestamp = ColumnType<Date, Date | string | undefined, Date | string>
type Bytes = ColumnType<Uint8Array, Uint8Array, Uint8Array>
type Json<T> = ColumnType<T, string, string>

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
}

export interface Schema {
  'keyring.data_key': DataKeyTable
  'audit.event': AuditEventTable
  'audit.checkpoint': AuditCheckpointTable
  'jobs.job': JobTable
  'governance.account': AccountTable
}
