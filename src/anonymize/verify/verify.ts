import { readFileSync } from 'node:fs'
import { parse } from 'csv-parse/sync'
import type { CsvRows } from '../csv.js'
import { decodeCsv, sniffDelimiter } from '../csv.js'
import {
  ageBands,
  areaLevels,
  dateLevels,
  icd10Levels,
  intervalLevels,
  municipalityLevels,
  postalLevels,
} from '../hierarchy/builtin.js'
import type { Generalizer } from '../hierarchy/hierarchy.js'
import { type ColumnPolicy, hierarchyPath, type Policy } from '../policy/policy.js'

/**
 * The independent verifier: from the files alone — the input CSV, the output CSV and the policy — it
 * recomputes what the output guarantees, by its own code path (strings and maps, none of the
 * engine's encoded classes, lattice or models): the columns that must be gone are gone and none of
 * their values appears anywhere, pseudonymized columns hold no input value, no more records are
 * missing than the suppression limit allows, and every class of the quasi-identifiers' values has
 * at least k records, ℓ diverse and t close values of each sensitive column.
 */
export interface VerificationCheck {
  readonly name: string
  readonly ok: boolean
  readonly detail: string
}

export interface Verification {
  readonly ok: boolean
  readonly checks: readonly VerificationCheck[]
}

export interface VerifyInput {
  readonly input: CsvRows
  readonly output: CsvRows
  readonly policy: Policy
  /**
   * t-closeness's reference distributions by column, for sensitive columns whose values a transform
   * changed (so that the input's own values are not the released ones); otherwise the input's.
   */
  readonly reference?: Readonly<Record<string, Readonly<Record<string, number>>>>
}

const isDropped = (c: ColumnPolicy) =>
  c.type === 'free-text' ||
  c.transform === 'drop' ||
  (c.role === 'identifying' && c.transform !== 'pseudonymize')

/** Values too short or plain to be evidence of a leak when they recur (a sex code, a digit). */
const telling = (value: string) => {
  const v = value.trim()
  // biome-ignore lint/suspicious/noControlCharactersInRegex: ASCII range
  return /[^\u0000-\u007f]/.test(v) ? v.length >= 2 : v.length >= 4
}

export function verifyAnonymization({ input, output, policy, reference }: VerifyInput): Verification {
  const checks: VerificationCheck[] = []
  const check = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail })
  const column = (csv: CsvRows, name: string) => csv.header.indexOf(name)

  // Columns.
  const expected = input.header.filter((name) => {
    const spec = policy.columns[name]
    return spec !== undefined && !isDropped(spec)
  })
  check(
    'columns',
    expected.length === output.header.length && expected.every((n, i) => output.header[i] === n),
    `expected ${expected.join(', ')}; found ${output.header.join(', ')}`,
  )

  // No value of a dropped column anywhere in the output.
  const droppedValues = new Map<string, string>()
  for (const name of input.header) {
    const spec = policy.columns[name]
    if (!spec || !isDropped(spec)) continue
    const c = column(input, name)
    for (const row of input.rows) {
      const value = (row[c] ?? '').trim()
      if (telling(value)) droppedValues.set(value, name)
    }
  }
  let leak: string | undefined
  for (let r = 0; r < output.rows.length && !leak; r++)
    for (let c = 0; c < output.header.length; c++) {
      const from = droppedValues.get(((output.rows[r] as string[])[c] ?? '').trim())
      if (from) {
        leak = `a value of the dropped column ${from} appears in ${output.header[c]}, output line ${output.lineOf(r)}`
        break
      }
    }
  check(
    'dropped values absent',
    leak === undefined,
    leak ?? `${droppedValues.size} distinct dropped values, none in the output`,
  )

  // Pseudonymized columns hold no input value of theirs.
  for (const name of input.header) {
    const spec = policy.columns[name]
    if (spec?.transform !== 'pseudonymize') continue
    const original = new Set(
      input.rows.map((row) => (row[column(input, name)] ?? '').trim()).filter((v) => v !== ''),
    )
    const c = column(output, name)
    const found = c < 0 ? -1 : output.rows.findIndex((row) => original.has((row[c] ?? '').trim()))
    check(
      `pseudonyms of ${name}`,
      c >= 0 && found === -1,
      c < 0
        ? 'column missing'
        : found === -1
          ? 'no input value kept'
          : `an input value kept at output line ${output.lineOf(found)}`,
    )
  }

  // Suppression within the limit.
  const maxSuppressed = Math.floor(policy.privacy.suppression * input.rows.length + 1e-9)
  const missing = input.rows.length - output.rows.length
  check(
    'suppression',
    missing >= 0 && missing <= maxSuppressed,
    `${missing} record(s) removed, at most ${maxSuppressed} allowed`,
  )

  // Classes of the quasi-identifiers' output values.
  const qi = output.header.filter((n) => policy.columns[n]?.role === 'quasi-identifying')
  const qiIndex = qi.map((n) => column(output, n))
  const classes = new Map<string, number[]>()
  output.rows.forEach((row, r) => {
    const key = qiIndex.map((c) => row[c] ?? '').join('\u0000')
    const list = classes.get(key)
    if (list) list.push(r)
    else classes.set(key, [r])
  })
  let smallest = Number.POSITIVE_INFINITY
  for (const rows of classes.values()) smallest = Math.min(smallest, rows.length)
  if (output.rows.length > 0)
    check(
      'k-anonymity',
      smallest >= policy.privacy.k,
      `smallest class ${smallest}, k = ${policy.privacy.k} (${classes.size} classes)`,
    )

  for (const name of output.header) {
    const spec = policy.columns[name] as ColumnPolicy | undefined
    if (spec?.role !== 'sensitive') continue
    const c = column(output, name)
    const diversity = spec['l-diversity'] ?? policy.privacy['l-diversity']
    const closeness = spec['t-closeness'] ?? policy.privacy['t-closeness']
    if (diversity) {
      let worst = Number.POSITIVE_INFINITY
      for (const rows of classes.values()) {
        const counts = tally(rows.map((r) => (output.rows[r] as string[])[c] ?? ''))
        const l =
          diversity.variant === 'distinct'
            ? counts.size
            : Math.exp(
                [...counts.values()].reduce((h, n) => h - (n / rows.length) * Math.log(n / rows.length), 0),
              )
        worst = Math.min(worst, l)
      }
      check(
        `${diversity.variant} ℓ-diversity of ${name}`,
        classes.size === 0 || worst >= diversity.l - 1e-9,
        `lowest ℓ ${Number(worst.toPrecision(6))}, required ${diversity.l}`,
      )
    }
    if (closeness) {
      const q: Map<string, number> = reference?.[name]
        ? new Map(Object.entries(reference[name] as Record<string, number>))
        : shares(input.rows.map((row) => row[column(input, name)] ?? ''))
      const levels = closeness.distance === 'hierarchical' ? labelsOf(policy, spec) : undefined
      let worst = 0
      for (const rows of classes.values()) {
        const p = shares(rows.map((r) => (output.rows[r] as string[])[c] ?? ''))
        worst = Math.max(worst, levels ? treeDistance(p, q, levels) : variational(p, q))
      }
      check(
        `t-closeness of ${name} (${closeness.distance})`,
        worst <= closeness.t + 1e-9,
        `largest distance ${Number(worst.toPrecision(6))}, allowed ${closeness.t}`,
      )
    }
  }
  return { ok: checks.every((c) => c.ok), checks }
}

function tally(values: readonly string[]): Map<string, number> {
  const counts = new Map<string, number>()
  for (const v of values) counts.set(v, (counts.get(v) ?? 0) + 1)
  return counts
}

function shares(values: readonly string[]): Map<string, number> {
  const counts = tally(values)
  for (const [v, n] of counts) counts.set(v, n / values.length)
  return counts
}

/** ½ Σ |p − q| over every value of either. */
function variational(p: ReadonlyMap<string, number>, q: ReadonlyMap<string, number>): number {
  let sum = 0
  for (const v of new Set([...p.keys(), ...q.keys()])) sum += Math.abs((p.get(v) ?? 0) - (q.get(v) ?? 0))
  return sum / 2
}

/**
 * The hierarchical earth mover's distance, on the label strings: at each level, every label's
 * children's surpluses are netted; what must cross the label costs its level over the height.
 */
function treeDistance(
  p: ReadonlyMap<string, number>,
  q: ReadonlyMap<string, number>,
  labels: (value: string) => readonly string[],
): number {
  const values = [...new Set([...p.keys(), ...q.keys()])]
  const paths = values.map((v) => [v, ...labels(v)])
  const height = Math.max(0, ...paths.map((path) => path.length - 1))
  let extra = new Map(values.map((v) => [v, (p.get(v) ?? 0) - (q.get(v) ?? 0)]))
  let cost = 0
  for (let level = 1; level <= height; level++) {
    const parentOf = new Map(paths.map((path) => [path[level - 1] as string, path[level] as string]))
    const positive = new Map<string, number>()
    const negative = new Map<string, number>()
    const next = new Map<string, number>()
    for (const [child, x] of extra) {
      const parent = parentOf.get(child) as string
      next.set(parent, (next.get(parent) ?? 0) + x)
      if (x > 0) positive.set(parent, (positive.get(parent) ?? 0) + x)
      else negative.set(parent, (negative.get(parent) ?? 0) - x)
    }
    for (const parent of next.keys())
      cost += (level / height) * Math.min(positive.get(parent) ?? 0, negative.get(parent) ?? 0)
    extra = next
  }
  return cost
}

/** A sensitive column's labels above each value, read from its hierarchy anew. */
function labelsOf(policy: Policy, spec: ColumnPolicy): (value: string) => readonly string[] {
  const h = spec.hierarchy
  if (h === undefined) return () => ['*']
  if (typeof h === 'string') {
    const file = hierarchyPath(policy, h)
    const text = decodeCsv(readFileSync(file), file)
    const rows = parse(text, {
      delimiter: sniffDelimiter(text),
      relax_column_count: true,
      skip_empty_lines: true,
    }) as string[][]
    const map = new Map(rows.map((row) => [row[0] as string, row.slice(1)]))
    return (value) => map.get(value) ?? ['*']
  }
  const generalizers: Record<string, () => Generalizer> = {
    age: () => ageBands({ bands: 'bands' in h ? h.bands : undefined, top: 'top' in h ? h.top : undefined }),
    date: dateLevels,
    municipality: municipalityLevels,
    area: areaLevels,
    postal: postalLevels,
    icd10: icd10Levels,
    interval: () => intervalLevels(h as { width: number }),
    suppress: () => () => ['*'],
  }
  const generalize = (generalizers[h.builtin] as () => Generalizer)()
  return (value) => {
    const labels = generalize(value)
    return 'error' in labels ? ['*'] : labels
  }
}
