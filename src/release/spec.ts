import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { parse as parseYaml } from 'yaml'
import { z } from 'zod'
import { checkDocument, type Policy, parsePolicy } from '../anonymize/index.js'
import { TokumeiError } from '../model/index.js'
import { COHORT_SCHEMA } from '../stats/index.js'

/**
 * A release spec (提供仕様): the approved project it serves, the cohort, the tables and variables,
 * the policy and the formats. A YAML file; `docs/provision.md` describes every field.
 */

/** The tables a release can hold and the variables of each (the first is always the person). */
export const RELEASE_TABLES = {
  persons: ['age', 'sex', 'area'],
  encounters: ['date', 'class', 'event', 'department'],
  conditions: ['date', 'icd10', 'medis_code', 'name', 'main'],
  medications: ['date', 'hot9', 'receipt_code', 'name', 'dose', 'unit', 'route', 'days', 'injection'],
  labs: ['date', 'jlac10', 'name', 'value', 'unit', 'flag'],
  procedures: ['date', 'code', 'category', 'count'],
  allergies: ['name', 'category'],
  images: ['date', 'modality', 'body_part', 'study', 'series', 'file'],
  documents: ['date', 'title', 'file'],
} as const
export type ReleaseTable = keyof typeof RELEASE_TABLES

const tableNames = Object.keys(RELEASE_TABLES) as [ReleaseTable, ...ReleaseTable[]]

export const SPEC_SCHEMA = z.strictObject({
  project: z.string().trim().min(1),
  title: z.string().default(''),
  cohort: COHORT_SCHEMA.default({}),
  tables: z
    .union([
      z.array(z.enum(tableNames)).min(1),
      z.partialRecord(z.enum(tableNames), z.union([z.literal('all'), z.array(z.string().min(1)).min(1)])),
    ])
    .default(['persons', 'conditions', 'medications', 'labs']),
  policy: z
    .string()
    .min(1)
    .optional()
    .describe('the policy of the persons table (default: k = 5 on age, sex and area)'),
  /** Codes held by fewer persons than this in a table become `*` (default: the policy's k). */
  rare: z.number().int().positive().optional(),
  formats: z
    .array(z.enum(['csv', 'parquet']))
    .min(1)
    .default(['csv', 'parquet']),
  dicom: z
    .strictObject({
      options: z.array(z.string()).default([]),
      withholdBurnedIn: z.boolean().default(true),
    })
    .default({ options: [], withholdBurnedIn: true }),
})

export interface ReleaseSpec extends z.infer<typeof SPEC_SCHEMA> {
  /** Each table asked for and its variables, in the order of RELEASE_TABLES. */
  readonly selected: ReadonlyArray<{ readonly table: ReleaseTable; readonly columns: readonly string[] }>
  readonly policyDocument: Policy
  /** SHA-256 of the spec's own text. */
  readonly sha256: string
  readonly source: string
}

/**
 * The persons table's policy when the spec names none: the person's release pseudonym, age in bands
 * up to 90+, sex, area generalized from municipality to prefecture and region; k = 5 with up to 5 %
 * of persons suppressed.
 */
const DEFAULT_COLUMNS: Readonly<Record<string, string>> = {
  age: '{ role: quasi-identifying, hierarchy: { builtin: age, bands: [5, 10, 20], top: 90 } }',
  sex: '{ role: quasi-identifying }',
  area: '{ role: quasi-identifying, hierarchy: { builtin: area } }',
}

export function defaultPersonsPolicy(columns: readonly string[], k = 5): string {
  return [
    `# The persons table of a release (tokumei's default${k === 5 ? '' : `, with k = ${k}`}).`,
    'columns:',
    '  person: { role: identifying, kind: linking-code, transform: pseudonymize }',
    ...columns.map((c) => `  ${c}: ${DEFAULT_COLUMNS[c]}`),
    `privacy: { k: ${k}, suppression: 0.05 }`,
    'person: person',
    '',
  ].join('\n')
}

/** A policy stored under a name (`governance.policy`), which a spec from the portal may choose. */
export interface NamedPolicy {
  readonly name: string
  readonly text: string
}

/**
 * A spec's text, checked. Its `policy` is a file relative to `dir`, or — for a spec from the portal —
 * the name of the stored policy handed over as `named`.
 */
export function parseSpec(
  text: string,
  source: string,
  dir = process.cwd(),
  named?: NamedPolicy,
): ReleaseSpec {
  let data: unknown
  try {
    data = parseYaml(text)
  } catch (error) {
    throw new TokumeiError(`${source}: not YAML or JSON (${(error as Error).message.split('\n')[0]}).`, {
      code: 'release.bad_spec',
      kind: 'invalid',
    })
  }
  const spec = checkDocument(SPEC_SCHEMA, data, source, 'release.bad_spec')
  const asked = Array.isArray(spec.tables)
    ? Object.fromEntries(spec.tables.map((t) => [t, 'all' as const]))
    : spec.tables
  if (!('persons' in asked)) asked.persons = 'all'
  const selected = tableNames
    .filter((table) => table in asked)
    .map((table) => {
      const known: readonly string[] = RELEASE_TABLES[table]
      const wanted = asked[table]
      const columns = wanted === 'all' || wanted === undefined ? known : wanted
      for (const column of columns)
        if (!known.includes(column))
          throw new TokumeiError(
            `${source}, at tables.${table}: ${table} has no variable ${column} (it has ${known.join(', ')}).`,
            { code: 'release.bad_spec', kind: 'invalid' },
          )
      return { table, columns: known.filter((c) => columns.includes(c)) }
    })
  const { from, to } = spec.cohort
  if (from && to && from > to)
    throw new TokumeiError(`${source}, at cohort: from (${from}) is after to (${to}).`, {
      code: 'release.bad_spec',
      kind: 'invalid',
    })
  let policyDocument: Policy
  if (spec.policy && named) {
    if (named.name !== spec.policy)
      throw new TokumeiError(
        `${source}, at policy: the stored policy handed over is ${named.name}, not ${spec.policy}.`,
        {
          code: 'release.bad_spec',
          kind: 'invalid',
        },
      )
    policyDocument = parsePolicy(named.text, `the stored policy ${named.name}`)
  } else if (spec.policy) {
    const file = resolve(dir, spec.policy)
    let policyText: string
    try {
      policyText = readFileSync(file, 'utf8')
    } catch {
      throw new TokumeiError(`${source}, at policy: ${file} cannot be read.`, {
        code: 'release.bad_spec',
        kind: 'invalid',
      })
    }
    policyDocument = parsePolicy(policyText, file)
  } else
    policyDocument = parsePolicy(
      defaultPersonsPolicy(selected[0]?.columns ?? []),
      'the default persons policy',
    )
  const personsColumns = ['person', ...(selected[0]?.columns ?? [])]
  for (const column of personsColumns)
    if (!(column in policyDocument.columns))
      throw new TokumeiError(
        `${policyDocument.file}: the persons table has the column ${column}, which the policy gives no role.`,
        { code: 'release.bad_policy', kind: 'invalid' },
      )
  if (policyDocument.person !== 'person')
    throw new TokumeiError(
      `${policyDocument.file}: a release policy names its person column: \`person: person\`.`,
      {
        code: 'release.bad_policy',
        kind: 'invalid',
      },
    )
  return {
    ...spec,
    selected,
    policyDocument,
    sha256: createHash('sha256').update(text).digest('hex'),
    source,
  }
}

export function readSpec(file: string): ReleaseSpec {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch {
    throw new TokumeiError(`${file} cannot be read.`, { code: 'release.bad_spec', kind: 'invalid' })
  }
  return parseSpec(text, file, dirname(resolve(file)))
}
