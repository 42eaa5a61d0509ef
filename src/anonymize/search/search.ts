import { TokumeiError } from '../../model/index.js'
import type { Hierarchy } from '../hierarchy/hierarchy.js'
import {
  failingRecords,
  type HierarchicalScratch,
  hierarchicalScratch,
  isMonotone,
  type PrivacyModel,
} from '../model/privacy.js'
import { type CheckContext, judge, plainContext } from './check.js'
import { type BaseClasses, baseClasses, type Classes, fuseColumns, rollUp } from './classes.js'
import { createMetric, type Metric, type MetricContext, type MetricName } from './metric.js'
import { CheckPool, PARALLEL_FROM_TUPLES, searchThreads } from './pool.js'

/**
 * Optimal full-domain generalization: over the lattice of every quasi-identifier's levels, the node
 * that satisfies the privacy model (suppressing at most `maxSuppressed` records of failing classes)
 * with the lowest metric value. Exact, not heuristic:
 *
 * 1. A greedy descent from the top node gives a first solution (the best so far).
 * 2. Nodes are then visited from the top height down. A node whose a-priori bound is not below the
 *    best cannot improve on it and is skipped; a node below a node that failed a monotone model
 *    fails too and is skipped (Flash-style predictive tagging); every other node is checked.
 *
 * A node is checked by rolling its classes up from the table's distinct tuples (`classes.ts`).
 */
export interface SearchInput {
  readonly rows: number
  readonly hierarchies: readonly Hierarchy[]
  /** Per quasi-identifier, each record's value code (the hierarchy's level 0). */
  readonly qi: readonly Int32Array[]
  /** Per sensitive attribute of the model, each record's value code. */
  readonly sensitive: readonly Int32Array[]
  readonly model: PrivacyModel
  readonly maxSuppressed: number
  readonly metric: MetricName
  /** Lattices larger than this are refused (default 2²⁴ nodes). */
  readonly maxNodes?: number
  /** Memory for the kept tier classes (default 256 MiB). */
  readonly tierBytes?: number
  /**
   * Worker threads to check nodes side by side (default: one per core when the table has at least
   * 150 000 distinct tuples, else none).
   */
  readonly threads?: number
  /** Told how many nodes have been checked, at most once a second. */
  readonly onProgress?: (checked: number, latticeSize: number) => void
}

export interface SearchResult {
  readonly levels: readonly number[]
  readonly classes: Classes
  /** Per class: 1 when its records are suppressed. */
  readonly failing: Uint8Array
  readonly suppressed: number
  readonly value: number
  /** Per attribute, for the metrics that have it. */
  readonly valueByAttribute?: readonly number[]
  /** Each record's class at the chosen levels. */
  readonly rowClass: Int32Array
  readonly latticeSize: number
  readonly checked: number
  readonly monotone: boolean
  readonly distinctTuples: number
}

const UNKNOWN = 0
const FAILED = 1
const PASSED = 2
/** Sent to a worker, not answered yet. */
const CHECKING = 3

export async function searchOptimal(input: SearchInput): Promise<SearchResult> {
  const { hierarchies, model, maxSuppressed, rows } = input
  const d = hierarchies.length
  const radix = hierarchies.map((h) => h.height + 1)
  const latticeSize = radix.reduce((p, r) => p * r, 1)
  const maxNodes = input.maxNodes ?? 1 << 24
  if (latticeSize > maxNodes)
    throw new TokumeiError(
      `The generalization lattice has ${latticeSize} nodes (more than ${maxNodes}): use fewer quasi-identifiers or hierarchies with fewer levels.`,
      { code: 'anonymize.lattice_too_large', kind: 'invalid', details: { nodes: latticeSize } },
    )
  const sensitiveValues = model.sensitive.map((s) => s.values)
  const base: BaseClasses = baseClasses(
    input.qi,
    hierarchies.map((h) => (h.labels[0] as readonly string[]).length),
    input.sensitive.map((codes, s) => ({ codes, values: sensitiveValues[s] as number })),
    rows,
  )
  // The distinct tuples' small attributes fused into few 16-bit columns: a check from them reads a
  // few narrow columns instead of one per quasi-identifier (each node then builds a table per fused
  // column, so their combined codes stay well under the tuples' count).
  const fused = fuseColumns(
    base.columns,
    hierarchies.map((h) => (h.labels[0] as readonly string[]).length),
    base.size,
    Math.min(65_536, Math.max(256, Math.floor(base.size / 4))),
  )
  const frequencies = input.qi.map((codes, a) => {
    const counts = new Int32Array(((hierarchies[a] as Hierarchy).map[0] as Int32Array).length)
    for (let r = 0; r < rows; r++) counts[codes[r] as number] = (counts[codes[r] as number] as number) + 1
    return counts
  })
  const metricContext: MetricContext = {
    rows,
    hierarchies,
    frequencies,
    distinctTuples: base.size,
    k: model.k,
  }
  const metric: Metric = createMetric(input.metric, metricContext)
  const monotone = isMonotone(model, maxSuppressed)
  const scratch: ReadonlyArray<HierarchicalScratch | undefined> = model.sensitive.map((s) =>
    s.closeness?.distance === 'hierarchical' && s.hierarchy ? hierarchicalScratch(s.hierarchy) : undefined,
  )

  const levelsOf = (node: number): number[] => {
    const levels = new Array<number>(d)
    for (let a = d - 1; a >= 0; a--) {
      levels[a] = node % (radix[a] as number)
      node = Math.floor(node / (radix[a] as number))
    }
    return levels
  }
  const place = radix.map((_, a) => radix.slice(a + 1).reduce((p, r) => p * r, 1))
  const nodeOf = (levels: readonly number[]) =>
    levels.reduce((node, level, a) => node + level * (place[a] as number), 0)

  const state = new Uint8Array(latticeSize)
  let checked = 0
  let best: { node: number; value: number } | undefined

  // Sources: a node's classes are rolled up from the smallest kept classes of a node below it. Kept
  // are tiers, min(levels, t) for t = 1, 2 … below the node checked, shared by every node above them
  // — each made only where its labels combine into at most a quarter of its source's classes, so
  // that it surely saves work — least recently used first out within a memory budget.
  const kept = new Map<number, Classes>()
  let keptBytes = 0
  const budget = input.tierBytes ?? 256 * 1024 * 1024
  const bytesOf = (c: Classes) =>
    c.size * (d + 1) * 4 + c.sensitive.reduce((sum, h) => sum + h.values.length * 8 + c.size * 4, 0)
  const keep = (node: number, classes: Classes) => {
    kept.set(node, classes)
    keptBytes += bytesOf(classes)
    for (const [oldest, old] of kept) {
      if (keptBytes <= budget) break
      kept.delete(oldest)
      keptBytes -= bytesOf(old)
    }
  }
  const below = (x: readonly number[], y: readonly number[]) => {
    for (let a = 0; a < d; a++) if ((x[a] as number) > (y[a] as number)) return false
    return true
  }
  const sourceFor = (levels: readonly number[]): Classes => {
    let source: Classes = base
    for (const classes of kept.values())
      if (classes.size < source.size && below(classes.levels, levels)) source = classes
    return source
  }
  const combinations = (levels: readonly number[]) =>
    levels.reduce((p, l, a) => p * ((hierarchies[a] as Hierarchy).labels[l] as readonly string[]).length, 1)
  // A class needs at least k records (ℓ for distinct ℓ-diversity) unless suppressed, and suppressed
  // classes hold at least one record each: a node with more classes than this fails.
  const minimum = Math.max(
    1,
    model.k,
    ...model.sensitive.map((s) => (s.diversity?.variant === 'distinct' ? Math.ceil(s.diversity.l) : 1)),
  )
  const maxClasses = Math.floor(rows / minimum) + maxSuppressed
  const classesAt = (levels: readonly number[]): Classes | undefined => {
    const highest = levels.reduce((m, l) => Math.max(m, l), 0)
    for (let t = 1; t < highest; t++) {
      const tier = levels.map((l) => Math.min(l, t))
      const node = nodeOf(tier)
      const known = kept.get(node)
      if (known) {
        kept.delete(node)
        kept.set(node, known)
        continue
      }
      const source = sourceFor(tier)
      if (combinations(tier) * 4 > source.size) continue
      const rolled = rollUp(
        source,
        tier,
        hierarchies,
        sensitiveValues,
        undefined,
        source === base ? fused : undefined,
      )
      keep(node, (rolled as { classes: Classes }).classes)
    }
    const source = sourceFor(levels)
    return rollUp(
      source,
      levels,
      hierarchies,
      sensitiveValues,
      maxClasses,
      source === base ? fused : undefined,
    )?.classes
  }

  const context: CheckContext = {
    base,
    fused,
    hierarchies,
    model,
    metric,
    sensitiveValues,
    maxSuppressed,
    maxClasses,
    scratch,
  }
  const threads = input.threads ?? (base.size >= PARALLEL_FROM_TUPLES ? searchThreads() : 1)
  const pool =
    threads > 1 ? new CheckPool(plainContext(context, input.metric, metricContext), threads) : undefined

  /** Checks one node (in a worker, or here with the tiers); returns its value when it passes. */
  let reported = performance.now()
  const check = async (node: number): Promise<number | undefined> => {
    checked++
    if (input.onProgress && performance.now() - reported > 1000) {
      reported = performance.now()
      input.onProgress(checked, latticeSize)
    }
    const levels = levelsOf(node)
    const outcome = pool ? await pool.check(levels) : judge(context, classesAt(levels))
    if (!outcome.passed) {
      markFailed(node)
      return undefined
    }
    state[node] = PASSED
    if (!best || outcome.value < best.value || (outcome.value === best.value && node < best.node))
      best = { node, value: outcome.value }
    return outcome.value
  }

  /** A failed node and, for a monotone model, every node below it. */
  const markFailed = (node: number) => {
    state[node] = FAILED
    if (!monotone) return
    const stack = [node]
    while (stack.length > 0) {
      const current = stack.pop() as number
      const levels = levelsOf(current)
      for (let a = 0; a < d; a++) {
        if ((levels[a] as number) === 0) continue
        const below = current - (place[a] as number)
        if (state[below] === FAILED) continue
        state[below] = FAILED
        stack.push(below)
      }
    }
  }

  // A-priori bounds of every node, and the nodes by height.
  const bounds = new Float64Array(latticeSize)
  const heights = new Int32Array(latticeSize)
  for (let node = 0; node < latticeSize; node++) {
    const levels = levelsOf(node)
    bounds[node] = metric.bound(levels)
    heights[node] = levels.reduce((s, l) => s + l, 0)
  }
  const top = radix.map((r) => r - 1)
  const maxHeight = top.reduce((s, l) => s + l, 0)
  const byHeight = Array.from({ length: maxHeight + 1 }, () => [] as number[])
  for (let node = 0; node < latticeSize; node++) (byHeight[heights[node] as number] as number[]).push(node)

  /** Greedy descent: to the best predecessor that passes and could beat the best, until none does. */
  const descend = async (start: number) => {
    let current = start
    for (;;) {
      const levels = levelsOf(current)
      const below: number[] = []
      for (let a = 0; a < d; a++) {
        if ((levels[a] as number) === 0) continue
        const node = current - (place[a] as number)
        if (state[node] !== UNKNOWN) continue
        if (best && (bounds[node] as number) >= best.value) continue
        state[node] = CHECKING
        below.push(node)
      }
      const values = await Promise.all(below.map(check))
      let next: { node: number; value: number } | undefined
      values.forEach((value, i) => {
        if (value !== undefined && (!next || value < next.value)) next = { node: below[i] as number, value }
      })
      if (!next) return
      current = (next as { node: number }).node
    }
  }

  try {
    // 1. From the top node down, greedily: a first solution, the best so far.
    const topNode = nodeOf(top)
    if ((await check(topNode)) === undefined)
      throw new TokumeiError(
        'No generalization satisfies the privacy model, not even the most general: lower k, ℓ or the closeness demanded, or allow more suppression.',
        { code: 'anonymize.no_solution', kind: 'invalid' },
      )
    await descend(topNode)

    // 2. Every node from the top height down that could still beat the best; from each that passes,
    // a greedy descent again, so that the best falls fast and prunes the rest. With workers, as many
    // nodes are in hand at once as there are threads.
    const inHand = new Set<Promise<void>>()
    for (let height = maxHeight; height >= 0; height--)
      for (const node of byHeight[height] as number[]) {
        if (state[node] !== UNKNOWN) continue
        if (best && (bounds[node] as number) >= (best as { value: number }).value) continue
        state[node] = CHECKING
        const work: Promise<void> = check(node).then(async (value) => {
          if (value !== undefined) await descend(node)
        })
        inHand.add(work)
        void work.finally(() => inHand.delete(work))
        if (inHand.size >= threads) await Promise.race(inHand)
      }
    await Promise.all(inHand)
  } finally {
    await pool?.close()
  }

  const found = best as NonNullable<typeof best>
  // The chosen node once more from the distinct tuples, for each record's class.
  const levels = levelsOf(found.node)
  const { classes, into } = rollUp(
    base,
    levels,
    hierarchies,
    sensitiveValues,
    undefined,
    fused,
  ) as NonNullable<ReturnType<typeof rollUp>>
  const failing = new Uint8Array(classes.size)
  const suppressed = failingRecords(classes, model, failing, scratch)
  const rowClass = new Int32Array(rows)
  for (let r = 0; r < rows; r++) rowClass[r] = into[base.rowClass[r] as number] as number
  return {
    levels,
    classes,
    failing,
    suppressed,
    value: found.value,
    valueByAttribute: metric.perAttribute?.(classes, failing),
    rowClass,
    latticeSize,
    checked,
    monotone,
    distinctTuples: base.size,
  }
}
