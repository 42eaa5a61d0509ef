import { type Kysely, sql } from 'kysely'
import type { Schema } from '../db/index.js'
import { prefectureName } from '../model/index.js'

/** Who is in a cohort: each list keeps the persons with at least one matching record in the period. */
export interface CohortCriteria {
  /** ICD-10 codes or prefixes (E11 covers E11.9). */
  readonly conditions?: readonly string[]
  /** ICD-10 codes or prefixes no record of the person may carry (E11.2 … for "without complications"). */
  readonly without?: readonly string[]
  /** HOT9 or レセプト電算 codes, or their prefixes. */
  readonly drugs?: readonly string[]
  /** JLAC10 codes or prefixes. */
  readonly labs?: readonly string[]
  /** DICOM modalities (CR, CT, MR …): persons with an image of one of them. */
  readonly modalities?: readonly string[]
  readonly from?: string
  readonly to?: string
  readonly ages?: { readonly min: number; readonly max: number }
  readonly sex?: readonly string[]
  /** 医療機関コード of the institutions whose records count. */
  readonly institutions?: readonly string[]
}

/** The tables a cohort's events are read from (a release's names). */
export type EventTable =
  | 'encounters'
  | 'conditions'
  | 'medications'
  | 'labs'
  | 'procedures'
  | 'allergies'
  | 'images'
  | 'documents'

/**
 * The cohort of a release or a statistic, read from the pseudonymous store at person level: each linked patient
 * record (`clinical.patient_person`) counts for its person, so a person seen at three hospitals is
 * one row of the persons table and all their events follow them. Persons withheld after a refusal
 * (`clinical.withheld_person`) and patients not yet linked are never part of a cohort.
 */
type Db = Kysely<Schema>

export interface CohortPerson {
  readonly personId: number
  readonly refs: number[]
  birthDate: string | null
  sex: string | null
  area: string | null
  updated: number
}

export interface Cohort {
  readonly persons: Map<number, CohortPerson>
  /** Patient record → person. */
  readonly personOf: Map<number, number>
  /** The day ages are counted at. */
  readonly reference: string
  readonly counts: {
    readonly linkedPatients: number
    readonly candidates: number
    readonly matched: number
    readonly withheld: number
  }
}

const CHUNK = 20_000

const prefixes = (values: readonly string[]) => values.map((v) => `${v.replace('.', '').toUpperCase()}%`)

/**
 * Full years between a birth date and the reference day; none for a person born after it (a record
 * kept after the cohort's period ends, or a wrong birth date), whose age is unknown on that day.
 */
export function ageAt(birth: string, reference: string): number | undefined {
  if (birth > reference) return undefined
  const [by, bm, bd] = birth.split('-').map(Number) as [number, number, number]
  const [ry, rm, rd] = reference.split('-').map(Number) as [number, number, number]
  return ry - by - (rm < bm || (rm === bm && rd < bd) ? 1 : 0)
}

export async function selectCohort(db: Db, c: CohortCriteria, today = new Date()): Promise<Cohort> {
  const reference = c.to ?? today.toISOString().slice(0, 10)
  const institutions = c.institutions ?? null
  const { rows } = await sql<{
    person_id: number
    patient_ref: number
    birth_date: string | null
    sex: string | null
    prefecture: string | null
    municipality: string | null
    updated_at: Date
    withheld: boolean
  }>`
    select pp.person_id, p.patient_ref, p.birth_date, p.sex, p.prefecture, p.municipality, p.updated_at,
           exists (select 1 from clinical.withheld_person w where w.person_id = pp.person_id) as withheld
      from clinical.patient p
      join clinical.patient_person pp on pp.patient_ref = p.patient_ref
      join governance.institution i on i.id = p.institution_id
     where (${institutions}::text[] is null or i.code = any(${institutions}::text[]))`.execute(db)
  const persons = new Map<number, CohortPerson>()
  const withheld = new Set<number>()
  for (const r of rows) {
    if (r.withheld) {
      withheld.add(r.person_id)
      continue
    }
    let person = persons.get(r.person_id)
    if (!person) {
      person = { personId: r.person_id, refs: [], birthDate: null, sex: null, area: null, updated: -1 }
      persons.set(r.person_id, person)
    }
    person.refs.push(r.patient_ref)
    // The newest record's values win; an older one fills what the newer lacks.
    const newer = r.updated_at.getTime() >= person.updated
    const area = r.prefecture
      ? `${prefectureName(r.prefecture) ?? ''}${r.municipality ? r.municipality : ''}`
      : null
    if (r.birth_date && (newer || !person.birthDate)) person.birthDate = r.birth_date
    if (r.sex && r.sex !== 'U' && (newer || !person.sex)) person.sex = r.sex
    if (area && (newer || !person.area)) person.area = area
    if (newer) person.updated = r.updated_at.getTime()
  }
  const candidates = persons.size

  // Each criterion keeps the persons with at least one matching record in the period.
  const criteria: Array<{ table: string; test: ReturnType<typeof sql>; date: string; exclude?: boolean }> = []
  if (c.conditions)
    criteria.push({
      table: 'clinical.condition',
      test: sql`upper(replace(icd10, '.', '')) like any(${prefixes(c.conditions)}::text[])`,
      date: 'coalesce(onset, recorded)',
    })
  if (c.drugs)
    criteria.push({
      table: 'clinical.medication',
      test: sql`(hot9 like any(${prefixes(c.drugs)}::text[]) or receipt_code like any(${prefixes(c.drugs)}::text[]))`,
      date: 'date',
    })
  if (c.labs)
    criteria.push({
      table: 'clinical.lab',
      test: sql`upper(jlac10) like any(${prefixes(c.labs)}::text[])`,
      date: 'date',
    })
  if (c.modalities)
    criteria.push({
      table: 'clinical.imaging',
      test: sql`upper(modality) = any(${c.modalities.map((m) => m.toUpperCase())}::text[])`,
      date: 'date',
    })
  // Without: a person with such a record at any time, at any institution, is left out.
  if (c.without)
    criteria.push({
      table: 'clinical.condition',
      test: sql`upper(replace(icd10, '.', '')) like any(${prefixes(c.without)}::text[])`,
      date: 'coalesce(onset, recorded)',
      exclude: true,
    })
  for (const criterion of criteria) {
    const date = sql.raw(criterion.date)
    const from = criterion.exclude ? null : (c.from ?? null)
    const to = criterion.exclude ? null : (c.to ?? null)
    const { rows: matching } = await sql<{ patient_ref: number }>`
      select distinct patient_ref from ${sql.table(criterion.table)}
       where ${criterion.test}
         and (${from}::date is null or ${date} >= ${from}::date)
         and (${to}::date is null or ${date} <= ${to}::date)`.execute(db)
    const refs = new Set(matching.map((m) => m.patient_ref))
    for (const [id, person] of persons)
      if (person.refs.some((r) => refs.has(r)) === Boolean(criterion.exclude)) persons.delete(id)
  }
  for (const [id, person] of persons) {
    if (c.sex && !(person.sex && (c.sex as string[]).includes(person.sex))) persons.delete(id)
    else if (c.ages) {
      const age = person.birthDate ? ageAt(person.birthDate, reference) : undefined
      if (age === undefined || age < c.ages.min || age > c.ages.max) persons.delete(id)
    }
  }
  const personOf = new Map<number, number>()
  for (const person of persons.values()) for (const ref of person.refs) personOf.set(ref, person.personId)
  return {
    persons,
    personOf,
    reference,
    counts: { linkedPatients: rows.length, candidates, matched: persons.size, withheld: withheld.size },
  }
}

/** Where each release table's variables come from in the clinical store. */
const SOURCES: Record<
  EventTable,
  { readonly table: string; readonly date?: string; readonly columns: Readonly<Record<string, string>> }
> = {
  encounters: {
    table: 'clinical.encounter',
    date: 'date',
    columns: { class: 'class', event: 'event', department: 'department' },
  },
  conditions: {
    table: 'clinical.condition',
    date: 'coalesce(onset, recorded)',
    columns: { icd10: 'icd10', medis_code: 'medis_code', name: 'name', main: 'main::text' },
  },
  medications: {
    table: 'clinical.medication',
    date: 'date',
    columns: {
      hot9: 'hot9',
      receipt_code: 'receipt_code',
      name: 'name',
      dose: 'dose::text',
      unit: 'unit',
      route: 'route',
      days: 'days::text',
      injection: 'injection::text',
    },
  },
  labs: {
    table: 'clinical.lab',
    date: 'date',
    columns: { jlac10: 'jlac10', name: 'name', value: 'value', unit: 'unit', flag: 'flag' },
  },
  procedures: {
    table: 'clinical.procedure',
    date: 'month',
    columns: { code: 'code', category: 'category', count: 'count::text' },
  },
  allergies: { table: 'clinical.allergy', columns: { name: 'name', category: 'category' } },
  images: {
    table: 'clinical.imaging',
    date: 'date',
    columns: {
      modality: 'modality',
      body_part: 'body_part',
      study: 'study_uid',
      series: 'series_uid',
      file: 'object_key',
    },
  },
  documents: {
    table: 'clinical.document',
    date: 'date',
    columns: { title: 'title', file: 'doc_key::text' },
  },
}

/** An event row: its patient record and the values of the asked variables (strings; '' for none). */
export interface EventRow {
  readonly patientRef: number
  readonly values: string[]
}

/**
 * The rows of one event table for the cohort's patient records, the columns in the order asked
 * (`date` is the event's date), within the cohort's period when it has one.
 */
export async function readEvents(
  db: Db,
  table: EventTable,
  columns: readonly string[],
  refs: readonly number[],
  period: { from?: string; to?: string },
): Promise<EventRow[]> {
  const source = SOURCES[table]
  const expressions = columns.map((c) =>
    c === 'date' ? (source.date ?? 'null::text') : (source.columns[c] as string),
  )
  const select = sql.raw(expressions.map((e, i) => `coalesce((${e})::text, '') as c${i}`).join(', '))
  const date = source.date ? sql.raw(source.date) : undefined
  const out: EventRow[] = []
  for (let i = 0; i < refs.length; i += CHUNK) {
    const chunk = refs.slice(i, i + CHUNK)
    const period$ = date
      ? sql`and (${period.from ?? null}::date is null or ${date} >= ${period.from ?? null}::date)
            and (${period.to ?? null}::date is null or ${date} <= ${period.to ?? null}::date)`
      : sql``
    const { rows } = await sql<Record<string, string | number>>`
      select patient_ref, ${select} from ${sql.table(source.table)}
       where patient_ref = any(${chunk}::bigint[]) ${period$}
       order by patient_ref`.execute(db)
    for (const row of rows)
      out.push({
        patientRef: Number(row.patient_ref),
        values: columns.map((_, c) => String(row[`c${c}`] ?? '')),
      })
  }
  return out
}
