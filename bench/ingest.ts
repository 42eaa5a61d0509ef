import { randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { ObjectStore } from '../src/clinical/index.js'
import { migrateToLatest, openDatabase, type TokumeiDatabase } from '../src/db/index.js'
import { readSsmix2Message } from '../src/formats/ssmix2/index.js'
import {
  addInstitution,
  type IncomingFile,
  openSubmission,
  processSubmission,
  receiveFiles,
  sealSubmission,
} from '../src/intake/index.js'
import { ensureDataKeys, loadKeyring, masterKeyId, recordAuditEvent } from '../src/security/index.js'
import { generateSyntheticData } from '../src/synth/index.js'
import { firstHospital, listFiles, SHARED_DATA } from '../test/support/files.js'
import { withBenchServer } from './server.js'

const { values } = parseArgs({
  options: {
    persons: { type: 'string', default: '2000' },
    // Only one store, e.g. to profile it: pglite or postgres.
    only: { type: 'string' },
  },
})
const settings = {
  noticeDays: 30,
  receiptRetentionYears: 3,
  maxFileBytes: 64 * 1024 ** 2,
  maxFieldChars: 4096,
  batchItems: 2000,
}

async function load(): Promise<{ code: string; files: IncomingFile[]; bytes: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'tk-bench-ingest-'))
  await generateSyntheticData({
    persons: Number(values.persons),
    hospitals: 1,
    seed: 'bench-ingest',
    out: dir,
    formats: new Set(['ssmix2']),
    sharedDataDir: SHARED_DATA,
  })
  const code = firstHospital(dir)
  const base = join(dir, code)
  const files = listFiles(base).map((path) => ({ path, bytes: readFileSync(join(base, path)) }))
  rmSync(dir, { recursive: true, force: true })
  return { code, files, bytes: files.reduce((sum, f) => sum + f.bytes.length, 0) }
}

function parseOnly(files: readonly IncomingFile[]): number {
  const start = performance.now()
  for (const file of files) readSsmix2Message(file.path, file.bytes, { strict: true })
  return (performance.now() - start) / 1000
}

async function endToEnd(db: TokumeiDatabase, code: string, files: readonly IncomingFile[]) {
  await migrateToLatest(db)
  const key = randomBytes(32)
  const master = { key, id: masterKeyId(key), source: 'env' as const, file: undefined }
  await ensureDataKeys(db, master)
  const keyring = await loadKeyring(db, master)
  const objects = mkdtempSync(join(tmpdir(), 'tk-bench-objects-'))
  const { institution } = await addInstitution(db.kysely, { code, name: 'bench', noticeStart: '2000-01-01' })
  const receive = { db: db.kysely, keyring, settings, actor: 'bench', maxAttempts: 1 }
  const start = performance.now()
  const id = await openSubmission(receive, {
    institutionId: institution.id,
    declaredFormat: 'ssmix2',
    channel: 'cli',
  })
  for (let i = 0; i < files.length; i += 1000) await receiveFiles(receive, id, files.slice(i, i + 1000))
  await sealSubmission(receive, id)
  const received = performance.now()
  const counts = await processSubmission(
    {
      actor: 'bench',
      db: db.kysely,
      keyring,
      settings,
      objects: new ObjectStore(objects, keyring),
      audit: (event) => recordAuditEvent(db.kysely, keyring, { ...event, actor: 'bench' }),
    },
    id,
  )
  const done = performance.now()
  rmSync(objects, { recursive: true, force: true })
  return { receiveSeconds: (received - start) / 1000, processSeconds: (done - received) / 1000, counts }
}

function report(label: string, messages: number, bytes: number, seconds: number, reference: number): void {
  const mb = bytes / 1024 ** 2
  console.log(
    `${label.padEnd(34)} ${(messages / seconds).toFixed(0).padStart(8)} msg/s ${(mb / seconds).toFixed(2).padStart(7)} MB/s  ratio to parse-only ${(reference / seconds).toFixed(2)}`,
  )
}

const { code, files, bytes } = await load()
console.log(
  `SS-MIX2 intake: ${files.length} messages, ${(bytes / 1024 ** 2).toFixed(1)} MB (${values.persons} persons)\n`,
)
parseOnly(files.slice(0, 500)) // warm up
const parse = parseOnly(files)
report('parse only (reference)', files.length, bytes, parse, parse)

if (values.only !== 'postgres') {
  const embedded = await openDatabase({ pgliteDir: 'memory://' })
  const lite = await endToEnd(embedded, code, files)
  await embedded.close()
  report('PGlite: receive + seal', files.length, bytes, lite.receiveSeconds, parse)
  report('PGlite: process', files.length, bytes, lite.processSeconds, parse)
  report('PGlite: end to end', files.length, bytes, lite.receiveSeconds + lite.processSeconds, parse)
}

if (values.only !== 'pglite')
  await withBenchServer(async (server) => {
    const pgRun = await endToEnd(server, code, files)
    report('PostgreSQL: receive + seal', files.length, bytes, pgRun.receiveSeconds, parse)
    report('PostgreSQL: process', files.length, bytes, pgRun.processSeconds, parse)
    report('PostgreSQL: end to end', files.length, bytes, pgRun.receiveSeconds + pgRun.processSeconds, parse)
    console.log(
      `\nstored ${pgRun.counts.stored} records (${pgRun.counts.rows} rows), superseded ${pgRun.counts.superseded}`,
    )
  })
