import { randomUUID } from 'node:crypto'
import { type Kysely, sql } from 'kysely'
import type { Schema } from '../db/index.js'
import type { ClinicalItem, Sex } from '../model/index.js'
import { isCalendarDate } from '../model/index.js'
import type { Keyring } from '../security/index.js'

/**
 * Writing the pseudonymous clinical store: rows keyed by patient_ref, written a batch at a time with
 * one `insert … select from unnest(…)` per table. Nothing here sees a name or a hospital ID.
 */
type Db = Kysely<Schema>

export interface ClinicalRow {
  readonly patientRef: number
  readonly institutionId: number
  readonly submissionId: number
  /** SS-MIX2 `<data type>:<order number>`, for versioned messages. */
  readonly sourceKey?: string
  readonly item: ClinicalItem
  /** Imaging: the object store key and size of the DICOM object. */
  readonly object?: { readonly key: string; readonly bytes: number }
}

export const CLINICAL_TABLES = [
  'encounter',
  'condition',
  'medication',
  'procedure',
  'lab',
  'allergy',
  'clinical_order',
  'imaging',
  'document',
] as const
export type ClinicalTable = (typeof CLINICAL_TABLES)[number]

const TABLE_OF: Record<ClinicalItem['kind'], ClinicalTable> = {
  encounter: 'encounter',
  condition: 'condition',
  medication: 'medication',
  procedure: 'procedure',
  lab: 'lab',
  allergy: 'allergy',
  order: 'clinical_order',
  imaging: 'imaging',
  document: 'document',
}

/** The column that dates a row, for holdings (保有状況). */
const DATE_COLUMN: Record<ClinicalTable, string | undefined> = {
  encounter: 'date',
  condition: 'coalesce(onset, recorded)',
  medication: 'date',
  procedure: 'month',
  lab: 'date',
  allergy: undefined,
  clinical_order: 'date',
  imaging: 'date',
  document: 'date',
}

/** A date the database will take, or null: readers pass on what the source wrote when it looks like a date. */
export const validDate = (value: string | undefined): string | null =>
  value !== undefined && isCalendarDate(value) ? value : null
const int4 = (value: number | undefined): number | null =>
  value !== undefined && Number.isSafeInteger(value) && Math.abs(value) < 2 ** 31 ? value : null
const num = (value: number | undefined): number | null =>
  value !== undefined && Number.isFinite(value) ? value : null
const text = (value: string | undefined): string | null =>
  value === undefined || value === '' ? null : value

type Column = readonly [name: string, type: string]
interface TableSpec {
  readonly columns: readonly Column[]
  readonly values: (row: ClinicalRow, keyring: Keyring) => unknown[]
}

const COMMON: readonly Column[] = [
  ['patient_ref', 'bigint'],
  ['institution_id', 'bigint'],
  ['submission_id', 'bigint'],
  ['source_key', 'text'],
]
const common = (row: ClinicalRow) => [
  row.patientRef,
  row.institutionId,
  row.submissionId,
  row.sourceKey ?? null,
]

const SPECS: Record<ClinicalTable, TableSpec> = {
  encounter: {
    columns: [...COMMON, ['class', 'text'], ['event', 'text'], ['date', 'date'], ['department', 'text']],
    values: (row) => {
      const i = row.item as Extract<ClinicalItem, { kind: 'encounter' }>
      return [
        ...common(row),
        i.class ?? 'outpatient',
        i.event ?? 'visit',
        validDate(i.date),
        text(i.department),
      ]
    },
  },
  condition: {
    columns: [
      ...COMMON,
      ['name', 'text'],
      ['medis_code', 'text'],
      ['icd10', 'text'],
      ['receipt_code', 'text'],
      ['modifiers', 'text'],
      ['onset', 'date'],
      ['recorded', 'date'],
      ['main', 'boolean'],
    ],
    values: (row) => {
      const i = row.item as Extract<ClinicalItem, { kind: 'condition' }>
      return [
        ...common(row),
        text(i.name),
        text(i.medisCode),
        text(i.icd10),
        text(i.receiptCode),
        text(i.modifiers),
        validDate(i.onset),
        validDate(i.recorded),
        i.main === true,
      ]
    },
  },
  medication: {
    columns: [
      ...COMMON,
      ['name', 'text'],
      ['hot9', 'text'],
      ['receipt_code', 'text'],
      ['dose', 'numeric'],
      ['unit', 'text'],
      ['route', 'text'],
      ['days', 'integer'],
      ['usage', 'text'],
      ['administered', 'boolean'],
      ['injection', 'boolean'],
      ['date', 'date'],
      ['per_day', 'jsonb'],
    ],
    values: (row) => {
      const i = row.item as Extract<ClinicalItem, { kind: 'medication' }>
      return [
        ...common(row),
        text(i.name),
        text(i.hot9),
        text(i.receiptCode),
        num(i.dose),
        text(i.unit),
        text(i.route),
        int4(i.days),
        text(i.usage),
        i.administered === true,
        i.injection === true,
        validDate(i.date),
        i.perDay ? JSON.stringify(i.perDay) : null,
      ]
    },
  },
  procedure: {
    columns: [
      ...COMMON,
      ['code', 'text'],
      ['category', 'text'],
      ['points', 'integer'],
      ['count', 'integer'],
      ['month', 'date'],
      ['per_day', 'jsonb'],
    ],
    values: (row) => {
      const i = row.item as Extract<ClinicalItem, { kind: 'procedure' }>
      return [
        ...common(row),
        text(i.code),
        text(i.category),
        int4(i.points),
        int4(i.count) ?? 0,
        validDate(i.month ? `${i.month}-01` : undefined),
        i.perDay ? JSON.stringify(i.perDay) : null,
      ]
    },
  },
  lab: {
    columns: [
      ...COMMON,
      ['name', 'text'],
      ['jlac10', 'text'],
      ['value', 'text'],
      ['numeric', 'numeric'],
      ['unit', 'text'],
      ['range', 'text'],
      ['flag', 'text'],
      ['date', 'date'],
    ],
    values: (row) => {
      const i = row.item as Extract<ClinicalItem, { kind: 'lab' }>
      return [
        ...common(row),
        text(i.name),
        text(i.jlac10),
        text(i.value),
        num(i.numeric),
        text(i.unit),
        text(i.range),
        text(i.flag),
        validDate(i.date),
      ]
    },
  },
  allergy: {
    columns: [...COMMON, ['name', 'text'], ['category', 'text']],
    values: (row) => {
      const i = row.item as Extract<ClinicalItem, { kind: 'allergy' }>
      return [...common(row), text(i.name), text(i.category)]
    },
  },
  clinical_order: {
    columns: [...COMMON, ['code', 'text'], ['name', 'text'], ['date', 'date']],
    values: (row) => {
      const i = row.item as Extract<ClinicalItem, { kind: 'order' }>
      return [...common(row), text(i.code), text(i.name), validDate(i.date)]
    },
  },
  imaging: {
    columns: [
      ...COMMON,
      ['study_uid', 'text'],
      ['series_uid', 'text'],
      ['sop_instance_uid', 'text'],
      ['sop_class_uid', 'text'],
      ['modality', 'text'],
      ['date', 'date'],
      ['body_part', 'text'],
      ['burned_in', 'boolean'],
      ['object_key', 'text'],
      ['object_bytes', 'bigint'],
    ],
    values: (row) => {
      const i = row.item as Extract<ClinicalItem, { kind: 'imaging' }>
      return [
        ...common(row),
        text(i.studyUid),
        text(i.seriesUid),
        text(i.sopInstanceUid),
        text(i.sopClassUid),
        text(i.modality),
        validDate(i.date),
        text(i.bodyPart),
        i.burnedInAnnotation ?? null,
        row.object?.key ?? '',
        row.object?.bytes ?? 0,
      ]
    },
  },
  document: {
    columns: [
      ...COMMON,
      ['doc_key', 'uuid'],
      ['title', 'text'],
      ['date', 'date'],
      ['content_type', 'text'],
      ['content_enc', 'bytea'],
    ],
    values: (row, keyring) => {
      const i = row.item as Extract<ClinicalItem, { kind: 'document' }>
      const docKey = randomUUID()
      const content = keyring.encrypt('documents', Buffer.from(i.data, 'base64'), documentContext(docKey))
      return [
        ...common(row),
        docKey,
        text(i.title),
        validDate(i.date),
        i.contentType || 'application/octet-stream',
        content,
      ]
    },
  },
}

export const documentContext = (docKey: string) => ({
  table: 'clinical.document',
  column: 'content_enc',
  row: docKey,
})

/** Inserts the rows, one statement per table; returns the number of rows written per table. */
export async function insertClinicalRows(
  db: Db,
  keyring: Keyring,
  rows: readonly ClinicalRow[],
): Promise<Partial<Record<ClinicalTable, number>>> {
  const byTable = new Map<ClinicalTable, ClinicalRow[]>()
  for (const row of rows) {
    const table = TABLE_OF[row.item.kind]
    let list = byTable.get(table)
    if (!list) {
      list = []
      byTable.set(table, list)
    }
    list.push(row)
  }
  const written: Partial<Record<ClinicalTable, number>> = {}
  for (const [table, list] of byTable) {
    const spec = SPECS[table]
    const columns = spec.columns.map(() => [] as unknown[])
    for (const row of list) {
      const values = spec.values(row, keyring)
      for (let c = 0; c < columns.length; c++) (columns[c] as unknown[]).push(values[c])
    }
    const names = sql.raw(spec.columns.map(([name]) => `"${name}"`).join(', '))
    const arrays = sql.join(spec.columns.map(([, type], c) => sql`${columns[c]}::${sql.raw(type)}[]`))
    await sql`insert into ${sql.table(`clinical.${table}`)} (${names}) select * from unnest(${arrays})`.execute(
      db,
    )
    written[table] = list.length
  }
  return written
}

export interface Demographics {
  readonly patientRef: number
  readonly institutionId: number
  readonly birthDate?: string
  readonly sex?: Sex
  /** JIS X 0401 code of the prefecture, and the municipality as written (no street, no number). */
  readonly prefecture?: string
  readonly municipality?: string
}

/**
 * The analysis demographics of each patient (birth date, sex, prefecture and municipality); a newer
 * value replaces an older one.
 */
export async function upsertDemographics(db: Db, rows: readonly Demographics[]): Promise<void> {
  if (rows.length === 0) return
  await sql`
    insert into clinical.patient (patient_ref, institution_id, birth_date, sex, prefecture, municipality)
    select * from unnest(${rows.map((r) => r.patientRef)}::bigint[], ${rows.map((r) => r.institutionId)}::bigint[],
                         ${rows.map((r) => validDate(r.birthDate))}::date[], ${rows.map((r) => r.sex ?? null)}::text[],
                         ${rows.map((r) => r.prefecture ?? null)}::text[], ${rows.map((r) => (r.prefecture ? (r.municipality ?? null) : null))}::text[])
    on conflict (patient_ref) do update
      set birth_date = coalesce(excluded.birth_date, clinical.patient.birth_date),
          sex = coalesce(excluded.sex, clinical.patient.sex),
          prefecture = coalesce(excluded.prefecture, clinical.patient.prefecture),
          municipality = case when excluded.prefecture is null then clinical.patient.municipality
                              else excluded.municipality end,
          updated_at = now()`.execute(db)
}

export interface VersionedMessage {
  readonly patientRef: number
  readonly key: string
  readonly version: string
  readonly flag: '0' | '1' | '2'
}

/**
 * Applies SS-MIX2 condition flags. Of the messages given (one per patient and key, the newest of the
 * batch), returns those whose content is to be stored: flag 1 newer than what is stored. Earlier
 * content of a replaced or deleted (flag 0) order is removed; a flag 2 message (superseded) and one
 * older than the stored version change nothing.
 */
export async function applySourceVersions(
  db: Db,
  messages: readonly VersionedMessage[],
): Promise<Set<string>> {
  const store = new Set<string>()
  const live = messages.filter((m) => m.flag !== '2')
  if (live.length === 0) return store
  const { rows } = await sql<{ patient_ref: number; source_key: string; version: string }>`
    select v.patient_ref, v.source_key, v.version from clinical.source_version v
    join unnest(${live.map((m) => m.patientRef)}::bigint[], ${live.map((m) => m.key)}::text[]) as u(p, k)
      on v.patient_ref = u.p and v.source_key = u.k`.execute(db)
  const stored = new Map(rows.map((r) => [`${r.patient_ref}|${r.source_key}`, r.version]))
  const replace: VersionedMessage[] = []
  const record: VersionedMessage[] = []
  for (const m of live) {
    const previous = stored.get(`${m.patientRef}|${m.key}`)
    if (previous !== undefined && previous > m.version) continue
    if (previous !== undefined) replace.push(m)
    record.push(m)
    if (m.flag === '1') store.add(`${m.patientRef}|${m.key}`)
  }
  if (replace.length > 0) {
    const refs = replace.map((m) => m.patientRef)
    const keys = replace.map((m) => m.key)
    for (const table of CLINICAL_TABLES) {
      await sql`delete from ${sql.table(`clinical.${table}`)} t
        using unnest(${refs}::bigint[], ${keys}::text[]) as u(p, k)
        where t.patient_ref = u.p and t.source_key = u.k`.execute(db)
    }
  }
  if (record.length > 0) {
    await sql`
      insert into clinical.source_version (patient_ref, source_key, version, deleted)
      select * from unnest(${record.map((m) => m.patientRef)}::bigint[], ${record.map((m) => m.key)}::text[],
                           ${record.map((m) => m.version)}::text[], ${record.map((m) => m.flag === '0')}::boolean[])
      on conflict (patient_ref, source_key) do update set version = excluded.version, deleted = excluded.deleted`.execute(
      db,
    )
  }
  return store
}

/** Deletes every clinical row of these patients; returns the rows deleted and the imaging object keys. */
/**
 * After a refusal: the patient's person is withheld from every release and statistic from now on,
 * so that what other institutions sent about them does not carry them into one.
 */
export async function withholdPersonOf(db: Db, patientRef: number): Promise<number> {
  const result = await sql`
    insert into clinical.withheld_person (person_id)
    select person_id from clinical.patient_person where patient_ref = ${patientRef}
    on conflict do nothing`.execute(db)
  return Number(result.numAffectedRows ?? 0)
}

export async function deletePatientData(
  db: Db,
  patientRefs: readonly number[],
): Promise<{ records: number; objectKeys: string[] }> {
  if (patientRefs.length === 0) return { records: 0, objectKeys: [] }
  const { rows: objects } = await sql<{ object_key: string }>`
    select object_key from clinical.imaging where patient_ref = any(${patientRefs}::bigint[])`.execute(db)
  let records = 0
  for (const table of CLINICAL_TABLES) {
    const result =
      await sql`delete from ${sql.table(`clinical.${table}`)} where patient_ref = any(${patientRefs}::bigint[])`.execute(
        db,
      )
    records += Number(result.numAffectedRows ?? 0)
  }
  await sql`delete from clinical.source_version where patient_ref = any(${patientRefs}::bigint[])`.execute(db)
  await sql`delete from clinical.patient where patient_ref = any(${patientRefs}::bigint[])`.execute(db)
  return { records, objectKeys: objects.map((o) => o.object_key) }
}

/** The advisory lock class of holdings refreshes; the second key is the institution. */
const HOLDINGS_LOCK = 0x746b_0002

/** Recomputes an institution's holdings (保有状況): per category, patients, records and date range. */
export async function refreshHoldings(db: Db, institutionId: number): Promise<void> {
  const parts = CLINICAL_TABLES.map((table) => {
    const dateColumn = DATE_COLUMN[table]
    const first = sql.raw(dateColumn ? `min(${dateColumn})` : 'null::date')
    const last = sql.raw(dateColumn ? `max(${dateColumn})` : 'null::date')
    return sql`select ${table}::text as category, count(distinct patient_ref) as patients, count(*) as records,
      ${first} as first_date, ${last} as last_date
      from ${sql.table(`clinical.${table}`)} where institution_id = ${institutionId}`
  })
  if (!db.isTransaction) return db.transaction().execute((trx) => refreshHoldings(trx, institutionId))
  // Two workers finishing at once would both delete and both insert: one at a time per institution.
  await sql`select pg_advisory_xact_lock(${HOLDINGS_LOCK}::int, ${institutionId}::int)`.execute(db)
  await sql`delete from governance.holding where institution_id = ${institutionId}`.execute(db)
  await sql`insert into governance.holding (institution_id, category, patients, records, first_date, last_date)
    select ${institutionId}::bigint, category, patients, records, first_date, last_date
    from (${sql.join(parts, sql` union all `)}) h where records > 0
    union all
    select ${institutionId}::bigint, 'patients', count(*), count(*), null::date, null::date from clinical.patient
    where institution_id = ${institutionId} having count(*) > 0`.execute(db)
}
