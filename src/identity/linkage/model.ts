import type { Field } from './fields.js'
import type { RecordTable } from './table.js'

/**
 * The Fellegi–Sunter model. For each field and level, m = P(level | same person) and u = P(level |
 * different persons); a pair's match weight is log2(λ/(1−λ)) + Σ log2(m/u) over the fields both sides
 * have, λ being the share of matches among all pairs of records.
 *
 * u comes from random pairs (almost all are different persons). m comes from EM, run once per
 * blocking pass over that pass's pairs with u held at its random-pair value and the pass's own key
 * fields left out: within a block, two different persons agree on the key by construction, but on
 * the other fields they are as unlike as any two people — so the mixture EM fits is the one of same
 * and different persons (this is how Splink trains). Each field's m is the average over the passes
 * that could estimate it. λ follows from a pass whose key is exact agreement (birth date and sex):
 * its matches over the m of agreement on its fields are the matches in all pairs.
 *
 * Full agreement on a field with value frequencies (surnames, given names) has u = the value's
 * frequency, so that 佐藤 = 佐藤 says less than 勅使河原 = 勅使河原.
 */
export interface Model {
  readonly fields: readonly string[]
  readonly levels: ReadonlyArray<readonly string[]>
  readonly m: ReadonlyArray<Float64Array>
  readonly u: ReadonlyArray<Float64Array>
  /** The share of matches among all pairs of records. */
  readonly lambda: number
  /** Per pass: its share of matches, EM iterations, whether EM converged. */
  readonly passes: ReadonlyArray<{ name: string; lambda: number; iterations: number; converged: boolean }>
}

/** A pair's comparison vector: one level per field (-1: a side lacks the value). */
export type Pattern = Int8Array

export function comparePair(fields: readonly Field[], table: RecordTable, i: number, j: number): Pattern {
  const pattern = new Int8Array(fields.length)
  for (let f = 0; f < fields.length; f++) pattern[f] = (fields[f] as Field).level(table, i, j)
  return pattern
}

/**
 * A pattern packed into one integer (a mixed-radix number, one digit per field: level + 1), so that
 * tens of millions of pairs' patterns fit in a Uint32Array and a pattern's weight is computed once.
 */
export class PatternCodec {
  readonly size: number
  private readonly place: Int32Array
  private readonly radix: Int32Array

  constructor(readonly fields: readonly Field[]) {
    this.radix = Int32Array.from(fields, (f) => f.levels.length + 1)
    this.place = new Int32Array(fields.length)
    let size = 1
    for (let f = 0; f < fields.length; f++) {
      this.place[f] = size
      size *= this.radix[f] as number
    }
    if (size > 2 ** 32) throw new Error('Too many field levels to pack a pattern into 32 bits.')
    this.size = size
  }

  /** The pair's pattern, packed, without allocating. */
  compare(table: RecordTable, i: number, j: number): number {
    let code = 0
    for (let f = 0; f < this.fields.length; f++)
      code += ((this.fields[f] as Field).level(table, i, j) + 1) * (this.place[f] as number)
    return code
  }

  level(code: number, f: number): number {
    return (Math.floor(code / (this.place[f] as number)) % (this.radix[f] as number)) - 1
  }

  decode(code: number): Pattern {
    return Int8Array.from(this.fields, (_, f) => this.level(code, f))
  }
}

const FLOOR = 1e-6

const add = (array: Float64Array, at: number, value: number) => {
  array[at] = (array[at] as number) + value
}

function smoothed(counts: Float64Array, total: number): Float64Array {
  // Laplace smoothing: a level never seen still has a small probability (no infinite weight).
  const out = new Float64Array(counts.length)
  for (let l = 0; l < counts.length; l++)
    out[l] = ((counts[l] as number) + 0.5) / (total + 0.5 * counts.length)
  return out
}

/** u from random pairs: the level distribution of pairs that are, with near certainty, different persons. */
export function estimateU(
  codec: PatternCodec,
  table: RecordTable,
  samples: number,
  random: () => number,
): Float64Array[] {
  const fields = codec.fields
  const counts = fields.map((f) => new Float64Array(f.levels.length))
  const totals = new Float64Array(fields.length)
  if (table.n < 2) return counts.map((c) => smoothed(c, 0))
  for (let s = 0; s < samples; s++) {
    const i = Math.floor(random() * table.n)
    let j = Math.floor(random() * (table.n - 1))
    if (j >= i) j++
    const code = codec.compare(table, i, j)
    for (let f = 0; f < fields.length; f++) {
      const level = codec.level(code, f)
      if (level < 0) continue
      add(counts[f] as Float64Array, level, 1)
      add(totals, f, 1)
    }
  }
  return counts.map((c, f) => smoothed(c, totals[f] as number))
}

/** Distinct patterns and how many pairs have each: EM works on these, not on every pair. */
export interface PatternCounts {
  readonly patterns: Pattern[]
  readonly counts: number[]
}

export function countPatterns(codec: PatternCodec, codes: ArrayLike<number>): PatternCounts {
  const index = new Map<number, number>()
  const out: PatternCounts = { patterns: [], counts: [] }
  for (let c = 0; c < codes.length; c++) {
    const code = codes[c] as number
    const at = index.get(code)
    if (at !== undefined) out.counts[at] = (out.counts[at] as number) + 1
    else {
      index.set(code, out.patterns.length)
      out.patterns.push(codec.decode(code))
      out.counts.push(1)
    }
  }
  return out
}

/** The training data of one blocking pass: a sample of its pairs' patterns. */
export interface PassSample {
  readonly name: string
  /** Field names the pass's key is made of (left out of its EM). */
  readonly uses: readonly string[]
  /** Packed patterns (`PatternCodec`). */
  readonly codes: ArrayLike<number>
  /** Whether the pass's key is full agreement on its fields (such a pass gives λ). */
  readonly exact?: boolean
  /** All pairs the pass proposes (the sample may be smaller). */
  readonly pairs: number
}

/** m of the fields (and λ within the pass) by EM over one pass's patterns, u fixed, `skip` fields left out. */
function emPass(
  fields: readonly Field[],
  u: readonly Float64Array[],
  data: PatternCounts,
  skip: ReadonlySet<number>,
  maxIterations: number,
  tolerance: number,
): { m: Float64Array[]; lambda: number; iterations: number; converged: boolean } {
  let m: Float64Array[] = fields.map((f) => {
    const start = new Float64Array(f.levels.length)
    for (let l = 0; l < start.length; l++) start[l] = l === 0 ? 0.9 : 0.1 / (start.length - 1)
    return start
  })
  let lambda = 0.1
  let iterations = 0
  let converged = false
  const total = data.counts.reduce((sum, n) => sum + n, 0)
  while (iterations < maxIterations && total > 0) {
    iterations++
    const mCounts = fields.map((f) => new Float64Array(f.levels.length))
    const mTotals = new Float64Array(fields.length)
    let matches = 0
    for (let p = 0; p < data.patterns.length; p++) {
      const pattern = data.patterns[p] as Pattern
      const n = data.counts[p] as number
      let logRatio = Math.log(lambda / (1 - lambda))
      for (let f = 0; f < fields.length; f++) {
        const level = pattern[f] as number
        if (level < 0 || skip.has(f)) continue
        logRatio += Math.log(
          Math.max((m[f] as Float64Array)[level] as number, FLOOR) /
            ((u[f] as Float64Array)[level] as number),
        )
      }
      const posterior = 1 / (1 + Math.exp(-Math.max(-700, Math.min(700, logRatio))))
      matches += posterior * n
      for (let f = 0; f < fields.length; f++) {
        const level = pattern[f] as number
        if (level < 0 || skip.has(f)) continue
        add(mCounts[f] as Float64Array, level, posterior * n)
        add(mTotals, f, posterior * n)
      }
    }
    const next = mCounts.map((c, f) => smoothed(c, mTotals[f] as number))
    const nextLambda = Math.min(Math.max(matches / total, FLOOR), 1 - FLOOR)
    let change = Math.abs(nextLambda - lambda)
    for (let f = 0; f < fields.length; f++)
      for (let l = 0; l < (next[f] as Float64Array).length; l++)
        change = Math.max(
          change,
          Math.abs(((next[f] as Float64Array)[l] as number) - ((m[f] as Float64Array)[l] as number)),
        )
    m = next
    lambda = nextLambda
    if (change < tolerance) {
      converged = true
      break
    }
  }
  return { m, lambda, iterations, converged }
}

/** m by EM per pass (see `Model`), u from random pairs, λ over all `recordCount` records' pairs. */
export function trainModel(
  codec: PatternCodec,
  u: readonly Float64Array[],
  passes: readonly PassSample[],
  recordCount: number,
  options: { maxIterations?: number; tolerance?: number } = {},
): Model {
  const fields = codec.fields
  const sums = fields.map((f) => new Float64Array(f.levels.length))
  const weights = new Float64Array(fields.length)
  const reports: Array<{ name: string; lambda: number; iterations: number; converged: boolean }> = []
  let matchesInAll: number | undefined
  const runs: Array<{ pass: PassSample; lambda: number; m: Float64Array[] }> = []
  for (const pass of passes) {
    const skip = new Set(
      pass.uses.map((name) => fields.findIndex((f) => f.name === name)).filter((i) => i >= 0),
    )
    const run = emPass(
      fields,
      u,
      countPatterns(codec, pass.codes),
      skip,
      options.maxIterations ?? 100,
      options.tolerance ?? 1e-6,
    )
    reports.push({
      name: pass.name,
      lambda: run.lambda,
      iterations: run.iterations,
      converged: run.converged,
    })
    runs.push({ pass, lambda: run.lambda, m: run.m })
    // Each pass's estimate counts by the matches it saw.
    const evidence = run.lambda * pass.codes.length
    for (let f = 0; f < fields.length; f++) {
      if (skip.has(f) || evidence <= 0) continue
      const m = run.m[f] as Float64Array
      for (let l = 0; l < m.length; l++) add(sums[f] as Float64Array, l, (m[l] as number) * evidence)
      add(weights, f, evidence)
    }
  }
  const m = fields.map((field, f) => {
    const weight = weights[f] as number
    if (weight <= 0) {
      const prior = new Float64Array(field.levels.length)
      for (let l = 0; l < prior.length; l++) prior[l] = l === 0 ? 0.9 : 0.1 / (prior.length - 1)
      return prior
    }
    return Float64Array.from(sums[f] as Float64Array, (x) => x / weight)
  })
  // λ from the first pass whose key is full agreement on its fields: matches there = all matches ×
  // P(every one of those fields agrees | match).
  for (const { pass, lambda } of runs) {
    if (!pass.exact) continue
    let agreement = 1
    for (const name of pass.uses) {
      const f = fields.findIndex((x) => x.name === name)
      agreement *= f >= 0 ? ((m[f] as Float64Array)[0] as number) : 0
    }
    if (agreement > 0) matchesInAll = (lambda * pass.pairs) / agreement
    break
  }
  const allPairs = (recordCount * (recordCount - 1)) / 2
  const lambda = Math.min(
    Math.max((matchesInAll ?? recordCount / 2) / Math.max(allPairs, 1), FLOOR * FLOOR),
    0.5,
  )
  return {
    fields: fields.map((f) => f.name),
    levels: fields.map((f) => f.levels),
    m,
    u: u.map((x) => Float64Array.from(x)),
    lambda,
    passes: reports,
  }
}

/** Frequencies of the values of the fields that adjust full agreement, over all records. */
export type Frequencies = ReadonlyArray<ReadonlyMap<string, number> | undefined>

export function valueFrequencies(fields: readonly Field[], table: RecordTable): Frequencies {
  return fields.map((field) => {
    if (!field.frequencyOf) return undefined
    const counts = new Map<string, number>()
    let n = 0
    for (let i = 0; i < table.n; i++) {
      const value = field.frequencyOf(table, i)
      if (value === undefined) continue
      counts.set(value, (counts.get(value) ?? 0) + 1)
      n++
    }
    for (const [value, count] of counts) counts.set(value, count / n)
    return counts
  })
}

export interface FieldWeight {
  readonly field: string
  readonly level: string | null
  readonly weight: number
}

/** One field's weight at a level; full agreement on a value with a known frequency uses that frequency. */
function fieldWeight(
  model: Model,
  field: Field,
  f: number,
  level: number,
  frequencies: Frequencies,
  table: RecordTable,
  a: number,
): number {
  const m = (model.m[f] as Float64Array)[level] as number
  let u = (model.u[f] as Float64Array)[level] as number
  if (level === 0 && field.frequencyOf) {
    const value = field.frequencyOf(table, a)
    const frequency = value === undefined ? undefined : frequencies[f]?.get(value)
    // Two random records agree on this value as often as the value occurs.
    if (frequency !== undefined) u = Math.max(frequency, FLOOR)
  }
  return Math.log2(Math.max(m, FLOOR) / u)
}

/** The pair's weight, field by field (the prior is `log2(λ/(1−λ))`). */
export function explain(
  model: Model,
  fields: readonly Field[],
  frequencies: Frequencies,
  table: RecordTable,
  a: number,
  pattern: Pattern,
): { prior: number; total: number; fields: FieldWeight[] } {
  const prior = Math.log2(model.lambda / (1 - model.lambda))
  const parts = fields.map((field, f): FieldWeight => {
    const level = pattern[f] as number
    return level < 0
      ? { field: field.name, level: null, weight: 0 }
      : {
          field: field.name,
          level: field.levels[level] ?? String(level),
          weight: fieldWeight(model, field, f, level, frequencies, table, a),
        }
  })
  return { prior, total: parts.reduce((sum, p) => sum + p.weight, prior), fields: parts }
}

/**
 * The total weight of packed patterns (the hot path of scoring): each distinct pattern's weight is
 * computed once, and each record's frequency adjustments once, so that a pair costs two lookups.
 * Equal to `explain(…).total`.
 */
export function scorer(
  model: Model,
  codec: PatternCodec,
  frequencies: Frequencies,
  table: RecordTable,
): (a: number, code: number) => number {
  const fields = codec.fields
  const prior = Math.log2(model.lambda / (1 - model.lambda))
  const byCode = new Map<number, number>()
  // Per field with frequencies: what full agreement on record a's value adds to the plain weight.
  const adjusted = fields.flatMap((field, f) => {
    const known = frequencies[f]
    if (!field.frequencyOf || !known) return []
    const u = (model.u[f] as Float64Array)[0] as number
    const frequencyOf = field.frequencyOf
    const shift = new Float64Array(table.n)
    for (let i = 0; i < table.n; i++) {
      const value = frequencyOf(table, i)
      const frequency = value === undefined ? undefined : known.get(value)
      if (frequency !== undefined) shift[i] = Math.log2(u / Math.max(frequency, FLOOR))
    }
    return [{ f, shift }]
  })
  return (a, code) => {
    let weight = byCode.get(code)
    if (weight === undefined) {
      weight = prior
      for (let f = 0; f < fields.length; f++) {
        const level = codec.level(code, f)
        if (level >= 0)
          weight += Math.log2(
            Math.max((model.m[f] as Float64Array)[level] as number, FLOOR) /
              ((model.u[f] as Float64Array)[level] as number),
          )
      }
      byCode.set(code, weight)
    }
    for (const { f, shift } of adjusted) if (codec.level(code, f) === 0) weight += shift[a] as number
    return weight
  }
}
