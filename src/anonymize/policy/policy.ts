import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { LineCounter, parseDocument } from 'yaml'
import { z } from 'zod'
import { TokumeiError } from '../../model/index.js'
import { METRICS } from '../search/metric.js'

/**
 * The anonymization policy: what to do with each column and which privacy model the result must
 * meet. Written in YAML (`docs/policy.schema.json` is its JSON Schema, generated from the zod schema
 * below); a mistake is reported with the line it is on. Hierarchy paths are relative to the policy
 * file. The minimal form:
 *
 *   columns:
 *     age: { role: quasi-identifying, hierarchy: adult_hierarchy_age.csv }
 *     salary-class: { role: sensitive }
 *   privacy: { k: 5, suppression: 0.02 }
 *   metric: loss
 *   csv: { delimiter: ";" }
 */
const positive = z.number().int().min(1)

const diversity = z.strictObject({
  l: z.number().min(1).describe('at least this many distinct values (distinct) or an entropy of log ℓ'),
  variant: z.enum(['distinct', 'entropy']).default('distinct'),
})

const closeness = z.strictObject({
  t: z.number().min(0).max(1).describe('the largest earth mover’s distance allowed'),
  distance: z.enum(['equal', 'hierarchical']).default('equal'),
})

const builtinHierarchy = z.discriminatedUnion('builtin', [
  z.strictObject({
    builtin: z.literal('age'),
    bands: z.array(positive).min(1).optional().describe('band widths, finest first (default 5, 10, 20)'),
    top: positive.optional().describe('ages from this up are one band (top-coding)'),
  }),
  z.strictObject({ builtin: z.literal('date') }),
  z.strictObject({ builtin: z.literal('municipality') }),
  z.strictObject({ builtin: z.literal('area') }).describe('prefecture + municipality name (東京都武蔵野市)'),
  z.strictObject({ builtin: z.literal('postal') }),
  z.strictObject({ builtin: z.literal('icd10') }),
  z.strictObject({ builtin: z.literal('suppress') }),
  z.strictObject({
    builtin: z.literal('interval'),
    width: z.number().positive(),
    levels: positive.max(12).optional(),
    start: z.number().optional(),
    bottom: z.number().optional(),
    top: z.number().optional(),
  }),
])

export const ROLES = ['identifying', 'quasi-identifying', 'sensitive', 'insensitive'] as const
export type Role = (typeof ROLES)[number]

const column = z.strictObject({
  role: z.enum(ROLES),
  /** What an identifying column is, for the statutory measures. */
  kind: z
    .enum(['description', 'code', 'linking-code'])
    .optional()
    .describe(
      'identifying columns: a description (name, address), an individual identification code, or a linking code',
    ),
  type: z
    .enum(['value', 'free-text'])
    .default('value')
    .describe('free text is dropped (scrubbing is a later step)'),
  transform: z
    .enum(['drop', 'keep', 'pseudonymize', 'date-shift'])
    .optional()
    .describe(
      'identifying: drop (default) or pseudonymize; others: keep (default), drop, pseudonymize or date-shift',
    ),
  hierarchy: z.union([z.string().min(1), builtinHierarchy]).optional(),
  'top-code': z.number().optional().describe('values at or above become one value ≥N'),
  'bottom-code': z.number().optional().describe('values at or below become one value ≤N'),
  round: z.number().positive().optional().describe('round numbers to a multiple of this'),
  rare: positive.optional().describe('values held by fewer persons than this become *'),
  'l-diversity': diversity.optional(),
  't-closeness': closeness.optional(),
})

export const POLICY_SCHEMA = z.strictObject({
  columns: z.record(z.string().min(1), column).refine((c) => Object.keys(c).length > 0, 'no columns'),
  privacy: z
    .strictObject({
      k: positive.default(1),
      suppression: z.number().min(0).max(1).default(0).describe('share of records that may be suppressed'),
      'l-diversity': diversity.optional().describe('for every sensitive column without its own'),
      't-closeness': closeness.optional().describe('for every sensitive column without its own'),
    })
    .default({ k: 1, suppression: 0 }),
  metric: z.enum(METRICS as [string, ...string[]]).default('loss'),
  /** The column that names a person: one date-shift offset and one count per person. */
  person: z.string().min(1).optional(),
  'date-shift': z
    .strictObject({ days: positive.max(3650).default(365).describe('offsets up to ± this many days') })
    .default({ days: 365 }),
  risk: z
    .strictObject({
      threshold: z.number().gt(0).max(1).default(0.2),
      population: positive
        .optional()
        .describe('the population the data are drawn from, for journalist risk and uniqueness'),
    })
    .default({ threshold: 0.2 }),
  csv: z
    .strictObject({
      delimiter: z.string().length(1).optional(),
      encoding: z.enum(['auto', 'utf-8', 'cp932']).default('auto'),
    })
    .default({ encoding: 'auto' }),
})

export type PolicyDocument = z.infer<typeof POLICY_SCHEMA>
export type ColumnPolicy = z.infer<typeof column>
export type BuiltinHierarchy = z.infer<typeof builtinHierarchy>

export interface Policy extends PolicyDocument {
  /** The policy file, and the directory hierarchy paths are relative to. */
  readonly file: string
  readonly dir: string
  /** SHA-256 of the policy text, for the report. */
  readonly text: string
}

/** The JSON Schema of the policy (published as docs/policy.schema.json). */
export function policyJsonSchema(): Record<string, unknown> {
  return {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'https://tokumei.example/schemas/policy.schema.json',
    title: 'tokumei anonymization policy',
    ...(z.toJSONSchema(POLICY_SCHEMA, { io: 'input' }) as Record<string, unknown>),
  }
}

/** Reads and checks a policy file; every mistake names its line. */
export function readPolicy(file: string): Policy {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (error) {
    throw new TokumeiError(`The policy ${file} cannot be read (${(error as NodeJS.ErrnoException).code}).`, {
      code: 'policy.unreadable',
      kind: 'invalid',
      details: { file },
    })
  }
  return parsePolicy(text, file)
}

export function parsePolicy(text: string, file: string): Policy {
  const lineCounter = new LineCounter()
  const doc = parseDocument(text, { lineCounter, prettyErrors: false })
  const syntax = doc.errors[0]
  if (syntax) {
    const line = lineCounter.linePos(syntax.pos[0]).line
    throw new TokumeiError(
      `${file}, line ${line}: not valid YAML (${syntax.code.toLowerCase().replaceAll('_', ' ')}).`,
      {
        code: 'policy.invalid',
        kind: 'invalid',
        details: { file, line },
      },
    )
  }
  const result = POLICY_SCHEMA.safeParse(doc.toJS())
  if (!result.success) {
    const issue = result.error.issues[0] as z.core.$ZodIssue
    // The line of the deepest node of the issue's path that exists in the document.
    let path = issue.path.map((p) => (typeof p === 'symbol' ? String(p) : p))
    // An unknown key is pointed at itself.
    if (issue.code === 'unrecognized_keys' && issue.keys[0] !== undefined) path = [...path, issue.keys[0]]
    let node: unknown
    while (path.length > 0) {
      node = doc.getIn(path, true)
      if (node && typeof node === 'object' && 'range' in node) break
      path = path.slice(0, -1)
    }
    const range = (node as { range?: [number, number, number] } | undefined)?.range
    const line = range ? lineCounter.linePos(range[0]).line : 1
    const where = issue.path.length > 0 ? issue.path.join('.') : 'the policy'
    throw new TokumeiError(`${file}, line ${line}: ${where}: ${describeIssue(issue)}.`, {
      code: 'policy.invalid',
      kind: 'invalid',
      details: { file, line, path: issue.path.join('.') },
    })
  }
  const policy: Policy = { ...result.data, file, dir: dirname(resolve(file)), text }
  checkCoherence(policy, doc, lineCounter)
  return policy
}

function describeIssue(issue: z.core.$ZodIssue): string {
  switch (issue.code) {
    case 'unrecognized_keys':
      return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.join(', ')}`
    case 'invalid_value':
      return `must be one of ${issue.values.map((v) => String(v)).join(', ')}`
    case 'invalid_type':
      return `expected ${issue.expected}`
    case 'invalid_union':
      return 'not a hierarchy file name nor a built-in hierarchy ({ builtin: age | date | municipality | postal | icd10 | interval | suppress })'
    case 'too_small':
      return `must be at least ${String(issue.minimum)}`
    case 'too_big':
      return `must be at most ${String(issue.maximum)}`
    default:
      return issue.message
  }
}

/** Rules across keys, each with its line. */
function checkCoherence(policy: Policy, doc: ReturnType<typeof parseDocument>, lines: LineCounter): void {
  const lineOf = (path: Array<string>) => {
    const node = doc.getIn(path, true) as { range?: [number, number, number] } | undefined
    return node?.range ? lines.linePos(node.range[0]).line : 1
  }
  const fail = (path: string[], message: string): never => {
    throw new TokumeiError(`${policy.file}, line ${lineOf(path)}: ${path.join('.')}: ${message}`, {
      code: 'policy.invalid',
      kind: 'invalid',
      details: { file: policy.file, line: lineOf(path), path: path.join('.') },
    })
  }
  for (const [name, c] of Object.entries(policy.columns)) {
    const at = ['columns', name]
    if (
      c.role === 'identifying' &&
      c.transform !== undefined &&
      !['drop', 'pseudonymize'].includes(c.transform)
    )
      fail([...at, 'transform'], 'an identifying column must be dropped or pseudonymized.')
    if (c.role !== 'identifying' && c.kind !== undefined)
      fail([...at, 'kind'], 'only identifying columns have a kind.')
    if (c.type === 'free-text' && (c.transform ?? 'drop') !== 'drop')
      fail(
        [...at, 'transform'],
        'free text is dropped: it cannot be kept until the text scrubber runs on it.',
      )
    if (c.hierarchy !== undefined && c.role !== 'quasi-identifying' && c.role !== 'sensitive')
      fail(
        [...at, 'hierarchy'],
        'only quasi-identifiers are generalized (a sensitive column may have one, for hierarchical t-closeness).',
      )
    if (c.role === 'quasi-identifying') {
      if (c.transform === 'drop' || c.transform === 'pseudonymize')
        fail(
          [...at, 'transform'],
          'a quasi-identifier is generalized; to drop or pseudonymize it, give it another role.',
        )
      for (const key of ['top-code', 'bottom-code', 'round', 'rare'] as const)
        if (c[key] !== undefined)
          fail(
            [...at, key],
            'a quasi-identifier is coded through its hierarchy (e.g. `hierarchy: { builtin: age, top: 90 }`), not beside it.',
          )
    }
    if ((c['l-diversity'] || c['t-closeness']) && c.role !== 'sensitive')
      fail(
        [...at, c['l-diversity'] ? 'l-diversity' : 't-closeness'],
        'ℓ-diversity and t-closeness apply to sensitive columns.',
      )
    if (c.transform === 'date-shift' && policy.person === undefined)
      fail([...at, 'transform'], 'a date shift needs `person:` naming the column that identifies a person.')
  }
  if (policy.person !== undefined && !(policy.person in policy.columns))
    fail(['person'], `the column ${policy.person} is not among the columns.`)
  const sensitive = Object.values(policy.columns).filter((c) => c.role === 'sensitive')
  if ((policy.privacy['l-diversity'] || policy.privacy['t-closeness']) && sensitive.length === 0)
    fail(['privacy'], 'ℓ-diversity and t-closeness need a sensitive column.')
  for (const [name, c] of Object.entries(policy.columns)) {
    const t = c['t-closeness'] ?? (c.role === 'sensitive' ? policy.privacy['t-closeness'] : undefined)
    if (t?.distance === 'hierarchical' && c.hierarchy === undefined)
      fail(['columns', name], 'hierarchical t-closeness needs a hierarchy for the sensitive column.')
  }
}

/** A hierarchy path of the policy, resolved against the policy's directory. */
export const hierarchyPath = (policy: Policy, path: string) => resolve(policy.dir, path)
