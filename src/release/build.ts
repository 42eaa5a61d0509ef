import { createHash, randomBytes } from 'node:crypto'
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Kysely } from 'kysely'
import {
  type AnonymizationReport,
  anonymizeTable,
  type DicomOption,
  dateOffset,
  deidentifyDicom,
  loadTokenizer,
  type PatientContext,
  pseudonym,
  replacementUid,
  type Scrubbed,
  type ScrubItem,
  scrubMany,
  shiftDate,
  tableFromRows,
  tableToRows,
  type Verification,
  verifyAnonymization,
} from '../anonymize/index.js'
import {
  ageAt,
  type Cohort,
  type EventRow,
  type EventTable,
  readEvents,
  selectCohort,
} from '../clinical/index.js'
import type { Schema } from '../db/index.js'
import { isTokumeiError, TokumeiError } from '../model/index.js'
import { type Keyring, recordAuditEvent } from '../security/index.js'
import { TOKUMEI_VERSION } from '../version.js'
import { describeVariable } from './dictionary.js'
import { activeContract } from './governance.js'
import {
  listFiles,
  type Manifest,
  signManifest,
  type TableData,
  type VariableType,
  writeCsv,
  writeParquet,
} from './package.js'
import { renderReport } from './report.js'
import type { ReleaseSpec, ReleaseTable } from './spec.js'

/**
 * A release build (a core job): the cohort from the clinical store at person level, the persons
 * table through the policy with the engine, the events of the persons kept — each person's dates
 * moved by their offset, rare codes suppressed —, images de-identified, documents scrubbed, the
 * verifier run, and the signed package written. Pseudonyms and offsets derive from the release's own
 * key (HKDF of the agency's hash key and the release id), so two releases cannot be joined, and the
 * digests of the pseudonyms are kept to trace a leaked fragment. A failure leaves no package.
 */
type Db = Kysely<Schema>

export interface BuildContext {
  readonly db: Db
  readonly keyring: Keyring
  readonly actor: string
  /** Where packages are written: `<dir>/<release id>/`. */
  readonly releasesDir: string
  /** The clinical object store (DICOM instances), read by key. */
  readonly readObject?: (key: string) => Uint8Array
  /** The patients' own identifiers, to scrub documents with (the composition root asks identity). */
  readonly patientContexts?: (refs: readonly number[]) => Promise<ReadonlyMap<number, PatientContext>>
  /** Institution names, found in documents as written. */
  readonly institutionNames?: readonly string[]
  readonly onProgress?: (stage: string, message: string) => void
  readonly today?: Date
}

export interface StageTiming {
  readonly stage: string
  readonly milliseconds: number
  readonly rows: number
}

export interface BuildResult {
  readonly id: string
  readonly dir: string
  readonly persons: number
  readonly tables: ReadonlyArray<{ readonly name: string; readonly rows: number }>
  readonly stages: readonly StageTiming[]
  readonly verification: Verification
  readonly manifest: Manifest
}

/** The key of one release: pseudonyms, date offsets and image UIDs derive from it. */
export const releaseKey = (keyring: Keyring, id: string): Buffer => keyring.hmacKey(`release/${id}`)

/** The 8 bytes of SHA-256 of a pseudonym that trace keeps (never the pseudonym itself). */
export const markOf = (value: string): Buffer => createHash('sha256').update(value).digest().subarray(0, 8)

const TYPES: Readonly<Record<string, VariableType>> = {
  date: 'date',
  dose: 'number',
  days: 'integer',
  count: 'integer',
  main: 'boolean',
  injection: 'boolean',
}

/** Variables whose values are codes or names that a rare value could single a person out by. */
const RARE_CHECKED = new Set([
  'icd10',
  'medis_code',
  'name',
  'hot9',
  'receipt_code',
  'jlac10',
  'code',
  'department',
  'title',
])

export async function buildRelease(context: BuildContext, spec: ReleaseSpec): Promise<BuildResult> {
  const contract = await activeContract(context.db, spec.project)
  if (contract.kind !== 'anonymized')
    throw new TokumeiError(
      `Project ${spec.project} is for pseudonymized data (仮名加工医療情報): this build makes anonymized releases only.`,
      { code: 'release.kind_unsupported', kind: 'invalid' },
    )
  const today = context.today ?? new Date()
  const id = `R-${today.toISOString().slice(0, 10).replaceAll('-', '')}-${randomBytes(4).toString('hex')}`
  await context.db
    .insertInto('governance.release')
    .values({
      id,
      kind: 'dataset',
      project_id: contract.projectId,
      contract_id: contract.contractId,
      spec: JSON.stringify({ ...spec, policyDocument: undefined, selected: spec.selected }),
      spec_sha256: spec.sha256,
      built_by: context.actor,
    })
    .execute()
  await recordAuditEvent(context.db, context.keyring, {
    actor: context.actor,
    action: 'release.started',
    target: `release:${id}`,
    detail: { project: spec.project, contract: contract.contract },
  })
  const final = join(context.releasesDir, id)
  const partial = `${final}.partial`
  try {
    mkdirSync(partial, { recursive: true, mode: 0o700 })
    const result = await build(context, spec, id, partial, contract, today)
    renameSync(partial, final)
    await context.db.transaction().execute(async (trx) => {
      await trx
        .updateTable('governance.release')
        .set({
          state: 'built',
          dir: final,
          manifest: JSON.stringify(result.manifest),
          persons: result.persons,
          finished_at: new Date(),
        })
        .where('id', '=', id)
        .execute()
      for (let i = 0; i < result.marks.length; i += 10_000) {
        const chunk = result.marks.slice(i, i + 10_000)
        await trx
          .insertInto('governance.release_mark')
          .values(chunk.map((mark) => ({ mark, release_id: id })))
          .onConflict((oc) => oc.doNothing())
          .execute()
      }
      await recordAuditEvent(trx, context.keyring, {
        actor: context.actor,
        action: 'release.built',
        target: `release:${id}`,
        detail: {
          project: spec.project,
          persons: result.persons,
          files: result.manifest.files.length,
          k: result.manifest.privacy?.k ?? null,
        },
      })
    })
    return { ...result, id, dir: final }
  } catch (error) {
    rmSync(partial, { recursive: true, force: true })
    const message = isTokumeiError(error) ? error.message : 'an internal error (see the server log)'
    await context.db
      .updateTable('governance.release')
      .set({ state: 'failed', error: message, finished_at: new Date() })
      .where('id', '=', id)
      .execute()
    await recordAuditEvent(context.db, context.keyring, {
      actor: context.actor,
      action: 'release.failed',
      target: `release:${id}`,
      outcome: 'failed',
      detail: { code: isTokumeiError(error) ? error.code : 'internal' },
    })
    throw error
  }
}

interface Built extends Omit<BuildResult, 'id' | 'dir'> {
  readonly marks: Buffer[]
}

async function build(
  context: BuildContext,
  spec: ReleaseSpec,
  id: string,
  dir: string,
  contract: Awaited<ReturnType<typeof activeContract>>,
  today: Date,
): Promise<Built> {
  const key = releaseKey(context.keyring, id)
  const policy = spec.policyDocument
  const days = policy['date-shift'].days
  const stages: StageTiming[] = []
  const progress = (stage: string, message: string) => context.onProgress?.(stage, message)
  const timed = async <T>(
    stage: string,
    fn: () => Promise<T> | T,
    rows: (value: T) => number,
  ): Promise<T> => {
    const started = performance.now()
    progress(stage, 'started')
    const value = await fn()
    const stageRows = rows(value)
    stages.push({ stage, milliseconds: Math.round(performance.now() - started), rows: stageRows })
    progress(stage, `${stageRows} rows`)
    return value
  }

  // 1. The cohort.
  const cohort = await timed(
    'cohort',
    () => selectCohort(context.db, spec.cohort, today),
    (c) => c.persons.size,
  )
  if (cohort.persons.size === 0)
    throw new TokumeiError(`The cohort of ${spec.source} is empty: no linked person meets its criteria.`, {
      code: 'release.empty_cohort',
      kind: 'invalid',
    })

  // 2. The persons table through the policy.
  const personsSpec = spec.selected[0] as { table: ReleaseTable; columns: readonly string[] }
  const personsHeader = ['person', ...personsSpec.columns]
  const personsInput = [...cohort.persons.values()].map((p) => [
    String(p.personId),
    ...personsSpec.columns.map((c) =>
      c === 'age'
        ? String((p.birthDate && ageAt(p.birthDate, cohort.reference)) ?? '')
        : c === 'sex'
          ? (p.sex ?? '')
          : (p.area ?? ''),
    ),
  ])
  const anonymized = await timed(
    'persons',
    () =>
      anonymizeTable(tableFromRows(personsHeader, personsInput), policy, {
        key,
        source: 'persons',
        onProgress: (message) => progress('persons', message),
      }),
    (r) => r.output.rows,
  )
  const personsOut = tableToRows(anonymized.output)
  const verification = verifyAnonymization({
    input: rowsOf(personsHeader, personsInput),
    output: rowsOf(personsOut.header, personsOut.rows),
    policy,
  })
  if (!verification.ok)
    throw new TokumeiError(
      `The verifier refused the persons table: ${verification.checks
        .filter((c) => !c.ok)
        .map((c) => c.name)
        .join(', ')}.`,
      { code: 'release.verification_failed', kind: 'check_failed' },
    )
  // The persons kept (suppression removes whole persons): their pseudonyms and offsets.
  const kept = new Map<number, { pseudonym: string; offset: number }>()
  for (const person of cohort.persons.values()) {
    const name = pseudonym(key, String(person.personId))
    kept.set(person.personId, { pseudonym: name, offset: dateOffset(key, String(person.personId), days) })
  }
  const keptNames = new Set(personsOut.rows.map((r) => r[0] as string))
  for (const [personId, p] of kept) if (!keptNames.has(p.pseudonym)) kept.delete(personId)
  const refs = [...cohort.personOf.keys()].filter((ref) => kept.has(cohort.personOf.get(ref) as number))

  // 3. The events of the persons kept.
  const rare = spec.rare ?? policy.privacy.k
  const tables: TableData[] = [
    {
      name: 'persons',
      header: personsOut.header,
      types: personsOut.header.map(() => 'string'),
      rows: personsOut.rows,
    },
  ]
  const suppressedCodes: Record<string, number> = {}
  let images = { files: 0, withheld: 0 }
  let documents = { files: 0, spans: 0 }
  for (const { table, columns } of spec.selected.slice(1)) {
    const events = await timed(
      table,
      () => readEvents(context.db, table as EventTable, columns, refs, spec.cohort),
      (rows) => rows.length,
    )
    const header = ['person', ...columns]
    let rows = events.map((e) => eventRow(e, columns, cohort, kept))
    if (table === 'images') {
      const done = await timed(
        'images:deidentify',
        () => writeImages(context, spec, key, dir, events, columns, cohort, kept, rows),
        (r) => r.files,
      )
      rows = done.rows
      images = { files: done.files, withheld: done.withheld }
    }
    if (table === 'documents') {
      const done = await timed(
        'documents:scrub',
        () => writeDocuments(context, dir, events, columns, cohort, kept, rows),
        (r) => r.files,
      )
      rows = done.rows
      documents = { files: done.files, spans: done.spans }
    }
    for (let c = 0; c < columns.length; c++) {
      if (!RARE_CHECKED.has(columns[c] as string)) continue
      const suppressed = suppressRareValues(rows, c + 1, rare)
      if (suppressed > 0) suppressedCodes[`${table}.${columns[c]}`] = suppressed
    }
    tables.push({ name: table, header, types: header.map((h) => TYPES[h] ?? 'string'), rows })
  }

  // 4. The files.
  await timed(
    'write',
    () => {
      const metadata = { 'tokumei.release': id, 'tokumei.project': spec.project }
      for (const t of tables) {
        if (spec.formats.includes('csv')) writeCsv(dir, t)
        if (spec.formats.includes('parquet')) writeParquet(dir, t, metadata)
      }
      writeCsv(dir, {
        name: 'data_dictionary',
        header: ['table', 'variable', 'type', 'description', 'processing'],
        types: [],
        rows: tables.flatMap((t) =>
          t.header.map((h, c) => [
            t.name,
            h,
            t.types[c] ?? 'string',
            ...describeVariable(t.name, h, anonymized.report, days),
          ]),
        ),
      })
      return tables.reduce((n, t) => n + t.rows.length, 0)
    },
    (n) => n,
  )
  const releaseReport = {
    release: id,
    project: spec.project,
    contract: contract.contract,
    built: new Date().toISOString(),
    cohort: { ...cohort.counts, reference: cohort.reference, released: kept.size, criteria: spec.cohort },
    tables: tables.map((t) => ({ name: t.name, rows: t.rows.length, variables: t.header })),
    rareValues: { threshold: rare, suppressed: suppressedCodes },
    images,
    documents,
    anonymization: anonymized.report,
    verification,
    stages,
  }
  writeFileSync(join(dir, 'report.json'), `${JSON.stringify(releaseReport, null, 2)}\n`)
  writeFileSync(join(dir, 'report.html'), renderReport(releaseReport))

  const rowCounts = new Map<string, number>()
  for (const t of tables) for (const f of ['csv', 'parquet']) rowCounts.set(`${t.name}.${f}`, t.rows.length)
  const qi = Object.entries(policy.columns)
    .filter(([, c]) => c.role === 'quasi-identifying')
    .map(([n]) => n)
  const manifest = signManifest(
    {
      format: 'tokumei-release/1',
      release: id,
      kind: 'dataset',
      project: spec.project,
      contract: contract.contract,
      recipients: contract.recipients.map((r) => `${r.name} (${r.organisation})`),
      created: new Date().toISOString(),
      engine: `tokumei ${TOKUMEI_VERSION}`,
      specSha256: spec.sha256,
      policySha256: anonymized.report.policySha256,
      privacy: { table: 'persons.csv', quasiIdentifiers: qi, k: policy.privacy.k, person: 'person' },
      files: listFiles(dir, rowCounts),
    },
    {
      ...context.keyring.signingKey('release-manifest'),
      sign: (message) => context.keyring.sign('release-manifest', message),
    },
  )
  writeFileSync(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`)
  return {
    persons: kept.size,
    tables: tables.map((t) => ({ name: t.name, rows: t.rows.length })),
    stages,
    verification,
    manifest,
    marks: [...kept.values()].map((p) => markOf(p.pseudonym)),
  }
}

function rowsOf(header: readonly string[], rows: readonly (readonly string[])[]) {
  return {
    header: [...header],
    rows: rows.map((r) => [...r]),
    delimiter: ',',
    lineOf: (row: number) => row + 2,
  }
}

function eventRow(
  event: EventRow,
  columns: readonly string[],
  cohort: Cohort,
  kept: ReadonlyMap<number, { pseudonym: string; offset: number }>,
): string[] {
  const person = kept.get(cohort.personOf.get(event.patientRef) as number) as {
    pseudonym: string
    offset: number
  }
  return [
    person.pseudonym,
    ...columns.map((c, i) => {
      const value = event.values[i] as string
      return c === 'date' && value !== '' ? (shiftDate(value, person.offset) ?? '') : value
    }),
  ]
}

/** Values held by fewer than `min` persons become `*`; returns how many cells changed. */
function suppressRareValues(rows: string[][], column: number, min: number): number {
  const holders = new Map<string, Set<string>>()
  for (const row of rows) {
    const value = row[column] as string
    if (value === '') continue
    let set = holders.get(value)
    if (!set) {
      set = new Set()
      holders.set(value, set)
    }
    set.add(row[0] as string)
  }
  let changed = 0
  for (const row of rows) {
    const value = row[column] as string
    if (value !== '' && (holders.get(value)?.size ?? 0) < min) {
      row[column] = '*'
      changed++
    }
  }
  return changed
}

async function writeImages(
  context: BuildContext,
  spec: ReleaseSpec,
  key: Uint8Array,
  dir: string,
  events: readonly EventRow[],
  columns: readonly string[],
  cohort: Cohort,
  kept: ReadonlyMap<number, { pseudonym: string; offset: number }>,
  rows: string[][],
): Promise<{ rows: string[][]; files: number; withheld: number }> {
  if (!context.readObject)
    throw new TokumeiError('This build has no object store to read images from.', {
      code: 'release.no_objects',
      kind: 'unavailable',
    })
  const options = new Set(
    (spec.dicom.options.length > 0 ? spec.dicom.options : ['retain-long-modified-dates']) as DicomOption[],
  )
  const tokenizer = options.has('clean-descriptors') ? await loadTokenizer() : undefined
  const fileColumn = columns.indexOf('file') + 1
  const study = columns.indexOf('study') + 1
  const series = columns.indexOf('series') + 1
  const out: string[][] = []
  let files = 0
  let withheld = 0
  events.forEach((event, r) => {
    const person = kept.get(cohort.personOf.get(event.patientRef) as number) as {
      pseudonym: string
      offset: number
    }
    const row = rows[r] as string[]
    const objectKey = event.values[columns.indexOf('file')] as string
    const outcome = deidentifyDicom(context.readObject?.(objectKey) as Uint8Array, {
      key,
      options,
      shiftDays: spec.policyDocument['date-shift'].days,
      withholdBurnedIn: spec.dicom.withholdBurnedIn,
      tokenizer,
      person,
    })
    if (outcome.status !== 'deidentified') {
      withheld++
      return
    }
    const path = `images/${person.pseudonym}/${outcome.studyUid}/${outcome.instanceUid}.dcm`
    mkdirSync(join(dir, 'images', person.pseudonym, outcome.studyUid), { recursive: true })
    writeFileSync(join(dir, path), outcome.bytes)
    files++
    if (study > 0) row[study] = outcome.studyUid
    if (series > 0) row[series] = outcome.seriesUid
    if (fileColumn > 0) row[fileColumn] = path
    out.push(row)
  })
  // UIDs the de-identifier did not see (a withheld object's) are replaced all the same.
  for (const row of out) {
    if (study > 0 && !(row[study] as string).startsWith('2.25.'))
      row[study] = replacementUid(key, row[study] as string)
    if (series > 0 && !(row[series] as string).startsWith('2.25.'))
      row[series] = replacementUid(key, row[series] as string)
  }
  return { rows: out, files, withheld }
}

async function writeDocuments(
  context: BuildContext,
  dir: string,
  events: readonly EventRow[],
  columns: readonly string[],
  cohort: Cohort,
  persons: ReadonlyMap<number, { pseudonym: string; offset: number }>,
  rows: string[][],
): Promise<{ rows: string[][]; files: number; spans: number }> {
  const refs = [...new Set(events.map((e) => e.patientRef))]
  const contexts = context.patientContexts
    ? await context.patientContexts(refs)
    : new Map<number, PatientContext>()
  const fileAt = columns.indexOf('file')
  const titleAt = columns.indexOf('title')
  const docKeys = events.map((e) => e.values[fileAt] as string)
  const { readDocuments } = await import('./documents.js')
  const texts = await readDocuments(context.db, context.keyring, docKeys)
  // Each text document, and its title, scrubbed with its patient's own identifiers and offset.
  const kept: Array<{ row: string[]; pseudonym: string }> = []
  const items: ScrubItem[] = []
  events.forEach((event, r) => {
    const text = texts.get(event.values[fileAt] as string)
    if (text === undefined) return
    const person = persons.get(cohort.personOf.get(event.patientRef) as number) as {
      pseudonym: string
      offset: number
    }
    const options = {
      patient: contexts.get(event.patientRef),
      institutions: context.institutionNames,
      dateOffset: person.offset,
    }
    const row = rows[r] as string[]
    kept.push({ row, pseudonym: person.pseudonym })
    items.push({ text, options })
    if (titleAt >= 0) items.push({ text: row[titleAt + 1] as string, options })
  })
  const scrubbed = await scrubMany(items, {
    onProgress: (done, total) => context.onProgress?.('documents:scrub', `${done}/${total} texts`),
  })
  const perDocument = titleAt >= 0 ? 2 : 1
  let spans = 0
  const out: string[][] = []
  kept.forEach(({ row, pseudonym }, d) => {
    const document = scrubbed[d * perDocument] as Scrubbed
    spans += document.spans.length
    const path = `documents/${pseudonym}/${String(d + 1).padStart(6, '0')}.txt`
    mkdirSync(join(dir, 'documents', pseudonym), { recursive: true })
    writeFileSync(join(dir, path), document.text)
    if (titleAt >= 0) row[titleAt + 1] = (scrubbed[d * perDocument + 1] as Scrubbed).text
    row[fileAt + 1] = path
    out.push(row)
  })
  return { rows: out, files: out.length, spans }
}

export type { AnonymizationReport }
