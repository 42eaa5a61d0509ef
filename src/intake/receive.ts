import { createHash } from 'node:crypto'
import type { Readable } from 'node:stream'
import { createGunzip } from 'node:zlib'
import { type Kysely, sql } from 'kysely'
import { extract } from 'tar-stream'
import type { IntakeSettings } from '../config/index.js'
import type { DeclaredFormat, Schema } from '../db/index.js'
import { enqueueJob } from '../jobs/index.js'
import { TokumeiError } from '../model/index.js'
import { type Keyring, recordAuditEvent } from '../security/index.js'
import { checkRelativePath, detectFormat, displayPath, inflateFile } from './files.js'
import { submissionNotFound } from './listing.js'

/**
 * The gateway's half of intake: a submission is opened, its files arrive (one by one, in batches, or
 * as a tar archive), each is checked, encrypted into the spool or quarantined, and the sealed
 * submission gets a signed receipt (受領記録) and a job for the core. Runs with the gateway's
 * database role: it writes intake and jobs, and reads nothing clinical.
 */
type Db = Kysely<Schema>

export interface ReceiveContext {
  readonly db: Db
  readonly keyring: Keyring
  readonly settings: IntakeSettings
  readonly actor: string
  readonly maxAttempts: number
}

export interface IncomingFile {
  readonly path: string
  readonly bytes: Uint8Array
}

export interface FileOutcome {
  readonly path: string
  readonly status: 'spooled' | 'replaced' | 'quarantined'
  readonly reason?: string
}

export const spoolContext = (submissionId: number, pathHash: Uint8Array, column: 'payload' | 'path_enc') => ({
  table: 'intake.spool_item',
  column,
  row: `${submissionId}:${Buffer.from(pathHash).toString('hex')}`,
})

/** A spooled file's path and content, decrypted (core zone only: the gateway never reads them back). */
export function openSpoolItem(
  keyring: Keyring,
  submissionId: number,
  item: {
    readonly path_hash: Uint8Array
    readonly path_enc: Uint8Array
    readonly payload: Uint8Array | null
  },
): { path: string; bytes: Buffer } {
  if (!item.payload) throw new Error('spool item without payload')
  return {
    path: keyring.decryptText('spool', item.path_enc, spoolContext(submissionId, item.path_hash, 'path_enc')),
    bytes: keyring.decrypt('spool', item.payload, spoolContext(submissionId, item.path_hash, 'payload')),
  }
}

export async function openSubmission(
  context: ReceiveContext,
  input: { institutionId: number; declaredFormat: DeclaredFormat; channel: 'api' | 'cli' },
): Promise<number> {
  const row = await context.db
    .insertInto('intake.submission')
    .values({
      institution_id: input.institutionId,
      declared_format: input.declaredFormat,
      channel: input.channel,
      submitted_by: context.actor,
    })
    .returning('id')
    .executeTakeFirstOrThrow()
  return row.id
}

export interface OpenSubmission {
  readonly id: number
  readonly institutionId: number
  readonly declaredFormat: DeclaredFormat
}

async function receivingSubmission(db: Db, id: number, institutionId?: number): Promise<OpenSubmission> {
  const row = await db
    .selectFrom('intake.submission')
    .select(['id', 'institution_id', 'declared_format', 'status'])
    .where('id', '=', id)
    .executeTakeFirst()
  if (!row || (institutionId !== undefined && row.institution_id !== institutionId))
    throw submissionNotFound(id)
  if (row.status !== 'receiving')
    throw new TokumeiError(`Submission ${id} is sealed (${row.status}): open a new one to send more files.`, {
      code: 'submission.sealed',
      kind: 'conflict',
    })
  return { id: row.id, institutionId: row.institution_id, declaredFormat: row.declared_format }
}

async function quarantineAtReceipt(
  db: Db,
  submissionId: number,
  entries: ReadonlyArray<{ path: string; code: string; reason: string }>,
): Promise<void> {
  if (entries.length === 0) return
  await db
    .insertInto('intake.quarantine')
    .values(
      entries.map((e) => ({
        submission_id: submissionId,
        item_seq: null,
        display_path: e.path,
        position: '{}',
        code: e.code,
        reason: e.reason,
      })),
    )
    .execute()
}

/** A path safe to show even when it was refused: control characters removed, digits masked. */
const shownPath = (raw: string) =>
  displayPath(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: they are what is removed.
    raw.replace(/[\u0000-\u001f\u007f]/g, '?').slice(0, 200),
  )

/**
 * Checks, encrypts and spools files of an open submission, in one transaction. A file sent again under
 * the same path replaces the earlier one (so an interrupted upload can simply be resumed).
 */
export async function receiveFiles(
  context: ReceiveContext,
  submissionId: number,
  files: readonly IncomingFile[],
  institutionId?: number,
): Promise<FileOutcome[]> {
  const { db, keyring, settings } = context
  const submission = await receivingSubmission(db, submissionId, institutionId)
  const outcomes: FileOutcome[] = []
  const refused: Array<{ path: string; code: string; reason: string }> = []
  const accepted: Array<{
    pathHash: Buffer
    pathEnc: Buffer
    display: string
    format: string
    category: string
    size: number
    sha256: Buffer
    payload: Buffer
  }> = []
  for (const file of files) {
    const checked = checkRelativePath(file.path)
    if (!checked.ok) {
      const path = shownPath(file.path)
      refused.push({ path, code: 'intake.bad_path', reason: checked.reason })
      outcomes.push({ path, status: 'quarantined', reason: checked.reason })
      continue
    }
    const inflated = inflateFile(checked.path, file.bytes, settings.maxFileBytes)
    if (!inflated.ok) {
      const path = displayPath(checked.path)
      refused.push({ path, code: inflated.code, reason: inflated.reason })
      outcomes.push({ path, status: 'quarantined', reason: inflated.reason })
      continue
    }
    const display = displayPath(inflated.path)
    const detected = detectFormat(inflated.path, inflated.bytes, submission.declaredFormat)
    if (!detected) {
      const reason = 'no reader fits this file (SS-MIX2 storage name, .UKE, .ndjson/.json, or DICOM Part 10)'
      refused.push({ path: display, code: 'intake.unknown_format', reason })
      outcomes.push({ path: display, status: 'quarantined', reason })
      continue
    }
    const pathHash = keyring.keyedHash('spool-path', `${submissionId}\u0000${inflated.path}`)
    accepted.push({
      pathHash,
      pathEnc: keyring.encrypt('spool', inflated.path, spoolContext(submissionId, pathHash, 'path_enc')),
      display,
      format: detected.format,
      category: detected.category,
      size: inflated.bytes.length,
      sha256: createHash('sha256').update(inflated.bytes).digest(),
      payload: keyring.encrypt('spool', inflated.bytes, spoolContext(submissionId, pathHash, 'payload')),
    })
    outcomes.push({ path: display, status: 'spooled' })
  }
  await db.transaction().execute(async (trx) => {
    await quarantineAtReceipt(trx, submissionId, refused)
    if (accepted.length === 0) return
    // Reserve sequence numbers by moving the submission's file counter (also locks the row).
    const reserved = await trx
      .updateTable('intake.submission')
      .set({ files: sql`files + ${accepted.length}` })
      .where('id', '=', submissionId)
      .where('status', '=', 'receiving')
      .returning('files')
      .executeTakeFirst()
    if (!reserved)
      throw new TokumeiError(`Submission ${submissionId} was sealed meanwhile.`, {
        code: 'submission.sealed',
        kind: 'conflict',
      })
    const first = reserved.files - accepted.length + 1
    const { rows } = await sql<{ replaced: boolean }>`
      insert into intake.spool_item (submission_id, seq, format, category, path_hash, path_enc, display_path, size, sha256, payload)
      select ${submissionId}, * from unnest(
        ${accepted.map((_, i) => first + i)}::int[], ${accepted.map((a) => a.format)}::text[],
        ${accepted.map((a) => a.category)}::text[], ${accepted.map((a) => a.pathHash)}::bytea[],
        ${accepted.map((a) => a.pathEnc)}::bytea[], ${accepted.map((a) => a.display)}::text[],
        ${accepted.map((a) => a.size)}::bigint[], ${accepted.map((a) => a.sha256)}::bytea[],
        ${accepted.map((a) => a.payload)}::bytea[])
      on conflict (submission_id, path_hash) do update
        set format = excluded.format, category = excluded.category, path_enc = excluded.path_enc,
            size = excluded.size, sha256 = excluded.sha256, payload = excluded.payload
      returning (xmax <> 0) as replaced`.execute(trx)
    let index = 0
    for (let i = 0; i < outcomes.length; i++) {
      if (outcomes[i]?.status !== 'spooled') continue
      if (rows[index]?.replaced) outcomes[i] = { ...(outcomes[i] as FileOutcome), status: 'replaced' }
      index++
    }
  })
  return outcomes
}

/** The SHA-256 of a file already spooled under this path, for clients resuming an upload. */
export async function spooledFileDigest(
  context: ReceiveContext,
  submissionId: number,
  path: string,
): Promise<string | undefined> {
  const checked = checkRelativePath(path)
  if (!checked.ok) return undefined
  const pathHash = context.keyring.keyedHash(
    'spool-path',
    `${submissionId}\u0000${checked.path.replace(/\.gz$/i, '')}`,
  )
  const row = await context.db
    .selectFrom('intake.spool_item')
    .select('sha256')
    .where('submission_id', '=', submissionId)
    .where('path_hash', '=', pathHash)
    .executeTakeFirst()
  return row ? Buffer.from(row.sha256).toString('hex') : undefined
}

/**
 * Reads a tar archive (optionally gzip-compressed) entry by entry and spools its files in batches.
 * Links and special files are quarantined; so is an archive that inflates beyond reason.
 */
export async function receiveArchive(
  context: ReceiveContext,
  submissionId: number,
  archive: Readable,
  institutionId?: number,
): Promise<FileOutcome[]> {
  await receivingSubmission(context.db, submissionId, institutionId)
  const outcomes: FileOutcome[] = []
  const head = await peek(archive, 2)
  const gzip = head[0] === 0x1f && head[1] === 0x8b
  let compressedBytes = 0
  let inflatedBytes = 0
  const limit = context.settings.maxFileBytes
  archive.on('data', (chunk: Buffer) => {
    compressedBytes += chunk.length
  })
  const source: Readable = gzip ? archive.pipe(createGunzip()) : archive
  const entries = extract()
  source.pipe(entries)
  source.on('error', (error) => entries.destroy(error))
  let batch: IncomingFile[] = []
  let batchBytes = 0
  const flush = async () => {
    if (batch.length === 0) return
    outcomes.push(...(await receiveFiles(context, submissionId, batch, institutionId)))
    batch = []
    batchBytes = 0
  }
  const refuse = async (path: string, code: string, reason: string) => {
    const shown = shownPath(path)
    await quarantineAtReceipt(context.db, submissionId, [{ path: shown, code, reason }])
    outcomes.push({ path: shown, status: 'quarantined', reason })
  }
  try {
    for await (const entry of entries) {
      const header = entry.header
      if (header.type === 'directory') {
        entry.resume()
        continue
      }
      if (header.type !== 'file' && header.type !== 'contiguous-file') {
        entry.resume()
        await refuse(
          header.name,
          'intake.not_a_file',
          `the archive entry is a ${header.type}, not a regular file`,
        )
        continue
      }
      if ((header.size ?? 0) > limit) {
        entry.resume()
        await refuse(header.name, 'intake.too_large', `the file is larger than the ${limit}-byte limit`)
        continue
      }
      const chunks: Buffer[] = []
      for await (const chunk of entry) chunks.push(chunk as Buffer)
      const bytes = Buffer.concat(chunks)
      inflatedBytes += bytes.length
      // A gzip stream that inflates a thousandfold past 64 MiB is a bomb, not a storage tree.
      if (gzip && inflatedBytes > 64 * 1024 ** 2 && inflatedBytes > 1000 * Math.max(compressedBytes, 1)) {
        await refuse(
          header.name,
          'intake.compression_bomb',
          'the archive inflates more than a thousandfold (a compression bomb?)',
        )
        archive.destroy()
        break
      }
      batch.push({ path: header.name, bytes })
      batchBytes += bytes.length
      if (batch.length >= 500 || batchBytes >= 32 * 1024 ** 2) await flush()
    }
  } catch (error) {
    if (error instanceof TokumeiError) throw error
    await refuse(
      '(archive)',
      'intake.bad_archive',
      'the archive is corrupt or truncated; the files before the damage were kept',
    )
  }
  await flush()
  return outcomes
}

async function peek(stream: Readable, bytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const onReadable = () => {
      const chunk = stream.read() as Buffer | null
      if (chunk === null) return
      stream.off('readable', onReadable)
      stream.off('error', reject)
      stream.off('end', onEnd)
      stream.unshift(chunk)
      resolve(chunk.subarray(0, bytes))
    }
    const onEnd = () => resolve(Buffer.alloc(0))
    stream.on('readable', onReadable)
    stream.once('error', reject)
    stream.once('end', onEnd)
  })
}

export interface Receipt {
  readonly submission: number
  readonly institution: string
  readonly receivedAt: string
  readonly status: 'received' | 'duplicate' | 'processed'
  readonly duplicateOf: number | null
  readonly files: number
  readonly bytes: number
  readonly duplicateFiles: number
  readonly quarantinedAtReceipt: number
  /** Data categories (SS-MIX2 data types, uke, fhir, dicom) → files. */
  readonly categories: Readonly<Record<string, number>>
  /** SHA-256 over the sorted SHA-256s (hex, one per line) of the files received. */
  readonly sha256: string
  readonly retainUntil: string
  readonly signature: { readonly keyId: string; readonly ed25519: string }
}

/**
 * Closes a submission: files already received from the institution are marked duplicates, the
 * receipt is written and signed, the core is given a job, and the receipt is audited
 * (`intake.received`) — all in one transaction. Sealing twice returns the same receipt.
 */
export async function sealSubmission(
  context: ReceiveContext,
  submissionId: number,
  institutionId?: number,
): Promise<Receipt> {
  const { db, keyring, settings } = context
  const existing = await readReceipt(db, submissionId, institutionId)
  if (existing) return existing
  const submission = await receivingSubmission(db, submissionId, institutionId)
  return db.transaction().execute(async (trx) => {
    const locked = await trx
      .selectFrom('intake.submission as s')
      .innerJoin('governance.institution as i', 'i.id', 's.institution_id')
      .select(['s.status', 's.channel', 'i.code'])
      .where('s.id', '=', submissionId)
      .forUpdate('s')
      .executeTakeFirstOrThrow()
    if (locked.status !== 'receiving')
      throw new TokumeiError(`Submission ${submissionId} was sealed meanwhile.`, {
        code: 'submission.sealed',
        kind: 'conflict',
      })
    const items = await trx
      .selectFrom('intake.spool_item')
      .select(['seq', 'sha256', 'size', 'category'])
      .where('submission_id', '=', submissionId)
      .orderBy('seq')
      .execute()
    const quarantined = await trx
      .selectFrom('intake.quarantine')
      .select(sql<number>`count(*)::int`.as('n'))
      .where('submission_id', '=', submissionId)
      .executeTakeFirstOrThrow()
    if (items.length === 0 && quarantined.n === 0)
      throw new TokumeiError(`Submission ${submissionId} has no files: send at least one before sealing.`, {
        code: 'submission.empty',
        kind: 'invalid',
      })
    // Content seen before (from this institution, in any earlier submission or earlier in this one).
    const seen = new Set<string>()
    const duplicates: number[] = []
    const fresh: Array<{ sha256: Uint8Array }> = []
    for (let start = 0; start < items.length; start += 5000) {
      const page = items.slice(start, start + 5000)
      const known = await trx
        .selectFrom('intake.item_digest')
        .select('sha256')
        .where('institution_id', '=', submission.institutionId)
        .where('sha256', '=', sql<Uint8Array>`any(${page.map((i) => Buffer.from(i.sha256))}::bytea[])`)
        .execute()
      for (const k of known) seen.add(Buffer.from(k.sha256).toString('hex'))
      for (const item of page) {
        const digest = Buffer.from(item.sha256).toString('hex')
        if (seen.has(digest)) duplicates.push(item.seq)
        else {
          seen.add(digest)
          fresh.push(item)
        }
      }
    }
    for (let start = 0; start < fresh.length; start += 5000) {
      const page = fresh.slice(start, start + 5000)
      await sql`insert into intake.item_digest (institution_id, sha256, submission_id)
        select ${submission.institutionId}, d, ${submissionId} from unnest(${page.map((i) => Buffer.from(i.sha256))}::bytea[]) as u(d)
        on conflict do nothing`.execute(trx)
    }
    for (let start = 0; start < duplicates.length; start += 5000) {
      await trx
        .updateTable('intake.spool_item')
        .set({ status: 'duplicate', payload: null })
        .where('submission_id', '=', submissionId)
        .where('seq', '=', sql<number>`any(${duplicates.slice(start, start + 5000)}::int[])`)
        .execute()
    }
    const digests = items.map((i) => Buffer.from(i.sha256).toString('hex')).sort()
    const contentSha256 = createHash('sha256')
      .update(digests.map((d) => `${d}\n`).join(''))
      .digest()
    const allDuplicates = items.length > 0 && fresh.length === 0
    const earlier = allDuplicates
      ? await trx
          .selectFrom('intake.submission')
          .select('id')
          .where('institution_id', '=', submission.institutionId)
          .where('content_sha256', '=', contentSha256)
          .where('id', '<>', submissionId)
          .orderBy('id')
          .executeTakeFirst()
      : undefined
    // Nothing new: a duplicate; nothing spooled at all (every file quarantined): nothing left to do.
    const status = fresh.length > 0 ? 'received' : items.length > 0 ? 'duplicate' : 'processed'
    const receivedAt = new Date()
    const retainUntil = new Date(receivedAt)
    retainUntil.setUTCFullYear(retainUntil.getUTCFullYear() + settings.receiptRetentionYears)
    const categories: Record<string, number> = {}
    for (const item of items) categories[item.category] = (categories[item.category] ?? 0) + 1
    const body = {
      submission: submissionId,
      institution: locked.code,
      receivedAt: receivedAt.toISOString(),
      status,
      duplicateOf: earlier?.id ?? null,
      files: items.length,
      bytes: items.reduce((sum, i) => sum + i.size, 0),
      duplicateFiles: duplicates.length,
      quarantinedAtReceipt: quarantined.n,
      categories,
      sha256: contentSha256.toString('hex'),
      retainUntil: retainUntil.toISOString().slice(0, 10),
    } as const
    const signing = keyring.signingKey('intake-receipt')
    const signature = keyring.sign('intake-receipt', canonicalJson(body))
    await trx
      .insertInto('intake.receipt')
      .values({
        submission_id: submissionId,
        institution_id: submission.institutionId,
        received_at: receivedAt,
        body: JSON.stringify(body),
        content_sha256: contentSha256,
        retain_until: body.retainUntil,
        key_id: signing.keyId,
        signature,
      })
      .execute()
    await trx
      .updateTable('intake.submission')
      .set({
        status,
        received_at: receivedAt,
        ...(status === 'processed' ? { processed_at: receivedAt } : {}),
        content_sha256: contentSha256,
        duplicate_of: earlier?.id ?? null,
        counts: JSON.stringify({
          files: items.length,
          duplicate_files: duplicates.length,
          quarantined: quarantined.n,
        }),
      })
      .where('id', '=', submissionId)
      .execute()
    if (status === 'received') {
      await enqueueJob(
        trx,
        {
          kind: 'intake.process',
          payload: { submission: submissionId },
          idempotencyKey: `intake.process:${submissionId}`,
        },
        { maxAttempts: context.maxAttempts },
      )
    }
    // The audit event last: it holds the audit chain's lock until the transaction ends.
    await recordAuditEvent(trx, keyring, {
      actor: context.actor,
      action: 'intake.received',
      target: `submission:${submissionId}`,
      detail: { institution: locked.code, files: items.length, status, channel: locked.channel },
    })
    return { ...body, signature: { keyId: signing.keyId, ed25519: signature.toString('base64') } }
  })
}

export async function readReceipt(
  db: Db,
  submissionId: number,
  institutionId?: number,
): Promise<Receipt | undefined> {
  const row = await db
    .selectFrom('intake.receipt')
    .select(['body', 'key_id', 'signature', 'institution_id'])
    .where('submission_id', '=', submissionId)
    .executeTakeFirst()
  if (!row || (institutionId !== undefined && row.institution_id !== institutionId)) return undefined
  const body = row.body as unknown as Omit<Receipt, 'signature'>
  return { ...body, signature: { keyId: row.key_id, ed25519: Buffer.from(row.signature).toString('base64') } }
}

/**
 * Deletes the receipts whose retention (`intake.receiptRetentionYears` from their receipt) ended
 * before `today` (YYYY-MM-DD); the submission rows stay. Returns how many were deleted.
 */
export async function purgeExpiredReceipts(db: Db, today: string): Promise<number> {
  const result = await db.deleteFrom('intake.receipt').where('retain_until', '<', today).executeTakeFirst()
  return Number(result.numDeletedRows)
}

/** Checks a receipt's signature against the agency's receipt key. */
export function verifyReceipt(keyring: Keyring, receipt: Receipt): boolean {
  const { signature, ...body } = receipt
  return keyring.verifySignature(
    'intake-receipt',
    canonicalJson(body),
    Buffer.from(signature.ed25519, 'base64'),
  )
}

/** JSON with object keys sorted at every level: what is signed must not depend on key order. */
export function canonicalJson(value: unknown): Buffer {
  const sorted = (v: unknown): unknown =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v as object)
            .sort()
            .map((k) => [k, sorted((v as Record<string, unknown>)[k])]),
        )
      : Array.isArray(v)
        ? v.map(sorted)
        : v
  return Buffer.from(JSON.stringify(sorted(value)), 'utf8')
}
