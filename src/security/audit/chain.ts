import { timingSafeEqual } from 'node:crypto'
import { type Kysely, sql, type Transaction } from 'kysely'
import type { AuditDetail, AuditOutcome, Schema } from '../../db/index.js'
import { TokumeiError } from '../../model/index.js'
import { hmac } from '../crypto/envelope.js'
import type { Keyring } from '../crypto/keyring.js'

/**
 * The audit chain. Each event's hash is an HMAC, under a key that never enters the database, over
 * the event and the previous event's hash. Whoever can write to the database (even a superuser who
 * disables the append-only trigger) cannot forge a consistent chain without that key; the signed
 * checkpoints (`checkpoint.ts`) pin the chain so that cutting events off its end is found too.
 *
 * Events never carry personal data: actors are account names or OS users, targets are surrogate ids.
 */
export interface AuditEventInput {
  /** Who acted: `account:<name>`, `os:<user>@<host>`, `institution:<code>`, `system:<component>`. */
  readonly actor: string
  /** What was done, dotted: `keys.rotate`, `submission.receive`, `login.failed`. */
  readonly action: string
  /** What it was done to: a surrogate id such as `job:42`; never a name or a hospital patient ID. */
  readonly target?: string | null
  readonly outcome?: AuditOutcome
  readonly detail?: AuditDetail
}

export interface AuditEvent {
  readonly seq: number
  readonly at: Date
  readonly actor: string
  readonly action: string
  readonly target: string | null
  readonly outcome: AuditOutcome
  readonly detail: AuditDetail
  readonly prevHash: Buffer
  readonly hash: Buffer
}

export const GENESIS_HASH: Buffer = Buffer.alloc(32)
const CHAIN_KEY_PURPOSE = 'audit-chain'

/** The sorted-key JSON of a flat detail object: equal details give equal text on both dialects. */
export function canonicalDetail(detail: AuditDetail): string {
  const keys = Object.keys(detail).sort()
  return `{${keys.map((k) => `${JSON.stringify(k)}:${JSON.stringify(detail[k] ?? null)}`).join(',')}}`
}

export function eventHash(keyring: Keyring, event: Omit<AuditEvent, 'hash'>): Buffer {
  const body = JSON.stringify([
    'tokumei.audit.v1',
    event.seq,
    event.at.toISOString(),
    event.actor,
    event.action,
    event.target,
    event.outcome,
    canonicalDetail(event.detail),
    event.prevHash.toString('hex'),
  ])
  return hmac(keyring.hmacKey(CHAIN_KEY_PURPOSE), body)
}

export const sameBytes = (a: Uint8Array, b: Uint8Array): boolean =>
  a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b))

function validate(event: AuditEventInput): void {
  const bad = (what: string) =>
    new TokumeiError(`Audit event refused: ${what}.`, { code: 'audit.invalid_event', kind: 'internal' })
  if (!/^[a-z][a-z0-9_.:-]{0,127}$/.test(event.action))
    throw bad(`action "${event.action}" is not a dotted lower-case name`)
  if (event.actor.length === 0 || event.actor.length > 200) throw bad('the actor is empty or too long')
  for (const [key, value] of Object.entries(event.detail ?? {})) {
    if (value !== null && typeof value === 'object') throw bad(`detail "${key}" is not a plain value`)
  }
}

/**
 * The one entry point into the audit log. Runs inside the caller's transaction when given one (the
 * event then commits or rolls back with the action it records) or in its own. The chain lock is held
 * until that transaction ends, so record events last in long transactions.
 */
export async function recordAuditEvent(
  db: Kysely<Schema>,
  keyring: Keyring,
  input: AuditEventInput,
): Promise<AuditEvent> {
  validate(input)
  const write = async (trx: Transaction<Schema> | Kysely<Schema>): Promise<AuditEvent> => {
    const { rows } = await sql<{
      seq: number | null
      hash: Uint8Array | null
    }>`select * from audit.head()`.execute(trx)
    const head = rows[0]
    const base = {
      seq: (head?.seq ?? 0) + 1,
      at: new Date(),
      actor: input.actor,
      action: input.action,
      target: input.target ?? null,
      outcome: input.outcome ?? 'ok',
      detail: { ...(input.detail ?? {}) },
      prevHash: head?.hash ? Buffer.from(head.hash) : GENESIS_HASH,
    }
    const event: AuditEvent = { ...base, hash: eventHash(keyring, base) }
    await sql`select audit.append(${event.seq}, ${event.at.toISOString()}::timestamptz, ${event.actor}, ${event.action}, ${event.target},
      ${event.outcome}, ${canonicalDetail(event.detail)}::jsonb, ${event.prevHash}, ${event.hash})`.execute(
      trx,
    )
    return event
  }
  return db.isTransaction ? write(db) : db.transaction().execute(write)
}

/** Reads events in sequence order, `limit` at a time after `afterSeq`. */
export async function readAuditEvents(
  db: Kysely<Schema>,
  afterSeq: number,
  limit: number,
): Promise<AuditEvent[]> {
  const rows = await db
    .selectFrom('audit.event')
    .selectAll()
    .where('seq', '>', afterSeq)
    .orderBy('seq')
    .limit(limit)
    .execute()
  return rows.map((row) => ({
    seq: row.seq,
    at: row.at,
    actor: row.actor,
    action: row.action,
    target: row.target,
    outcome: row.outcome,
    detail: row.detail,
    prevHash: Buffer.from(row.prev_hash),
    hash: Buffer.from(row.hash),
  }))
}
