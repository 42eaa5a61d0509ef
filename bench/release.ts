import { randomUUID } from 'node:crypto'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { sql } from 'kysely'
import { stringify as toYaml } from 'yaml'
import type * as ClinicalModule from '../src/clinical/index.js'
import type * as ConfigModule from '../src/config/index.js'
import type * as ReleaseModule from '../src/release/index.js'
import type * as DemoModule from '../src/runtime/demo.js'
import type * as RuntimeModule from '../src/runtime/index.js'
import type * as WorkersModule from '../src/runtime/workers.js'
import { SHARED_DATA } from '../test/support/files.js'

/**
 * A release build for 100 000 persons with every table, in CSV and Parquet, timed stage by stage.
 *
 * The store is filled the way the product fills it, then scaled: `tokumei demo`'s pipeline (synthetic
 * hospitals → intake → linkage → projects and contracts) runs for a base of persons, and the base's
 * pseudonymous store is then copied (new patient records and persons, birth dates moved back so the copies
 * are not identical, documents re-encrypted under their new keys, images sharing their stored object)
 * until it holds the persons asked for. The reference, in the same process on the same store, is a
 * plain export: every selected row read at person level and written as CSV with no processing — the
 * least any release does. The ratio says how many plain exports the whole build costs.
 * It runs the compiled product (`npm run build` first after a change): its worker threads load plain
 * JavaScript.
 *
 *   npx tsx bench/release.ts [--persons 100000] [--base 2000] [--images 2000] [--keep DIR]
 */
const { values } = parseArgs({
  options: {
    persons: { type: 'string', default: '100000' },
    base: { type: 'string', default: '2000' },
    hospitals: { type: 'string', default: '3' },
    // Images are large: at most this many image rows are kept after scaling (the base's all count).
    images: { type: 'string', default: '2000' },
    keep: { type: 'string' },
  },
})
const dist = (path: string) => new URL(`../dist/${path}`, import.meta.url).href
const { loadConfig } = (await import(dist('config/index.js'))) as typeof ConfigModule
const { runDemo } = (await import(dist('runtime/demo.js'))) as typeof DemoModule
const { openRuntime } = (await import(dist('runtime/index.js'))) as typeof RuntimeModule
const { releaseBuildContext } = (await import(dist('runtime/workers.js'))) as typeof WorkersModule
const { buildRelease, parseSpec, verifyPackage } = (await import(
  dist('release/index.js')
)) as typeof ReleaseModule
const { CLINICAL_TABLES, documentContext } = (await import(
  dist('clinical/index.js')
)) as typeof ClinicalModule

type Runtime = Awaited<ReturnType<typeof openRuntime>>
const persons = Number(values.persons)
const base = Number(values.base)
const work = values.keep ?? mkdtempSync(join(tmpdir(), 'tk-bench-release-'))
mkdirSync(work, { recursive: true })
const dataDir = join(work, 'data')
const env: Record<string, string | undefined> = {
  TOKUMEI_DATA_DIR: dataDir,
  TOKUMEI_MASTER_KEY_FILE: join(dataDir, 'master.key'),
  DATABASE_URL: process.env.TOKUMEI_BENCH_DATABASE_URL,
}
const config = loadConfig({ env, cwd: work, file: undefined })
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`
const perSecond = (rows: number, ms: number) =>
  `${Math.round((rows * 1000) / Math.max(ms, 1)).toLocaleString('en')} rows/s`

// 1. The base, through the product's own pipeline.
let started = performance.now()
await runDemo(config, {
  out: work,
  persons: base,
  hospitals: Number(values.hospitals),
  seed: 'bench-release',
  sharedDataDir: SHARED_DATA,
})
console.log(
  `base: ${base} persons at ${values.hospitals} hospitals through synth → intake → linkage: ${seconds(performance.now() - started)}`,
)
const runtime = await openRuntime(config, { actor: 'os:bench@tokumei' })
try {
  // 2. Scaled to the persons asked for.
  started = performance.now()
  const scaled = await scale(runtime, persons, Number(values.images))
  console.log(
    `scaled: ${scaled.persons.toLocaleString('en')} persons, ${scaled.patients.toLocaleString('en')} patient records, ${scaled.rows.toLocaleString('en')} event rows (${seconds(performance.now() - started)})`,
  )
  for (const [table, n] of Object.entries(scaled.tables))
    console.log(`  ${table.padEnd(24)} ${n.toLocaleString('en')}`)

  // 3. The reference: a plain export of the same rows.
  const exportDir = join(work, 'plain-export')
  started = performance.now()
  const exported = await plainExport(runtime, exportDir)
  const referenceMs = performance.now() - started
  rmSync(exportDir, { recursive: true, force: true })

  // 4. The build: every table, CSV and Parquet.
  const project = await runtime.db.kysely
    .selectFrom('governance.project')
    .select('code')
    .orderBy('id')
    .executeTakeFirstOrThrow()
  const spec = parseSpec(
    toYaml({
      project: project.code,
      title: 'bench: every table',
      tables: {
        persons: 'all',
        encounters: 'all',
        conditions: 'all',
        medications: 'all',
        labs: 'all',
        procedures: 'all',
        allergies: 'all',
        images: 'all',
        documents: 'all',
      },
      formats: ['csv', 'parquet'],
    }),
    'the bench spec',
  )
  const context = await releaseBuildContext(runtime)
  // Copied patient records scrub their documents with their original's identifiers.
  const own = context.patientContexts
  const stride = scaled.stride
  started = performance.now()
  const result = await buildRelease(
    {
      ...context,
      patientContexts: own
        ? async (refs) => {
            const originals = await own(refs.map((r) => r % stride))
            return new Map(
              refs.flatMap((r) => {
                const c = originals.get(r % stride)
                return c ? [[r, c] as const] : []
              }),
            )
          }
        : undefined,
    },
    spec,
  )
  const buildMs = performance.now() - started
  started = performance.now()
  const verified = await verifyPackage(result.dir)
  const verifyMs = performance.now() - started
  const rows = result.tables.reduce((n, t) => n + t.rows, 0)

  console.log(
    `\nrelease ${result.id}: ${result.persons.toLocaleString('en')} persons, ${rows.toLocaleString('en')} rows, k = ${result.manifest.privacy?.k}`,
  )
  for (const s of result.stages)
    console.log(
      `  ${s.stage.padEnd(22)} ${String(s.rows).padStart(10)} rows ${seconds(s.milliseconds).padStart(9)}   ${perSecond(s.rows, s.milliseconds).padStart(16)}`,
    )
  console.log(
    `${'whole build'.padEnd(24)} ${String(rows).padStart(10)} rows ${seconds(buildMs).padStart(9)}   ${perSecond(rows, buildMs).padStart(16)}   reference (plain export) ${perSecond(exported, referenceMs)}   ratio ${(referenceMs / buildMs).toFixed(2)}`,
  )
  console.log(
    `${'verify from the files'.padEnd(24)} ${verified.ok ? 'ok' : 'FAILED'} ${seconds(verifyMs).padStart(9)}`,
  )
  if (!verified.ok) process.exitCode = 1
} finally {
  await runtime.close()
  if (!values.keep) rmSync(work, { recursive: true, force: true })
}

/** Copies the base's pseudonymous store until it holds `target` persons; images only up to `maxImages` rows. */
async function scale(runtime: Runtime, target: number, maxImages: number) {
  const db = runtime.db.kysely
  const linked = await sql<{
    n: string
  }>`select count(distinct person_id) as n from clinical.patient_person`.execute(db)
  const copies = Math.ceil(target / Number(linked.rows[0]?.n))
  const max = await sql<{ ref: string; person: string }>`
    select (select max(patient_ref) from clinical.patient) as ref,
           (select max(person_id) from clinical.patient_person) as person`.execute(db)
  const stride = Number(max.rows[0]?.ref) + 1
  const personStride = Number(max.rows[0]?.person) + 1
  const tables = CLINICAL_TABLES.filter((t) => t !== 'document')
  const columnsOf = async (table: string) =>
    (
      await sql<{ column_name: string }>`
        select column_name from information_schema.columns
         where table_schema = 'clinical' and table_name = ${table} order by ordinal_position`.execute(db)
    ).rows.map((r) => r.column_name)
  const baseImages = Number(
    (await sql<{ n: string }>`select count(*) as n from clinical.imaging`.execute(db)).rows[0]?.n,
  )
  const documents = (
    await sql<{ patient_ref: string; doc_key: string; content_enc: Uint8Array }>`
      select patient_ref, doc_key::text, content_enc from clinical.document`.execute(db)
  ).rows.map((d) => ({
    ...d,
    content: runtime.keyring.decryptText('documents', d.content_enc, documentContext(d.doc_key)),
  }))
  const docColumns = (await columnsOf('document')).filter(
    (c) => !['patient_ref', 'doc_key', 'content_enc'].includes(c),
  )
  for (let c = 1; c < copies; c++) {
    const ref = c * stride
    // Birth dates move back by up to 10 years, differently per copy and record.
    await sql`
      insert into clinical.patient (patient_ref, institution_id, birth_date, sex, prefecture, municipality)
      select patient_ref + ${ref}, institution_id,
             birth_date - ((patient_ref * 31 + ${c} * 7919) % 3651)::int, sex, prefecture, municipality
        from clinical.patient where patient_ref < ${stride}`.execute(db)
    await sql`
      insert into clinical.patient_person (patient_ref, person_id)
      select patient_ref + ${ref}, person_id + ${c * personStride}
        from clinical.patient_person where patient_ref < ${stride}`.execute(db)
    await sql`
      insert into clinical.withheld_person (person_id)
      select person_id + ${c * personStride}
        from clinical.withheld_person where person_id < ${personStride}`.execute(db)
    for (const table of tables) {
      if (table === 'imaging' && (c + 1) * baseImages > maxImages) continue
      const columns = await columnsOf(table)
      const select = columns.map((name) =>
        name === 'patient_ref' ? sql`patient_ref + ${ref}` : sql.ref(name),
      )
      await sql`
        insert into ${sql.table(`clinical.${table}`)} (${sql.join(columns.map((n) => sql.ref(n)))})
        select ${sql.join(select)} from ${sql.table(`clinical.${table}`)} where patient_ref < ${stride}`.execute(
        db,
      )
    }
    for (let i = 0; i < documents.length; i += 500) {
      const chunk = documents.slice(i, i + 500).map((d) => {
        const key = randomUUID()
        const content = runtime.keyring.encrypt('documents', d.content, documentContext(key))
        return sql`(${Number(d.patient_ref) + ref}::bigint, ${key}::uuid, ${content}::bytea, ${d.doc_key}::uuid)`
      })
      // The other columns are copied from each document's original row.
      await sql`
        insert into clinical.document (patient_ref, doc_key, content_enc, ${sql.join(docColumns.map((n) => sql.ref(n)))})
        select c.patient_ref, c.doc_key, c.content_enc, ${sql.join(docColumns.map((n) => sql.ref(`o.${n}`)))}
          from (values ${sql.join(chunk)}) as c(patient_ref, doc_key, content_enc, source)
          join clinical.document o on o.doc_key = c.source`.execute(db)
    }
    if (c % 10 === 0) process.stderr.write(`  scaled ${c + 1}/${copies}\n`)
  }
  const counts: Record<string, number> = {}
  let rows = 0
  for (const table of [...tables, 'document']) {
    const n = Number(
      (await sql<{ n: string }>`select count(*) as n from ${sql.table(`clinical.${table}`)}`.execute(db))
        .rows[0]?.n,
    )
    counts[table] = n
    rows += n
  }
  const totals = await sql<{ patients: string; persons: string }>`
    select count(*) as patients, count(distinct person_id) as persons from clinical.patient_person`.execute(
    db,
  )
  return {
    stride,
    patients: Number(totals.rows[0]?.patients),
    persons: Number(totals.rows[0]?.persons),
    rows,
    tables: counts,
  }
}

/** The reference: every table's rows at person level, written as CSV as they are. */
async function plainExport(runtime: Runtime, dir: string): Promise<number> {
  mkdirSync(dir, { recursive: true })
  let rows = 0
  // Orders are not a release table.
  for (const table of ['patient', ...CLINICAL_TABLES.filter((t) => t !== 'clinical_order')]) {
    const result = await sql<Record<string, unknown>>`
      select pp.person_id, t.* from ${sql.table(`clinical.${table}`)} t
        join clinical.patient_person pp on pp.patient_ref = t.patient_ref`.execute(runtime.db.kysely)
    const header = Object.keys(result.rows[0] ?? {}).filter((c) => c !== 'content_enc')
    const lines = [header.join(',')]
    for (const row of result.rows) lines.push(header.map((h) => csvField(row[h])).join(','))
    writeFileSync(join(dir, `${table}.csv`), `${lines.join('\n')}\n`)
    rows += result.rows.length
  }
  return rows
}

function csvField(value: unknown): string {
  if (value === null || value === undefined) return ''
  const text =
    value instanceof Date
      ? value.toISOString().slice(0, 10)
      : typeof value === 'object'
        ? JSON.stringify(value)
        : String(value)
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}
