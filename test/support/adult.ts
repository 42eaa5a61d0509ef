import { join } from 'node:path'
import { exists, SHARED_DATA } from './files.js'

/**
 * ARX's Adult data (`shared/data/kanon`): its 9 attributes in the order of ARX's level vectors, and
 * ARX 3.9.2's published results for its own k-anonymity examples on it (`shared/peers/README.md`:
 * all 9 quasi-identifying, ARX's hierarchies, the loss metric), for the tests and bench/anonymize.
 */
export const ADULT_DIR = SHARED_DATA ? join(SHARED_DATA, 'kanon', 'arx-deidentifier_arx', 'data') : ''
export const HAS_ADULT = SHARED_DATA !== undefined && exists(join(ADULT_DIR, 'adult.csv'))

export const ADULT_ATTRIBUTES = [
  'sex',
  'age',
  'race',
  'marital-status',
  'education',
  'native-country',
  'workclass',
  'occupation',
  'salary-class',
] as const

export const adultHierarchyFile = (attribute: string) => join(ADULT_DIR, `adult_hierarchy_${attribute}.csv`)

export interface ArxRun {
  readonly suppression: number
  readonly k: number
  /** The anonymize() call, warm JVM, median of 5 (ms). */
  readonly ms: number
  readonly levels: readonly number[]
  readonly suppressed: number
  readonly classes: number
  readonly min: number
  readonly max: number
  readonly loss: number
  readonly checked: number
}

export const ARX_RUNS: readonly ArxRun[] = [
  {
    suppression: 0,
    k: 2,
    ms: 51.9,
    levels: [0, 4, 1, 1, 3, 2, 0, 2, 0],
    suppressed: 0,
    classes: 52,
    min: 2,
    max: 6319,
    loss: 0.5297,
    checked: 217,
  },
  {
    suppression: 0,
    k: 5,
    ms: 46.0,
    levels: [0, 4, 1, 1, 3, 2, 2, 1, 0],
    suppressed: 0,
    classes: 24,
    min: 69,
    max: 3951,
    loss: 0.5732,
    checked: 181,
  },
  {
    suppression: 0,
    k: 10,
    ms: 58.6,
    levels: [0, 4, 1, 1, 3, 2, 2, 1, 0],
    suppressed: 0,
    classes: 24,
    min: 69,
    max: 3951,
    loss: 0.5732,
    checked: 160,
  },
  {
    suppression: 0.02,
    k: 2,
    ms: 918.9,
    levels: [0, 3, 0, 1, 2, 1, 1, 1, 0],
    suppressed: 573,
    classes: 872,
    min: 2,
    max: 848,
    loss: 0.2094,
    checked: 1044,
  },
  {
    suppression: 0.02,
    k: 5,
    ms: 782.6,
    levels: [0, 3, 0, 2, 2, 1, 1, 2, 0],
    suppressed: 506,
    classes: 222,
    min: 5,
    max: 3218,
    loss: 0.3137,
    checked: 1245,
  },
  {
    suppression: 0.02,
    k: 10,
    ms: 677.7,
    levels: [0, 4, 0, 1, 2, 1, 1, 2, 0],
    suppressed: 592,
    classes: 124,
    min: 10,
    max: 3125,
    loss: 0.3423,
    checked: 1165,
  },
]

/** Adult as the engine reads it: the table, its 9 columns and their ARX hierarchies (tests only). */
export async function loadAdult() {
  const { readCsvTable, readArxHierarchy } = await import('../../src/anonymize/index.js')
  const { table } = readCsvTable(join(ADULT_DIR, 'adult.csv'), { delimiter: ';' })
  const columns = ADULT_ATTRIBUTES.map((n) => {
    const column = table.column(n)
    if (!column) throw new Error(`adult.csv has no column ${n}`)
    return column
  })
  return {
    table,
    columns,
    hierarchies: columns.map((c) => readArxHierarchy(adultHierarchyFile(c.name), c, ';')),
  }
}
