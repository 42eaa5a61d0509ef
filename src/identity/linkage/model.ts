import type { Field, LinkRecord } from './fields.js'

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
 * that could estimate it. λ follows from the pass that blocks on one field alone (the birth date):
 * its matches over that field's m of agreement are the matches in all pairs.
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

export function comparePair(fields: readonly Field[], a: LinkRecord, b: LinkRecord): Pattern {
  const pattern = new Int8Array(fields.length)
  for (let f = 0; f < fields.length; f++) pattern[f] = (fields[f] as Field).level(a, b)
  return pattern
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
  fields: readonly Field[],
  records: readonly LinkRecord[],
  samples: number,
  random: () => number,
): Float64Array[] {
  const counts = fields.map((f) => new Float64Array(f.levels.length))
  const totals = new Float64Array(fields.length)
  if (records.length < 2) return counts.map((c) => smoothed(c, 0))
  for (let s = 0; s < samples; s++) {
    const i = Math.floor(random() * records.length)
    let j = Math.floor(random() * (records.length - 1))
    if (j >= i) j++
    const pattern = comparePair(fields, records[i] as LinkRecord, records[j] as LinkRecord)
    for (let f = 0; f < fields.length; f++) {
      const level = pattern[f] as number
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

export function countPatterns(patterns: Iterable<Pattern>): PatternCounts {
  const index = new Map<string, number>()
  const out: PatternCounts = { patterns: [], counts: [] }
  for (const pattern of patterns) {
    const key = pattern.join(',')
    const at = index.get(key)
    if (at !== undefined) out.counts[at] = (out.counts[at] as number) + 1
    else {
      index.set(key, out.patterns.length)
      out.patterns.push(pattern)
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
  readonly patterns: readonly Pattern[]
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
  fields: readonly Field[],
  u: readonly Float64Array[],
  passes: readonly PassSample[],
  recordCount: number,
  options: { maxIterations?: number; tolerance?: number } = {},
): Model {
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
      countPatterns(pass.patterns),
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
    const evidence = run.lambda * pass.patterns.length
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
  // λ from the first pass keyed on one field alone: matches there = all matches × P(field agrees | match).
  for (const { pass, lambda } of runs) {
    if (pass.uses.length !== 1) continue
    const f = fields.findIndex((x) => x.name === pass.uses[0])
    const agreement = f >= 0 ? ((m[f] as Float64Array)[0] as number) : 0
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

export function valueFrequencies(fields: readonly Field[], records: readonly LinkRecord[]): Frequencies {
  return fields.map((field) => {
    if (!field.frequencyOf) return undefined
    const counts = new Map<string, number>()
    let n = 0
    for (const record of records) {
      const value = field.frequencyOf(record)
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
  a: LinkRecord,
): number {
  const m = (model.m[f] as Float64Array)[level] as number
  let u = (model.u[f] as Float64Array)[level] as number
  if (level === 0 && field.frequencyOf) {
    const value = field.frequencyOf(a)
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
  a: LinkRecord,
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
          weight: fieldWeight(model, field, f, level, frequencies, a),
        }
  })
  return { prior, total: parts.reduce((sum, p) => sum + p.weight, prior), fields: parts }
}

/** The total weight alone (the hot path of scoring). */
export function score(
  model: Model,
  fields: readonly Field[],
  frequencies: Frequencies,
  a: LinkRecord,
  pattern: Pattern,
): number {
  let total = Math.log2(model.lambda / (1 - model.lambda))
  for (let f = 0; f < fields.length; f++) {
    const level = pattern[f] as number
    if (level >= 0) total += fieldWeight(model, fields[f] as Field, f, level, frequencies, a)
  }
  return total
}
