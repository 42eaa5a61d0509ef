import { type Kysely, sql } from 'kysely'
import { ageAt, type Cohort, selectCohort } from '../clinical/index.js'
import type { Schema } from '../db/index.js'
import { TokumeiError } from '../model/index.js'
import { type Disclosure, feasibleBounds, protectTable } from './disclosure.js'
import { queryShape, type StatsQuery } from './query.js'
import { type Cell, type HierTable, keyOf, type StatsPerson, TOTAL, tabulate } from './tabulate.js'

/**
 * A statistical query answered inside the agency: the cohort from the clinical store, the table
 * with its margins, disclosure control, and the published rows — suppressed cells as `x`, margins as
 * 計. Before it answers, the query is compared with the project's earlier ones of the same shape: if
 * their cohorts differ by 1 … threshold − 1 persons, subtracting one table from the other would show
 * those persons, and the query is refused.
 */
type Db = Kysely<Schema>

export const SUPPRESSED = 'x'
export const TOTAL_LABEL = '計'

export interface StatsAnswer {
  readonly query: StatsQuery
  readonly cohort: number
  readonly persons: ReadonlySet<number>
  readonly table: HierTable
  readonly disclosure: Disclosure
  readonly header: readonly string[]
  readonly rows: readonly (readonly string[])[]
}

async function newestLabValues(db: Db, cohort: Cohort, lab: string): Promise<Map<number, number>> {
  const refs = [...cohort.personOf.keys()]
  const out = new Map<number, { date: string; value: number }>()
  for (let i = 0; i < refs.length; i += 20_000) {
    const { rows } = await sql<{ patient_ref: number; date: string | null; numeric: string }>`
      select patient_ref, date::text as date, numeric::text as numeric from clinical.lab
       where patient_ref = any(${refs.slice(i, i + 20_000)}::bigint[])
         and upper(jlac10) like ${`${lab.toUpperCase()}%`} and numeric is not null`.execute(db)
    for (const r of rows) {
      const person = cohort.personOf.get(Number(r.patient_ref)) as number
      const known = out.get(person)
      const date = r.date ?? ''
      if (!known || known.date <= date) out.set(person, { date, value: Number(r.numeric) })
    }
  }
  return new Map([...out].map(([p, v]) => [p, v.value]))
}

export async function cohortOf(db: Db, query: StatsQuery, today?: Date): Promise<Cohort> {
  return selectCohort(db, query.filters, today)
}

export async function answerQuery(db: Db, query: StatsQuery, today?: Date): Promise<StatsAnswer> {
  const cohort = await cohortOf(db, query, today)
  const lab =
    typeof query.measure === 'object'
      ? 'sum' in query.measure
        ? query.measure.sum.lab
        : query.measure.mean.lab
      : undefined
  const values = lab ? await newestLabValues(db, cohort, lab) : undefined
  const persons: StatsPerson[] = [...cohort.persons.values()].map((p) => ({
    age: p.birthDate ? ageAt(p.birthDate, cohort.reference) : undefined,
    sex: p.sex,
    area: p.area,
    birthYear: p.birthDate ? Number(p.birthDate.slice(0, 4)) : undefined,
    value: values?.get(p.personId),
  }))
  const table = tabulate(persons, query.dimensions)
  const disclosure = await protectTable(table, query.threshold)
  const measure = typeof query.measure === 'string' ? 'count' : 'sum' in query.measure ? 'sum' : 'mean'
  const header = [...query.dimensions, 'count', ...(measure === 'count' ? [] : [measure])]
  const rows = table.cells.map((cell, c) =>
    publishedRow(table, cell, disclosure.state[c] as number, query, measure),
  )
  return {
    query,
    cohort: cohort.persons.size,
    persons: new Set(cohort.persons.keys()),
    table,
    disclosure,
    header,
    rows,
  }
}

function publishedRow(
  table: HierTable,
  cell: Cell,
  state: number,
  query: StatsQuery,
  measure: string,
): string[] {
  const labels = cell.key.map((k, i) =>
    k === TOTAL ? TOTAL_LABEL : ((table.categories[i] as string[])[k] as string),
  )
  if (state !== 0) return [...labels, SUPPRESSED, ...(measure === 'count' ? [] : [SUPPRESSED])]
  const rounding = query.rounding
  const count = rounding ? Math.round(cell.count / rounding) * rounding : cell.count
  const extra =
    measure === 'count'
      ? []
      : [
          cell.valued === 0
            ? ''
            : measure === 'sum'
              ? String(Math.round(cell.sum * 1000) / 1000)
              : String(Math.round((cell.sum / cell.valued) * 1000) / 1000),
        ]
  return [...labels, String(count), ...extra]
}

/**
 * The table back from its published rows (labels, counts, `x`), for the verifier: the cells with
 * their known counts, and which are suppressed.
 */
export function publishedTable(
  header: readonly string[],
  rows: readonly (readonly string[])[],
): { table: HierTable; state: Uint8Array; dimensions: readonly string[] } {
  const countAt = header.indexOf('count')
  const dimensions = header.slice(0, countAt)
  const categories = dimensions.map((_, i) => [
    ...new Set(rows.map((r) => r[i] as string).filter((v) => v !== TOTAL_LABEL)),
  ])
  const cells: Cell[] = []
  const index = new Map<string, number>()
  const state = new Uint8Array(rows.length)
  rows.forEach((row, r) => {
    const key = dimensions.map((_, i) =>
      row[i] === TOTAL_LABEL ? TOTAL : (categories[i] as string[]).indexOf(row[i] as string),
    )
    const value = row[countAt] as string
    state[r] = value === SUPPRESSED ? 1 : 0
    index.set(keyOf(key), cells.length)
    cells.push({ key, count: value === SUPPRESSED ? 0 : Number(value), sum: 0, valued: 0 })
  })
  return {
    table: { dimensions: dimensions as HierTable['dimensions'], categories, cells, index },
    state,
    dimensions,
  }
}

/** From the published rows alone: no count under the threshold, every suppressed cell's range. */
export async function checkPublished(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  threshold: number,
): Promise<{ small: number; suppressed: number; unprotected: number; complete: boolean }> {
  const { table, state } = publishedTable(header, rows)
  const expected = table.categories.reduce((n, c) => n * (c.length + 1), 1)
  const complete = table.cells.length === expected && table.index.size === expected
  const small = table.cells.filter((c, i) => state[i] === 0 && c.count > 0 && c.count < threshold).length
  const bounds = complete ? await feasibleBounds(table, state, threshold) : []
  return {
    small,
    suppressed: bounds.length,
    unprotected: bounds.filter((b) => !b.protected).length,
    complete,
  }
}

/**
 * Refuses a query whose cohort differs from an earlier answered one of the same shape (by the same
 * project) by 1 … threshold − 1 persons. The earlier cohorts are recomputed now from their filters.
 */
export async function refuseDifferencing(
  db: Db,
  projectId: number,
  query: StatsQuery,
  persons: ReadonlySet<number>,
  today?: Date,
): Promise<void> {
  const earlier = await db
    .selectFrom('governance.stats_query')
    .select(['id', 'query'])
    .where('project_id', '=', projectId)
    .where('shape', '=', queryShape(query))
    .where('outcome', '=', 'answered')
    .orderBy('id', 'desc')
    .limit(50)
    .execute()
  for (const e of earlier) {
    const other = await cohortOf(db, e.query as unknown as StatsQuery, today)
    let difference = 0
    for (const p of persons) if (!other.persons.has(p)) difference++
    for (const p of other.persons.keys()) if (!persons.has(p)) difference++
    if (difference > 0 && difference < query.threshold)
      throw new TokumeiError(
        `Refused: this query's cohort differs from that of query ${e.id} (same table) by fewer than ${query.threshold} persons, so the two answers together would disclose them.`,
        { code: 'stats.differencing', kind: 'forbidden', details: { earlier: e.id } },
      )
  }
}
