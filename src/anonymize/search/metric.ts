import type { Hierarchy } from '../hierarchy/hierarchy.js'
import type { Classes } from './classes.js'

/**
 * Utility metrics: how much a node's generalization and suppression cost. Lower is better. Each has
 * an a-priori lower bound from the levels alone, monotone up the lattice, that the search prunes by:
 *
 * - `loss`: ARX's Loss (gs-factor 0.5; Iyengar's loss metric) — per attribute, the share of the
 *   domain that each record's label covers, a suppressed record costing 1; normalized to 0–1 per
 *   attribute and aggregated by the geometric mean (of 1 + loss, minus 1), as ARX does, so figures
 *   compare with ARX's.
 * - `precision`: Sweeney's precision — a cell costs its level over the hierarchy's height, a
 *   suppressed one 1; the mean over all cells.
 * - `discernibility`: Bayardo and Agrawal's — a record costs the size of its class, a suppressed one
 *   the table's size.
 */
export type MetricName = 'loss' | 'precision' | 'discernibility'
export const METRICS: readonly MetricName[] = ['loss', 'precision', 'discernibility']

export interface Metric {
  readonly name: MetricName
  /** A lower bound of `value` at these levels and at every node above. */
  bound(levels: readonly number[]): number
  value(classes: Classes, failing: Uint8Array): number
  /** Per attribute (loss and precision), for reports. */
  perAttribute?(classes: Classes, failing: Uint8Array): number[]
}

/** Context every metric needs: the table's size, the attributes' hierarchies and value counts. */
export interface MetricContext {
  readonly rows: number
  readonly hierarchies: readonly Hierarchy[]
  /** Per quasi-identifier, how many records hold each value (by the column's code). */
  readonly frequencies: readonly Int32Array[]
  /** Distinct level-0 tuples (the base classes), for the discernibility bound. */
  readonly distinctTuples: number
  readonly k: number
}

export function createMetric(name: MetricName, context: MetricContext): Metric {
  if (name === 'loss') return lossMetric(context)
  if (name === 'precision') return precisionMetric(context)
  return discernibilityMetric(context)
}

const geometric = (values: readonly number[]) => {
  if (values.length === 0) return 0
  let product = 1
  for (const v of values) product *= (v + 1) ** (1 / values.length)
  return product - 1
}

function lossMetric({ rows, hierarchies, frequencies }: MetricContext): Metric {
  const d = hierarchies.length
  // Σ over records of their label's share, per attribute and level (no suppression).
  const shareSums = hierarchies.map((h, a) =>
    Array.from({ length: h.height + 1 }, (_, level) => {
      const map = h.map[level] as Int32Array
      const share = h.share[level] as Float64Array
      const frequency = frequencies[a] as Int32Array
      let sum = 0
      for (let code = 0; code < frequency.length; code++)
        sum += (frequency[code] as number) * (share[map[code] as number] as number)
      return sum
    }),
  )
  const normalize = (sum: number, a: number) => {
    const min = rows / (hierarchies[a] as Hierarchy).domainSize
    const range = rows - min
    return range <= 0 ? 0 : Math.max(0, (sum - min) / range)
  }
  const perAttribute = (classes: Classes, failing: Uint8Array) => {
    const sums = new Float64Array(d)
    for (let c = 0; c < classes.size; c++) {
      const count = classes.counts[c] as number
      if (failing[c]) {
        for (let a = 0; a < d; a++) sums[a] = (sums[a] as number) + count
        continue
      }
      for (let a = 0; a < d; a++) {
        const h = hierarchies[a] as Hierarchy
        const share = h.share[classes.levels[a] as number] as Float64Array
        sums[a] =
          (sums[a] as number) + count * (share[(classes.columns[a] as Int32Array)[c] as number] as number)
      }
    }
    return Array.from(sums, (sum, a) => normalize(sum, a))
  }
  return {
    name: 'loss',
    bound: (levels) =>
      geometric(levels.map((level, a) => normalize((shareSums[a] as number[])[level] as number, a))),
    value: (classes, failing) => geometric(perAttribute(classes, failing)),
    perAttribute,
  }
}

function precisionMetric({ rows, hierarchies }: MetricContext): Metric {
  const d = hierarchies.length
  const cellCost = (level: number, a: number) => {
    const height = (hierarchies[a] as Hierarchy).height
    return height === 0 ? 0 : level / height
  }
  const perAttribute = (classes: Classes, failing: Uint8Array) => {
    let suppressed = 0
    for (let c = 0; c < classes.size; c++) if (failing[c]) suppressed += classes.counts[c] as number
    return classes.levels.map(
      (level, a) => (cellCost(level, a) * (rows - suppressed) + suppressed) / Math.max(rows, 1),
    )
  }
  return {
    name: 'precision',
    bound: (levels) => (d === 0 ? 0 : levels.reduce((sum, level, a) => sum + cellCost(level, a), 0) / d),
    value: (classes, failing) => {
      const parts = perAttribute(classes, failing)
      return d === 0 ? 0 : parts.reduce((sum, x) => sum + x, 0) / d
    },
    perAttribute,
  }
}

function discernibilityMetric({ rows, hierarchies, distinctTuples, k }: MetricContext): Metric {
  return {
    name: 'discernibility',
    // Each record costs at least k (its class, or the table if suppressed), and n records in at most
    // `classes` classes cost at least n²/classes (Cauchy–Schwarz).
    bound: (levels) => {
      let classes = distinctTuples
      let product = 1
      levels.forEach((level, a) => {
        product *= ((hierarchies[a] as Hierarchy).labels[level] as readonly string[]).length
      })
      classes = Math.min(classes, product)
      return Math.max(rows * Math.max(1, Math.min(k, rows)), (rows * rows) / Math.max(classes, 1))
    },
    value: (classes, failing) => {
      let sum = 0
      for (let c = 0; c < classes.size; c++) {
        const count = classes.counts[c] as number
        sum += failing[c] ? count * rows : count * count
      }
      return sum
    },
  }
}
