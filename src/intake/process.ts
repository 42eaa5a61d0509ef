import { type Kysely, sql } from 'kysely'
import {
  applySourceVersions,
  type ClinicalRow,
  insertClinicalRows,
  type ObjectStore,
  refreshHoldings,
  upsertDemographics,
  type VersionedMessage,
} from '../clinical/index.js'
import type { IntakeSettings } from '../config/index.js'
import type { ItemFormat, Schema } from '../db/index.js'
import {
  areaOf,
  findOptOuts,
  findVaultPatients,
  hex,
  type IdentityWrite,
  localPatientHash,
  lockInstitutionVault,
  mergeIdentity,
  storeIdentities,
} from '../identity/index.js'
import type { PatientIdentity } from '../model/index.js'
import { TokumeiError } from '../model/index.js'
import { type AuditEventInput, type Keyring, recordAuditEvent } from '../security/index.js'
import { earliestDate, noticeDecision } from './gate.js'
import { submissionNotFound } from './listing.js'
import { checkRecord, type ParsedItem, type ParsedRecord, type Position, parseSpoolFile } from './parse.js'
import { openSpoolItem } from './receive.js'

/**
 * The core's half of intake: parse → opt-out and notice gate → identity vault → clinical store, a
 * batch of spool items per transaction. A batch is stored entirely or not at all, and marks its items
 * done in the same transaction, so a worker killed at any point and restarted stores every record
 * exactly once.
 */
type Db = Kysely<Schema>

export interface CoreIntakeContext {
  readonly db: Db
  readonly keyring: Keyring
  readonly settings: IntakeSettings
  readonly objects: ObjectStore
  audit(event: Omit<AuditEventInput, 'actor'>): Promise<unknown>
  /** Who runs the work: named by every identity-vault read (`identity.read`). */
  readonly actor: string
  /** The job this work is part of; a vault read outside a job that reads the vault is an alert. */
  readonly job?: { readonly id: number; readonly kind: string }
  /** Today as YYYY-MM-DD (tests move the clock through configuration, never here). */
  readonly today?: () => string
}

export interface ProcessCounts {
  /** Spool files processed (the receipt's `files` counts those received). */
  processed_files: number
  records: number
  stored: number
  held: number
  refused: number
  quarantined: number
  superseded: number
  rows: number
}

const emptyCounts = (): ProcessCounts => ({
  processed_files: 0,
  records: 0,
  stored: 0,
  held: 0,
  refused: 0,
  quarantined: 0,
  superseded: 0,
  rows: 0,
})

interface InstitutionRef {
  readonly id: number
  readonly code: string
  readonly noticeStart: string
}

/** A record on its way through the gate, with where it came from. */
interface Candidate {
  readonly submissionId: number
  readonly seq: number
  readonly record: ParsedRecord
  readonly hash: Buffer
  /** The day its submission was received (UTC): the latest a patient without dated records was seen. */
  readonly receivedOn?: string
}

const dayOf = (at: Date | null) => (at ? at.toISOString().slice(0, 10) : undefined)

interface QuarantineRow {
  readonly submission_id: number
  readonly item_seq: number | null
  readonly display_path: string
  readonly position: string
  readonly code: string
  readonly reason: string
}

const todayIso = () => new Date().toISOString().slice(0, 10)

/** Problem texts name the file by its raw path; what is stored names it by the masked one. */
function maskPath(reason: string, path: string, display: string): string {
  const fileName = path.split('/').at(-1) ?? path
  const displayName = display.split('/').at(-1) ?? display
  return reason.replaceAll(path, display).replaceAll(fileName, displayName)
}

export async function processSubmission(
  context: CoreIntakeContext,
  submissionId: number,
  options: {
    signal?: AbortSignal
    onProgress?: (done: number, total: number) => void
    /** Called before each batch, e.g. to renew the job's lease. */
    onBatch?: () => Promise<void>
  } = {},
): Promise<ProcessCounts> {
  const { db } = context
  const submission = await db
    .selectFrom('intake.submission as s')
    .innerJoin('governance.institution as i', 'i.id', 's.institution_id')
    .select([
      's.status',
      's.counts',
      's.received_at',
      'i.id',
      'i.code',
      sql<string>`i.notice_start::text`.as('notice_start'),
    ])
    .where('s.id', '=', submissionId)
    .executeTakeFirst()
  if (!submission) throw submissionNotFound(submissionId)
  if (submission.status === 'processed' || submission.status === 'duplicate')
    return { ...emptyCounts(), ...(submission.counts as Partial<ProcessCounts>) }
  if (submission.status === 'receiving')
    throw new TokumeiError(`Submission ${submissionId} is not sealed yet.`, {
      code: 'submission.not_sealed',
      kind: 'conflict',
    })
  const institution: InstitutionRef = {
    id: submission.id,
    code: submission.code,
    noticeStart: submission.notice_start,
  }
  await db
    .updateTable('intake.submission')
    .set({ status: 'processing' })
    .where('id', '=', submissionId)
    .execute()

  await releaseHeldRecords(context)
  const fhirPatients = await collectFhirPatients(context, submissionId)
  const total = await countSpoolItems(db, submissionId, 'to process')
  for (;;) {
    if (options.signal?.aborted) break
    await options.onBatch?.()
    const taken = await db.transaction().execute(async (trx) => {
      // The batch's rows stay locked until the batch commits: a second worker on the same submission
      // (one that took over a lease while the first still ran) skips them instead of storing them twice.
      const items = await trx
        .selectFrom('intake.spool_item')
        .select(['seq', 'format', 'path_hash', 'path_enc', 'payload', 'display_path'])
        .where('submission_id', '=', submissionId)
        .where('status', '=', 'pending')
        .orderBy('seq')
        .limit(context.settings.batchItems)
        .forUpdate()
        .skipLocked()
        .execute()
      if (items.length === 0) return 0
      const counts = emptyCounts()
      const quarantine: QuarantineRow[] = []
      const candidates: Candidate[] = []
      for (const item of items) {
        counts.processed_files++
        const { path, bytes } = openSpoolItem(context.keyring, submissionId, item)
        const parsed = parseOrQuarantine(item.format as ItemFormat, path, bytes)
        const refuse = (position: Position, code: string, reason: string) =>
          quarantine.push({
            submission_id: submissionId,
            item_seq: item.seq,
            display_path: item.display_path,
            position: JSON.stringify(position),
            code,
            reason: maskPath(reason, path, item.display_path),
          })
        for (const problem of parsed.problems) refuse(problem.position, problem.code, problem.reason)
        const records: ParsedRecord[] = [
          // A FHIR Patient is a record of its own: it brings the identity even when no item follows.
          ...parsed.fhirPatients.map((p) => ({
            record: { source: path, identity: p.identity, items: [] },
            position: { line: p.line },
          })),
          ...parsed.records,
        ]
        for (const parsedRecord of records) {
          let record = parsedRecord.record
          if (parsedRecord.fhirPatient !== undefined) {
            const identity = fhirPatients.get(parsedRecord.fhirPatient)
            if (!identity) {
              refuse(
                parsedRecord.position,
                'fhir.unknown_patient',
                'the resources refer to a Patient that is not in this submission: send Patient resources with them',
              )
              continue
            }
            record = { ...record, identity }
          }
          const bad = checkRecord(record, context.settings.maxFieldChars)
          if (bad || record.identity.localId.trim() === '') {
            refuse(parsedRecord.position, 'intake.bad_record', bad ?? 'the record names no patient ID')
            continue
          }
          candidates.push({
            submissionId,
            seq: item.seq,
            record: { ...parsedRecord, record },
            hash: localPatientHash(context.keyring, institution.code, record.identity.localId),
            receivedOn: dayOf(submission.received_at),
          })
        }
      }
      counts.quarantined = quarantine.length
      counts.records = candidates.length
      const stored = await storeCandidates(trx, context, institution, candidates)
      Object.assign(counts, addCounts(counts, stored))
      if (quarantine.length > 0) await trx.insertInto('intake.quarantine').values(quarantine).execute()
      // A processed payload is dropped at once: its records are in the vault, the store or the held
      // table now. FHIR files stay until the submission is done, as their Patients serve later batches.
      await trx
        .updateTable('intake.spool_item')
        .set({ status: 'done', payload: sql`case when format = 'fhir' then payload end` })
        .where('submission_id', '=', submissionId)
        .where('seq', '=', sql<number>`any(${items.map((i) => i.seq)}::int[])`)
        .execute()
      await addToCounts(trx, submissionId, counts)
      return items.length
    })
    if (taken === 0) break
    options.onProgress?.(await countSpoolItems(db, submissionId, 'done'), total)
  }
  if (options.signal?.aborted) return storedCounts(db, submissionId)
  const left = await countSpoolItems(db, submissionId, 'pending')
  if (left > 0)
    throw new TokumeiError(
      `Submission ${submissionId} still has ${left} file(s) in another worker's hands; it is finished when they are.`,
      { code: 'submission.busy', kind: 'unavailable' },
    )
  // A patient whose records in one batch were all undated was held as if first seen today; their
  // dated records in later batches have put them in the vault since, so they pass now.
  const regated = await releaseHeldRecords(context, { submissionId })
  if (regated.released > 0)
    await db.transaction().execute((trx) =>
      addToCounts(trx, submissionId, {
        held: -regated.released,
        stored: regated.stored,
        superseded: regated.superseded,
        rows: regated.rows,
      }),
    )
  const final = await db.transaction().execute(async (trx) => {
    const row = await trx
      .updateTable('intake.submission')
      .set({ status: 'processed', processed_at: new Date() })
      .where('id', '=', submissionId)
      .where('status', '=', 'processing')
      .returning('counts')
      .executeTakeFirst()
    // Another worker finished it a moment ago: its counts are the submission's.
    if (!row) return undefined
    await trx
      .updateTable('intake.spool_item')
      .set({ payload: null })
      .where('submission_id', '=', submissionId)
      .where('payload', 'is not', null)
      .execute()
    await refreshHoldings(trx, institution.id)
    return { ...emptyCounts(), ...(row.counts as Partial<ProcessCounts>) }
  })
  if (!final) return storedCounts(db, submissionId)
  await context.audit({
    action: 'intake.processed',
    target: `submission:${submissionId}`,
    detail: {
      institution: institution.code,
      files: final.processed_files,
      records: final.records,
      stored: final.stored,
      held: final.held,
      refused: final.refused,
      quarantined: final.quarantined,
    },
  })
  return final
}

async function countSpoolItems(
  db: Db,
  submissionId: number,
  which: 'to process' | 'pending' | 'done',
): Promise<number> {
  const row = await db
    .selectFrom('intake.spool_item')
    .select(sql<number>`count(*)::int`.as('n'))
    .where('submission_id', '=', submissionId)
    .where('status', which === 'to process' ? '<>' : '=', which === 'to process' ? 'duplicate' : which)
    .executeTakeFirstOrThrow()
  return row.n
}

/** The counts the submission's batches have added up so far. */
async function storedCounts(db: Db, submissionId: number): Promise<ProcessCounts> {
  const row = await db
    .selectFrom('intake.submission')
    .select('counts')
    .where('id', '=', submissionId)
    .executeTakeFirstOrThrow()
  return { ...emptyCounts(), ...(row.counts as Partial<ProcessCounts>) }
}

/**
 * A reader that fails other than by reporting a problem (a defect of ours, which the fuzz tests hunt)
 * must not stop the submission: the file is quarantined, and the error's text, which may quote the
 * file, is not kept.
 */
function parseOrQuarantine(format: ItemFormat, path: string, bytes: Uint8Array): ParsedItem {
  try {
    return parseSpoolFile(format, path, bytes)
  } catch (error) {
    return {
      records: [],
      fhirPatients: [],
      problems: [
        {
          position: {},
          code: 'intake.reader_failed',
          reason: `the ${format} reader failed on this file (${error instanceof Error ? error.name : 'error'}); report it to the tokumei maintainers`,
        },
      ],
    }
  }
}

function addCounts(a: ProcessCounts, b: Partial<ProcessCounts>): ProcessCounts {
  const out = { ...a }
  for (const [key, value] of Object.entries(b)) out[key as keyof ProcessCounts] += value ?? 0
  return out
}

function sumCounts(current: Record<string, number>, add: Partial<ProcessCounts>): Record<string, number> {
  const out: Record<string, number> = { ...current }
  for (const [key, value] of Object.entries(add)) out[key] = (out[key] ?? 0) + (value ?? 0)
  return out
}

/** The submission's counts plus `add`, under its row lock (batches of two workers add up). */
async function addToCounts(trx: Db, submissionId: number, add: Partial<ProcessCounts>): Promise<void> {
  const current = await trx
    .selectFrom('intake.submission')
    .select('counts')
    .where('id', '=', submissionId)
    .forUpdate()
    .executeTakeFirstOrThrow()
  await trx
    .updateTable('intake.submission')
    .set({ counts: JSON.stringify(sumCounts(current.counts, add)) })
    .where('id', '=', submissionId)
    .execute()
}

/** FHIR Patient resources of the whole submission, by the id other resources refer to them with. */
async function collectFhirPatients(
  context: CoreIntakeContext,
  submissionId: number,
): Promise<Map<string, PatientIdentity>> {
  const patients = new Map<string, PatientIdentity>()
  const items = await context.db
    .selectFrom('intake.spool_item')
    .select(['seq', 'path_hash', 'path_enc', 'payload'])
    .where('submission_id', '=', submissionId)
    .where('format', '=', 'fhir')
    .where('payload', 'is not', null)
    .orderBy('seq')
    .execute()
  for (const item of items) {
    const { path, bytes } = openSpoolItem(context.keyring, submissionId, item)
    for (const patient of parseSpoolFile('fhir', path, bytes).fhirPatients) {
      patients.set(patient.ref, patient.identity)
      // Resources may refer to `Patient/<id>` while the Patient's own id is bare, or the other way round.
      patients.set(patient.ref.replace(/^Patient\//, ''), patient.identity)
    }
  }
  return patients
}

const heldContext = (submissionId: number, seq: number, hash: Uint8Array) => ({
  table: 'intake.held_record',
  column: 'record_enc',
  row: `${submissionId}:${seq}:${hex(hash)}`,
})

/**
 * The gate and the writes for records that passed parsing: refusals stop here (nothing is kept),
 * patients inside their notice period are held (encrypted), the rest go to the vault and the store.
 */
async function storeCandidates(
  db: Db,
  context: CoreIntakeContext,
  institution: InstitutionRef,
  candidates: readonly Candidate[],
): Promise<Partial<ProcessCounts>> {
  const read = { patients: 0 }
  const counts = await gateAndStore(db, context, institution, candidates, read)
  // Every vault read is an audit event, the batch transaction's last write (the audit chain's lock is
  // held from here to the commit only), so that the monitor sees which job read how many identities.
  if (read.patients > 0)
    await recordAuditEvent(db, context.keyring, {
      actor: context.actor,
      action: 'identity.read',
      target: `institution:${institution.code}`,
      detail: { patients: read.patients, job: context.job?.id ?? null, kind: context.job?.kind ?? null },
    })
  return counts
}

async function gateAndStore(
  db: Db,
  context: CoreIntakeContext,
  institution: InstitutionRef,
  candidates: readonly Candidate[],
  read: { patients: number },
): Promise<Partial<ProcessCounts>> {
  const counts: Partial<ProcessCounts> = { stored: 0, held: 0, refused: 0, superseded: 0, rows: 0 }
  if (candidates.length === 0) return counts
  const today = (context.today ?? todayIso)()
  const byPatient = new Map<string, Candidate[]>()
  for (const candidate of candidates) {
    const key = hex(candidate.hash)
    const list = byPatient.get(key)
    if (list) list.push(candidate)
    else byPatient.set(key, [candidate])
  }
  const hashes = [...byPatient.values()].map((list) => (list[0] as Candidate).hash)
  // Parsing runs side by side; the vault is written one batch at a time (see lockInstitutionVault).
  await lockInstitutionVault(db, institution.id)
  const refused = await findOptOuts(db, institution.id, hashes)
  const vault = await findVaultPatients(db, context.keyring, institution.id, hashes)
  read.patients += vault.size

  const held: Array<{ candidate: Candidate; holdUntil: string; group: Candidate[] }> = []
  const writes: IdentityWrite[] = []
  const passing: Candidate[] = []
  for (const [key, list] of byPatient) {
    if (refused.has(key)) {
      counts.refused = (counts.refused ?? 0) + list.length
      continue
    }
    const existing = vault.get(key)
    const earliest = list
      .map((c) => earliestDate(c.record.record))
      .filter((d): d is string => d !== undefined)
      .sort()[0]
    // Without a dated record, the patient was seen by the day the submission came at the latest (not
    // "today" at every re-gate, which would hold them for ever).
    const received = list
      .map((c) => c.receivedOn)
      .filter((d): d is string => d !== undefined)
      .sort()[0]
    const decision = noticeDecision({
      inVault: existing !== undefined,
      noticeStart: institution.noticeStart,
      earliest: earliest ?? received,
      today,
      noticeDays: context.settings.noticeDays,
    })
    if (!decision.pass) {
      // One held row per spool item and patient.
      const perItem = new Map<string, Candidate[]>()
      for (const c of list) {
        const k = `${c.submissionId}:${c.seq}`
        const group = perItem.get(k)
        if (group) group.push(c)
        else perItem.set(k, [c])
      }
      for (const group of perItem.values())
        held.push({ candidate: group[0] as Candidate, holdUntil: decision.holdUntil, group })
      counts.held = (counts.held ?? 0) + list.length
      continue
    }
    let identity = existing?.identity
    for (const c of list) identity = mergeIdentity(identity, c.record.record.identity)
    const firstSeen =
      [existing?.firstSeen ?? undefined, earliest].filter((d): d is string => !!d).sort()[0] ?? null
    if (
      !existing ||
      JSON.stringify(identity) !== JSON.stringify(existing.identity) ||
      firstSeen !== existing.firstSeen
    ) {
      writes.push({ hash: (list[0] as Candidate).hash, identity: identity as PatientIdentity, firstSeen })
    }
    passing.push(...list)
  }

  if (held.length > 0) {
    await db
      .insertInto('intake.held_record')
      .values(
        held.map(({ candidate, holdUntil, group }) => ({
          submission_id: candidate.submissionId,
          institution_id: institution.id,
          item_seq: candidate.seq,
          local_hash: candidate.hash,
          hold_until: holdUntil,
          record_enc: context.keyring.encrypt(
            'spool',
            JSON.stringify(
              group.map((c) => ({
                ...c.record,
                object: c.record.object ? Buffer.from(c.record.object).toString('base64') : undefined,
              })),
            ),
            heldContext(candidate.submissionId, candidate.seq, candidate.hash),
          ),
        })),
      )
      .execute()
  }
  if (passing.length === 0) return counts

  const written = await storeIdentities(db, context.keyring, institution.id, writes)
  const refOf = (c: Candidate): number => {
    const key = hex(c.hash)
    return (written.get(key) ?? vault.get(key)?.patientRef) as number
  }
  await upsertDemographics(
    db,
    writes.map((w) => ({
      patientRef: written.get(hex(w.hash)) as number,
      institutionId: institution.id,
      birthDate: w.identity.birthDate,
      sex: w.identity.sex,
      ...areaOf(w.identity.address),
    })),
  )

  // SS-MIX2 condition flags: of each order, only the newest message counts.
  const newest = new Map<string, Candidate>()
  for (const c of passing) {
    const version = c.record.version
    if (!version) continue
    const key = `${refOf(c)}|${version.key}`
    const other = newest.get(key)
    if (!other || (other.record.version?.version ?? '') <= version.version) newest.set(key, c)
  }
  const messages: VersionedMessage[] = [...newest.values()].map((c) => ({
    patientRef: refOf(c),
    key: c.record.version?.key as string,
    version: c.record.version?.version as string,
    flag: c.record.version?.flag as '0' | '1' | '2',
  }))
  const toStore = await applySourceVersions(db, messages)

  const rows: ClinicalRow[] = []
  for (const c of passing) {
    const patientRef = refOf(c)
    const version = c.record.version
    if (version) {
      const key = `${patientRef}|${version.key}`
      if (newest.get(key) !== c || !toStore.has(key)) {
        counts.superseded = (counts.superseded ?? 0) + 1
        continue
      }
    }
    let object: ClinicalRow['object']
    if (c.record.object) {
      const key = `dcm-${c.submissionId}-${c.seq}`
      context.objects.put(key, c.record.object)
      object = { key, bytes: c.record.object.length }
    }
    counts.stored = (counts.stored ?? 0) + 1
    for (const item of c.record.record.items) {
      rows.push({
        patientRef,
        institutionId: institution.id,
        submissionId: c.submissionId,
        sourceKey: version?.key,
        item,
        object,
      })
    }
  }
  const perTable = await insertClinicalRows(db, context.keyring, rows)
  counts.rows = Object.values(perTable).reduce((sum, n) => sum + (n ?? 0), 0)
  return counts
}

/**
 * Held records whose notice period has now passed go through the gate again (a refusal that came
 * meanwhile still stops them); the others stay held. Returns how many were released (stored, or
 * superseding an older version) and how many are held still. With `submissionId`, only that
 * submission's held records.
 */
export async function releaseHeldRecords(
  context: CoreIntakeContext,
  options: { submissionId?: number } = {},
): Promise<{ released: number; stillHeld: number; stored: number; superseded: number; rows: number }> {
  let released = 0
  let stillHeld = 0
  let stored = 0
  let superseded = 0
  let rowsStored = 0
  let after = 0
  const touched = new Set<number>()
  // Records held again get new ids: stop at the newest id of this pass.
  const last = await context.db
    .selectFrom('intake.held_record')
    .select(sql<number | null>`max(id)`.as('id'))
    .$if(options.submissionId !== undefined, (q) =>
      q.where('submission_id', '=', options.submissionId as number),
    )
    .executeTakeFirstOrThrow()
  if (last.id === null) return { released, stillHeld, stored, superseded, rows: rowsStored }
  for (;;) {
    const rows = await context.db
      .selectFrom('intake.held_record as h')
      .innerJoin('governance.institution as i', 'i.id', 'h.institution_id')
      .leftJoin('intake.submission as s', 's.id', 'h.submission_id')
      .select([
        's.received_at',
        'h.id',
        'h.submission_id',
        'h.item_seq',
        'h.local_hash',
        'h.record_enc',
        'i.id as institution_id',
        'i.code',
        sql<string>`i.notice_start::text`.as('notice_start'),
      ])
      .where('h.id', '>', after)
      .where('h.id', '<=', last.id)
      .$if(options.submissionId !== undefined, (q) =>
        q.where('h.submission_id', '=', options.submissionId as number),
      )
      .orderBy('h.id')
      .limit(1000)
      .execute()
    if (rows.length === 0) break
    after = (rows.at(-1) as (typeof rows)[number]).id
    const byInstitution = new Map<number, typeof rows>()
    for (const row of rows) {
      const list = byInstitution.get(row.institution_id)
      if (list) list.push(row)
      else byInstitution.set(row.institution_id, [row])
    }
    for (const [institutionId, list] of byInstitution) {
      const first = list[0] as (typeof rows)[number]
      const institution = { id: institutionId, code: first.code, noticeStart: first.notice_start }
      const candidates: Array<Candidate & { heldId: number }> = []
      for (const row of list) {
        const group = JSON.parse(
          context.keyring.decryptText(
            'spool',
            row.record_enc,
            heldContext(row.submission_id, row.item_seq, row.local_hash),
          ),
        ) as Array<ParsedRecord & { object?: string }>
        for (const record of group) {
          candidates.push({
            heldId: row.id,
            submissionId: row.submission_id,
            seq: row.item_seq,
            receivedOn: dayOf(row.received_at),
            hash: Buffer.from(row.local_hash),
            record: { ...record, object: record.object ? Buffer.from(record.object, 'base64') : undefined },
          })
        }
      }
      const counts = await context.db.transaction().execute(async (trx) => {
        // Only the rows this transaction deletes are its to release: another worker re-gating the
        // same rows at the same time waits here and then finds them gone.
        const mine = await trx
          .deleteFrom('intake.held_record')
          .where('id', '=', sql<number>`any(${list.map((r) => r.id)}::bigint[])`)
          .returning('id')
          .execute()
        const ids = new Set(mine.map((r) => r.id))
        return storeCandidates(
          trx,
          context,
          institution,
          candidates.filter((c) => ids.has(c.heldId)),
        )
      })
      released += (counts.stored ?? 0) + (counts.superseded ?? 0)
      stored += counts.stored ?? 0
      superseded += counts.superseded ?? 0
      rowsStored += counts.rows ?? 0
      stillHeld += counts.held ?? 0
      if ((counts.stored ?? 0) > 0) touched.add(institutionId)
    }
  }
  for (const institutionId of touched) await refreshHoldings(context.db, institutionId)
  if (released > 0)
    await context.audit({ action: 'intake.released_held', detail: { released, still_held: stillHeld } })
  return { released, stillHeld, stored, superseded, rows: rowsStored }
}
