import { type Kysely, sql } from 'kysely'
import type { Schema } from '../../db/index.js'
import type { Keyring } from '../crypto/keyring.js'
import { eventHash, GENESIS_HASH, readAuditEvents, sameBytes } from './chain.js'

const CHECKPOINT_SIGNING_PURPOSE = 'audit-checkpoint'

const checkpointMessage = (seq: number, hash: Uint8Array) =>
  Buffer.from(`tokumei.audit.checkpoint.v1\n${seq}\n${Buffer.from(hash).toString('hex')}`, 'utf8')

export interface Checkpoint {
  readonly seq: number
  readonly hash: Buffer
  readonly keyId: string
}

/**
 * Signs the current head of the chain if events arrived since the last checkpoint. Returns the new
 * checkpoint, or undefined when there was nothing new to sign.
 */
export async function writeCheckpoint(db: Kysely<Schema>, keyring: Keyring): Promise<Checkpoint | undefined> {
  return db.transaction().execute(async (trx) => {
    const { rows } = await sql<{
      seq: number | null
      hash: Uint8Array | null
    }>`select * from audit.head()`.execute(trx)
    const head = rows[0]
    if (!head?.seq || !head.hash) return undefined
    const last = await trx
      .selectFrom('audit.checkpoint')
      .select('seq')
      .orderBy('seq', 'desc')
      .limit(1)
      .executeTakeFirst()
    if (last && last.seq >= head.seq) return undefined
    const key = keyring.signingKey(CHECKPOINT_SIGNING_PURPOSE)
    const signature = keyring.sign(CHECKPOINT_SIGNING_PURPOSE, checkpointMessage(head.seq, head.hash))
    await sql`select audit.add_checkpoint(${head.seq}, ${Buffer.from(head.hash)}, ${key.keyId}, ${signature})`.execute(
      trx,
    )
    return { seq: head.seq, hash: Buffer.from(head.hash), keyId: key.keyId }
  })
}

export type AuditProblemKind =
  | 'missing'
  | 'out_of_order'
  | 'altered'
  | 'broken_link'
  | 'checkpoint_signature'
  | 'checkpoint_mismatch'
  | 'truncated'

export interface AuditProblem {
  readonly seq: number
  readonly kind: AuditProblemKind
  readonly message: string
}

export interface AuditVerification {
  readonly ok: boolean
  readonly events: number
  readonly lastSeq: number
  readonly checkpoints: number
  readonly lastCheckpointSeq: number | null
  /** The lowest sequence number where the log stops being trustworthy. */
  readonly firstBadSeq: number | null
  /** Up to 100 problems, lowest sequence first. */
  readonly problems: readonly AuditProblem[]
}

export type VerifyProgress = (checked: number) => void

/**
 * Recomputes the whole chain from the first event and checks every signed checkpoint against it.
 * Reads in batches, so memory stays flat however long the log is.
 */
export async function verifyAuditLog(
  db: Kysely<Schema>,
  keyring: Keyring,
  onProgress?: VerifyProgress,
): Promise<AuditVerification> {
  const problems: AuditProblem[] = []
  const hashes = new Map<number, Buffer>()
  const checkpoints = await db.selectFrom('audit.checkpoint').selectAll().orderBy('seq').execute()
  const pinned = new Set(checkpoints.map((c) => c.seq))

  let expected = 1
  let prevHash: Buffer = GENESIS_HASH
  let count = 0
  let cursor = Number.MIN_SAFE_INTEGER
  for (;;) {
    const batch = await readAuditEvents(db, cursor, 1000)
    if (batch.length === 0) break
    for (const event of batch) {
      cursor = event.seq
      if (event.seq < expected) {
        problems.push({
          seq: event.seq,
          kind: 'out_of_order',
          message: `event ${event.seq} is out of place: the log had already reached ${expected - 1}`,
        })
      } else if (event.seq > expected) {
        problems.push({
          seq: expected,
          kind: 'missing',
          message: `event ${expected} is missing: the log goes from ${expected - 1} to ${event.seq}`,
        })
      }
      if (!sameBytes(event.prevHash, prevHash)) {
        problems.push({
          seq: event.seq,
          kind: 'broken_link',
          message: `event ${event.seq} does not follow the event before it (its previous-hash differs)`,
        })
      }
      const { hash: _stored, ...body } = event
      if (!sameBytes(eventHash(keyring, body), event.hash)) {
        problems.push({
          seq: event.seq,
          kind: 'altered',
          message: `event ${event.seq} was altered, reordered or inserted: its content does not match its hash`,
        })
      }
      if (pinned.has(event.seq)) hashes.set(event.seq, event.hash)
      prevHash = event.hash
      expected = Math.max(expected, event.seq + 1)
      count++
    }
    onProgress?.(count)
  }
  const lastSeq = expected - 1

  const expectedKeyId = keyring.signingKey(CHECKPOINT_SIGNING_PURPOSE).keyId
  for (const checkpoint of checkpoints) {
    // Verify with our own key, never with a key named in the row: a forger could name theirs.
    const signed =
      checkpoint.key_id === expectedKeyId &&
      keyring.verifySignature(
        CHECKPOINT_SIGNING_PURPOSE,
        checkpointMessage(checkpoint.seq, checkpoint.hash),
        checkpoint.signature,
      )
    if (!signed) {
      problems.push({
        seq: checkpoint.seq,
        kind: 'checkpoint_signature',
        message: `the checkpoint at event ${checkpoint.seq} does not carry this agency's signature`,
      })
      continue
    }
    if (checkpoint.seq > lastSeq) {
      problems.push({
        seq: lastSeq + 1,
        kind: 'truncated',
        message: `events ${lastSeq + 1} to ${checkpoint.seq} were removed: a signed checkpoint covers event ${checkpoint.seq}`,
      })
      continue
    }
    const actual = hashes.get(checkpoint.seq)
    if (!actual || !sameBytes(actual, checkpoint.hash)) {
      problems.push({
        seq: checkpoint.seq,
        kind: 'checkpoint_mismatch',
        message: `the chain at event ${checkpoint.seq} differs from what the signed checkpoint recorded`,
      })
    }
  }

  problems.sort((a, b) => a.seq - b.seq)
  const last = checkpoints.at(-1)
  return {
    ok: problems.length === 0,
    events: count,
    lastSeq,
    checkpoints: checkpoints.length,
    lastCheckpointSeq: last ? last.seq : null,
    firstBadSeq: problems[0]?.seq ?? null,
    problems: problems.slice(0, 100),
  }
}
