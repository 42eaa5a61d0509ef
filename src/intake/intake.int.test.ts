import { readFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { sql } from 'kysely'
import { beforeAll, expect, it } from 'vitest'
import { describeEachDialect, type TestDatabase } from '../../test/support/database.js'
import { exists, firstHospital, listFiles, SHARED_DATA, useSyntheticData } from '../../test/support/files.js'
import { CLINICAL_TABLES, ObjectStore } from '../clinical/index.js'
import type { IntakeSettings } from '../config/index.js'
import { recordAuditEvent } from '../security/index.js'
import {
  addInstitution,
  type CoreIntakeContext,
  type IncomingFile,
  listQuarantine,
  openSubmission,
  processSubmission,
  purgeExpiredReceipts,
  type ReceiveContext,
  readHoldings,
  receiveFiles,
  registerOptOut,
  releaseHeldRecords,
  sealSubmission,
  updateInstitution,
  verifyReceipt,
} from './index.js'

const SETTINGS: IntakeSettings = {
  noticeDays: 30,
  receiptRetentionYears: 3,
  maxFileBytes: 1024 * 1024,
  maxFieldChars: 4096,
  batchItems: 200,
}

function contexts(t: TestDatabase, objectsDir: string, settings: IntakeSettings = SETTINGS) {
  const receive: ReceiveContext = {
    db: t.db.kysely,
    keyring: t.keyring,
    settings,
    actor: 'test',
    maxAttempts: 3,
  }
  const core: CoreIntakeContext = {
    actor: 'test',
    db: t.db.kysely,
    keyring: t.keyring,
    settings,
    objects: new ObjectStore(objectsDir, t.keyring),
    audit: (event) => recordAuditEvent(t.db.kysely, t.keyring, { ...event, actor: 'test' }),
  }
  return { receive, core }
}

function filesOf(root: string, dir: string): IncomingFile[] {
  const base = join(root, dir)
  return listFiles(base).map((path) => ({ path, bytes: readFileSync(join(base, path)) }))
}

async function submit(receive: ReceiveContext, institutionId: number, files: IncomingFile[]) {
  const id = await openSubmission(receive, { institutionId, declaredFormat: 'auto', channel: 'cli' })
  const outcomes = await receiveFiles(receive, id, files)
  const receipt = await sealSubmission(receive, id)
  return { id, outcomes, receipt }
}

async function clinicalRowCount(t: TestDatabase, where = sql`true`): Promise<number> {
  let total = 0
  for (const table of CLINICAL_TABLES) {
    const { rows } = await sql<{
      n: number
    }>`select count(*)::int as n from ${sql.table(`clinical.${table}`)} where ${where}`.execute(t.db.kysely)
    total += rows[0]?.n ?? 0
  }
  return total
}

/** Every text value the pseudonymous side and the shared logs hold, for the canary checks. */
async function storedText(t: TestDatabase): Promise<string> {
  const parts: string[] = []
  for (const table of [
    ...CLINICAL_TABLES.map((c) => `clinical.${c}`),
    'clinical.patient',
    'intake.quarantine',
    'audit.event',
    'governance.holding',
  ]) {
    const { rows } = await sql<{ r: string }>`select t::text as r from ${sql.table(table)} t`.execute(
      t.db.kysely,
    )
    parts.push(...rows.map((r) => r.r))
  }
  const spool = await t.db.kysely.selectFrom('intake.spool_item').select('display_path').execute()
  parts.push(...spool.map((s) => s.display_path))
  return parts.join('\n')
}

/** The same message with another control ID (MSH-10): new content that still reads. */
function touched(file: IncomingFile): IncomingFile {
  const text = Buffer.from(file.bytes).toString('latin1')
  const end = text.indexOf('\r')
  const msh = text.slice(0, end).split('|')
  msh[9] = `${msh[9]}R`
  return { path: file.path, bytes: Buffer.from(msh.join('|') + text.slice(end), 'latin1') }
}

const HAS_SHARED_DATA = SHARED_DATA !== undefined && exists(SHARED_DATA)
const BIRTH_DATE_FORMS = /^(\d{4}-\d{2}-\d{2}|\d{4}\/\d{2}\/\d{2}|\d{7,8}|.+年\d+月\d+日)$/

const generate = useSyntheticData()

describeEachDialect('intake end to end', (t) => {
  let data: { dir: string; hospital: string; canaries: string[]; localIds: string[] }
  const objectsDir = join(
    process.env.TMPDIR ?? '/tmp',
    `tk-objects-${process.pid}-${Math.random().toString(36).slice(2)}`,
  )
  beforeAll(async () => {
    const { dir } = await generate({
      persons: 60,
      hospitals: 1,
      seed: 'intake',
      formats: ['ssmix2', 'uke', 'fhir', 'dicom'],
    })
    const hospital = firstHospital(dir)
    // Birth dates are canaries of releases, not of the store (it keeps them for analysis); names of two
    // characters also occur inside drug and disease names, so full names, addresses and phones are checked.
    const canaries = readFileSync(join(dir, 'truth', 'canaries.txt'), 'utf8')
      .split('\n')
      .filter((c) => c.length >= 3 && !BIRTH_DATE_FORMS.test(c))
    const localIds = [
      ...new Set(listFiles(join(dir, hospital, 'ssmix2')).map((p) => p.split('/').at(-4) as string)),
    ]
    data = { dir, hospital, canaries, localIds }
    return () => rmSync(objectsDir, { recursive: true, force: true })
  })

  it.runIf(HAS_SHARED_DATA)(
    'stores a hospital once, refuses the same content again, and keeps names out of the store',
    async () => {
      const { receive, core } = contexts(t, objectsDir)
      const { institution } = await addInstitution(t.db.kysely, {
        code: data.hospital,
        name: 'テスト病院',
        noticeStart: '2015-04-01',
      })
      const files = filesOf(data.dir, data.hospital)
      const first = await submit(receive, institution.id, files)
      expect(first.receipt.status).toBe('received')
      expect(first.receipt.files).toBe(files.length)
      expect(verifyReceipt(t.keyring, first.receipt)).toBe(true)
      expect(verifyReceipt(t.keyring, { ...first.receipt, files: first.receipt.files + 1 })).toBe(false)

      const counts = await processSubmission(core, first.id)
      expect(counts.quarantined).toBe(0)
      expect(counts.stored).toBeGreaterThan(files.length / 2)
      expect(counts.refused).toBe(0)
      // Every patient with a dated record passed (the notice began long before). A patient whose
      // records carry no date at all waits out the notice from today, the gate not knowing when they
      // were told; once that has passed, they go through too.
      const afterNotice = new Date(Date.now() + (SETTINGS.noticeDays + 1) * 86_400_000)
        .toISOString()
        .slice(0, 10)
      const released = await releaseHeldRecords({ ...core, today: () => afterNotice })
      expect(released.released).toBe(counts.held)
      expect(await t.db.kysely.selectFrom('intake.held_record').selectAll().execute()).toHaveLength(0)
      const rows = await clinicalRowCount(t)
      expect(rows).toBe(counts.rows + released.rows)
      const [holdings] = await readHoldings(t.db.kysely, institution.id)
      const categories = new Map(holdings?.categories.map((c) => [c.category, c]))
      expect(categories.get('patients')?.patients).toBe(60)
      for (const category of ['encounter', 'condition', 'medication', 'procedure', 'imaging']) {
        expect(categories.get(category)?.records, category).toBeGreaterThan(0)
      }

      // The same files again: recognised at receipt, nothing queued, nothing stored twice.
      const again = await submit(receive, institution.id, files)
      expect(again.receipt).toMatchObject({
        status: 'duplicate',
        duplicateOf: first.id,
        duplicateFiles: files.length,
      })
      expect(await clinicalRowCount(t)).toBe(rows)

      // Canaries: no name, no hospital patient ID in the clinical store, quarantine, spool paths or audit.
      const text = await storedText(t)
      for (const canary of data.canaries) expect(text.includes(canary), `canary ${canary}`).toBe(false)
      for (const id of data.localIds) expect(text.includes(id), 'a hospital patient ID').toBe(false)
    },
  )

  it.runIf(HAS_SHARED_DATA)(
    'a later refusal deletes the patient, and stops their next submission',
    async () => {
      const { receive, core } = contexts(t, objectsDir)
      const localId = data.localIds[0] as string
      const patientFiles = filesOf(data.dir, data.hospital).filter((f) => f.path.includes(`/${localId}/`))
      expect(patientFiles.length).toBeGreaterThan(0)
      const before = await clinicalRowCount(t)
      const result = await registerOptOut(core, {
        institutionCode: data.hospital,
        patientId: localId,
        channel: 'cli',
        actor: 'test',
      })
      expect(result.deletedPatients).toBe(1)
      expect(result.deletedRecords).toBeGreaterThan(0)
      expect(await clinicalRowCount(t)).toBe(before - result.deletedRecords)
      const tombstones = await t.db.kysely.selectFrom('identity.optout').selectAll().execute()
      expect(JSON.stringify(tombstones)).not.toContain(localId)

      // The hospital sends an updated message of that patient: refused at the gate, nothing stored.
      const changed = patientFiles.map(touched)
      const { id } = await submit(
        receive,
        (await t.db.kysely.selectFrom('governance.institution').select('id').executeTakeFirstOrThrow()).id,
        changed,
      )
      const counts = await processSubmission(core, id)
      expect(counts.refused).toBeGreaterThan(0)
      expect(counts.stored).toBe(0)
      expect(await clinicalRowCount(t)).toBe(before - result.deletedRecords)
    },
  )

  it.runIf(HAS_SHARED_DATA)(
    'holds patients inside their notice period and ingests them once it has passed',
    async () => {
      const { receive, core } = contexts(t, objectsDir)
      const { dir } = await generate({ persons: 10, hospitals: 1, seed: 'notice', formats: ['ssmix2'] })
      const code = firstHospital(dir)
      const today = new Date().toISOString().slice(0, 10)
      const { institution } = await addInstitution(t.db.kysely, {
        code,
        name: '通知直後病院',
        noticeStart: today,
      })
      const { id } = await submit(receive, institution.id, filesOf(dir, code))
      const counts = await processSubmission(core, id)
      expect(counts.held).toBe(counts.records)
      expect(counts.stored).toBe(0)
      expect((await releaseHeldRecords(core)).released).toBe(0)
      // The institution's notice in fact began long ago: the held records pass on the next release.
      await updateInstitution(t.db.kysely, code, { noticeStart: '2010-01-01' })
      const released = await releaseHeldRecords(core)
      expect(released.released).toBe(counts.held)
      expect(await t.db.kysely.selectFrom('intake.held_record').selectAll().execute()).toHaveLength(0)
      const [holdings] = await readHoldings(t.db.kysely, institution.id)
      expect(holdings?.categories.find((c) => c.category === 'patients')?.patients).toBe(10)
    },
  )

  it.runIf(HAS_SHARED_DATA)(
    'quarantines each bad item with its place and reason, and stores the good ones',
    async () => {
      const { receive, core } = contexts(t, objectsDir)
      const institution = await t.db.kysely
        .selectFrom('governance.institution')
        .select('id')
        .where('code', '=', data.hospital)
        .executeTakeFirstOrThrow()
      const ssmix2 = filesOf(data.dir, data.hospital).filter(
        (f) => /\/OMP-01\//.test(f.path) && !f.path.includes(`/${data.localIds[0]}/`),
      )
      const [good, truncated, reordered, oversized] = ssmix2.slice(-4) as [
        IncomingFile,
        IncomingFile,
        IncomingFile,
        IncomingFile,
      ]
      const segments = Buffer.from(reordered.bytes).toString('latin1').split('\r').filter(Boolean)
      const swapped = [segments[0], segments[2], segments[1], ...segments.slice(3)].join('\r')
      const longName = Buffer.from(oversized.bytes)
        .toString('latin1')
        .replace(/\rRXE\|([^|]*)\|([^^|]*)\^/, (_m, a, b) => `\rRXE|${a}|${b}^${'X'.repeat(5000)}`)
      const bomb = gzipSync(Buffer.alloc(4 * 1024 * 1024))
      const { id, receipt } = await submit(receive, institution.id, [
        { path: `${good.path}.bak/../../escape`, bytes: good.bytes },
        { path: '/etc/passwd', bytes: Buffer.from('root') },
        { path: 'big.ndjson.gz', bytes: bomb },
        { path: 'readme.txt', bytes: Buffer.from('hello') },
        touched(good),
        { path: truncated.path, bytes: truncated.bytes.subarray(0, 40) },
        { path: reordered.path, bytes: Buffer.from(`${swapped}\r`, 'latin1') },
        { path: oversized.path, bytes: Buffer.from(longName, 'latin1') },
      ])
      expect(receipt.quarantinedAtReceipt).toBe(4)
      const counts = await processSubmission(core, id)
      const entries = await listQuarantine(t.db.kysely, { submission: id })
      expect(entries.map((e) => e.code).sort()).toEqual(
        [
          'intake.bad_path',
          'intake.bad_path',
          'intake.compression_bomb',
          'intake.unknown_format',
          'ssmix2.unreadable',
          'ssmix2.unreadable',
          'intake.bad_record',
        ].sort(),
      )
      expect(entries.find((e) => e.reason.includes('segments'))?.reason).toMatch(/not in the order/)
      expect(entries.find((e) => e.code === 'intake.bad_record')?.reason).toMatch(/longer than 4096/)
      expect(counts.quarantined).toBe(7)
      expect(counts.records).toBeGreaterThanOrEqual(1)
      const shown = JSON.stringify(entries)
      for (const id of data.localIds) expect(shown.includes(id)).toBe(false)
      expect(shown).not.toContain('XXXXXXXX')
    },
  )

  it.runIf(HAS_SHARED_DATA)('two workers on one submission end where one worker alone ends', async () => {
    const { receive, core: base } = contexts(t, objectsDir, { ...SETTINGS, batchItems: 7 })
    const core = { ...base, today: () => '2100-01-01' }
    const files = filesOf(data.dir, data.hospital).filter((f) => f.path.startsWith('ssmix2/'))
    const perTable = async (institutionId: number) => {
      const counts: Record<string, number> = {}
      for (const table of [...CLINICAL_TABLES, 'patient', 'source_version']) {
        const { rows } = await sql<{
          n: number
        }>`select count(*)::int as n from ${sql.table(`clinical.${table}`)}
          where ${table === 'source_version' ? sql`patient_ref in (select patient_ref from identity.patient where institution_id = ${institutionId})` : sql`institution_id = ${institutionId}`}`.execute(
          t.db.kysely,
        )
        counts[table] = rows[0]?.n ?? 0
      }
      return counts
    }
    const institutions = []
    for (const code of ['8800000001', '8800000002']) {
      const { institution } = await addInstitution(t.db.kysely, {
        code,
        name: '並行病院',
        noticeStart: '2015-04-01',
      })
      institutions.push(institution.id)
    }
    const [alone, pair] = institutions as [number, number]
    const one = await submit(receive, alone, files)
    const sequential = await processSubmission(core, one.id)

    const two = await submit(receive, pair, files)
    // One worker may end first while the other holds a batch: it says so, and a retry finishes (the
    // job queue retries such a job; here, a few times a moment apart).
    const work = async (): Promise<Awaited<ReturnType<typeof processSubmission>>> => {
      for (let attempt = 0; ; attempt++)
        try {
          return await processSubmission(core, two.id)
        } catch (error) {
          const e = error as { code?: string; constraint?: string; message: string }
          expect(e.code, `${e.constraint ?? ''} ${e.message}`).toBe('submission.busy')
          if (attempt === 10) throw error
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
    }
    const [a, b] = await Promise.all([work(), work()])
    expect(a).toEqual(b)
    expect(a.processed_files).toBe(files.length)
    expect(sequential.processed_files).toBe(files.length)
    // Batch order decides whether a patient's undated record waits for their dated one: once held
    // records have been through the gate again, both stores are the same.
    await releaseHeldRecords(core)
    expect(await perTable(pair)).toEqual(await perTable(alone))
    const processed = await t.db.kysely
      .selectFrom('audit.event')
      .select('seq')
      .where('action', '=', 'intake.processed')
      .where('target', '=', `submission:${two.id}`)
      .execute()
    expect(processed).toHaveLength(1)
  })

  it('keeps receipts for their retention period, then deletes them and only them', async () => {
    const receipts = await t.db.kysely
      .selectFrom('intake.receipt')
      .select(['submission_id', sql<string>`retain_until::text`.as('retain_until')])
      .orderBy('submission_id')
      .execute()
    expect(receipts.length).toBeGreaterThan(1)
    const [oldest] = receipts as [(typeof receipts)[number]]
    expect(await purgeExpiredReceipts(t.db.kysely, oldest.retain_until)).toBe(0)
    await t.db.kysely
      .updateTable('intake.receipt')
      .set({ retain_until: '2020-01-01' })
      .where('submission_id', '=', oldest.submission_id)
      .execute()
    expect(await purgeExpiredReceipts(t.db.kysely, '2020-01-02')).toBe(1)
    const left = await t.db.kysely.selectFrom('intake.receipt').select('submission_id').execute()
    expect(left.map((r) => r.submission_id)).toEqual(receipts.slice(1).map((r) => r.submission_id))
  })
})
