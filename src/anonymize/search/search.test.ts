import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ARX_RUNS, HAS_ADULT, loadAdult } from '../../../test/support/adult.js'
import { intervalLevels } from '../hierarchy/builtin.js'
import { generatedHierarchy, type Hierarchy } from '../hierarchy/hierarchy.js'
import { failingRecords, type PrivacyModel } from '../model/privacy.js'
import { encodeColumn } from '../table.js'
import { baseClasses, rollUp } from './classes.js'
import { createMetric, type MetricName } from './metric.js'
import { searchOptimal } from './search.js'

describe('the optimal search on Adult, beside ARX 3.9.2 (peers/README.md)', () => {
  it.runIf(HAS_ADULT)(
    'finds ARX’s global optimum in all six runs (levels, suppression, classes, loss)',
    async () => {
      const { table, columns, hierarchies } = await loadAdult()
      for (const arx of ARX_RUNS) {
        const result = await searchOptimal({
          rows: table.rows,
          hierarchies,
          qi: columns.map((c) => c.codes),
          sensitive: [],
          model: { k: arx.k, sensitive: [] },
          maxSuppressed: Math.floor(arx.suppression * table.rows),
          metric: 'loss',
        })
        const kept = Array.from(result.classes.counts).filter((_, c) => !result.failing[c])
        expect({
          levels: result.levels,
          suppressed: result.suppressed,
          classes: kept.length,
          min: Math.min(...kept),
          max: Math.max(...kept),
          loss: Number(result.value.toFixed(4)),
        }).toEqual({
          levels: arx.levels,
          suppressed: arx.suppressed,
          classes: arx.classes,
          min: arx.min,
          max: arx.max,
          loss: arx.loss,
        })
      }
    },
    60_000,
  )
})

describe('the search in worker threads', () => {
  it.runIf(HAS_ADULT)(
    'finds the same optimum as in one thread (Adult, k = 5, 2 % and 0 %)',
    async () => {
      const { table, columns, hierarchies } = await loadAdult()
      for (const suppression of [0.02, 0]) {
        const input = {
          rows: table.rows,
          hierarchies,
          qi: columns.map((c) => c.codes),
          sensitive: [],
          model: { k: 5, sensitive: [] },
          maxSuppressed: Math.floor(suppression * table.rows),
          metric: 'loss' as const,
        }
        const here = await searchOptimal({ ...input, threads: 1 })
        const there = await searchOptimal({ ...input, threads: 2 })
        expect([there.levels, there.suppressed, there.value]).toEqual([
          here.levels,
          here.suppressed,
          here.value,
        ])
        expect(Array.from(there.rowClass)).toEqual(Array.from(here.rowClass))
      }
    },
    60_000,
  )
})

/** A random table of small integers with interval hierarchies, and a model over it. */
const tables = fc
  .record({
    rows: fc.integer({ min: 1, max: 120 }),
    attributes: fc.array(
      fc.record({ values: fc.integer({ min: 1, max: 12 }), levels: fc.integer({ min: 1, max: 3 }) }),
      {
        minLength: 1,
        maxLength: 3,
      },
    ),
    k: fc.integer({ min: 1, max: 6 }),
    suppression: fc.constantFrom(0, 0.05, 0.2),
    sensitiveValues: fc.integer({ min: 1, max: 4 }),
    diversity: fc.option(
      fc.record({ l: fc.integer({ min: 1, max: 3 }), variant: fc.constantFrom('distinct', 'entropy') }),
      { nil: undefined },
    ),
    t: fc.option(fc.constantFrom(0.2, 0.5, 1), { nil: undefined }),
    metric: fc.constantFrom<MetricName>('loss', 'precision', 'discernibility'),
    seed: fc.integer(),
  })
  .map((p) => {
    let s = p.seed | 1
    const random = () => {
      s ^= s << 13
      s ^= s >>> 17
      s ^= s << 5
      return (s >>> 0) / 4294967296
    }
    const columns = p.attributes.map((a, i) =>
      encodeColumn(
        `q${i}`,
        Array.from({ length: p.rows }, () => String(Math.floor(random() * a.values))),
      ),
    )
    const hierarchies = columns.map((c, i) =>
      generatedHierarchy(c, 'interval', intervalLevels({ width: 2, levels: p.attributes[i]?.levels ?? 1 })),
    )
    const sensitive = encodeColumn(
      's',
      Array.from({ length: p.rows }, () => String(Math.floor(random() * p.sensitiveValues))),
    )
    const overall = new Float64Array(sensitive.dictionary.length)
    for (const code of sensitive.codes) overall[code] = (overall[code] as number) + 1 / p.rows
    const model: PrivacyModel = {
      k: p.k,
      sensitive:
        p.diversity || p.t !== undefined
          ? [
              {
                column: 's',
                values: sensitive.dictionary.length,
                overall,
                diversity: p.diversity,
                closeness: p.t === undefined ? undefined : { t: p.t, distance: 'equal' },
              },
            ]
          : [],
    }
    return { ...p, columns, hierarchies, sensitive, model, maxSuppressed: Math.floor(p.suppression * p.rows) }
  })

describe('the optimal search, on random tables', () => {
  it('finds the same best value as checking every node, and its result satisfies the model', async () => {
    await fc.assert(
      fc.asyncProperty(tables, async (t) => {
        const input = {
          rows: t.rows,
          hierarchies: t.hierarchies,
          qi: t.columns.map((c) => c.codes),
          sensitive: t.model.sensitive.length > 0 ? [t.sensitive.codes] : [],
          model: t.model,
          maxSuppressed: t.maxSuppressed,
          metric: t.metric,
        }
        const exhaustive = bruteForce(
          input.hierarchies,
          input.qi,
          input.sensitive,
          t.model,
          t.maxSuppressed,
          t.metric,
          t.rows,
        )
        let result: Awaited<ReturnType<typeof searchOptimal>> | undefined
        try {
          result = await searchOptimal(input)
        } catch (error) {
          // Only when no node at all satisfies the model, and loudly.
          expect((error as { code?: string }).code).toBe('anonymize.no_solution')
          expect(exhaustive).toBeUndefined()
          return
        }
        expect(exhaustive).toBeDefined()
        expect(result.value).toBeCloseTo(exhaustive?.value as number, 9)
        // The classes kept satisfy k (and the suppression stays within its limit).
        expect(result.suppressed).toBeLessThanOrEqual(t.maxSuppressed)
        for (let c = 0; c < result.classes.size; c++)
          if (!result.failing[c]) expect(result.classes.counts[c]).toBeGreaterThanOrEqual(t.model.k)
        // Every record's class holds it: the counts add up.
        const counted = new Int32Array(result.classes.size)
        for (const c of result.rowClass) counted[c] = (counted[c] as number) + 1
        expect(Array.from(counted)).toEqual(Array.from(result.classes.counts))
      }),
      { numRuns: 300 },
    )
  })
})

/** Every node of the lattice, checked from the records: the best value and its node. */
function bruteForce(
  hierarchies: readonly Hierarchy[],
  qi: readonly Int32Array[],
  sensitive: readonly Int32Array[],
  model: PrivacyModel,
  maxSuppressed: number,
  metricName: MetricName,
  rows: number,
): { value: number; levels: number[] } | undefined {
  const base = baseClasses(
    qi,
    hierarchies.map((h) => (h.labels[0] as readonly string[]).length),
    sensitive.map((codes, s) => ({ codes, values: model.sensitive[s]?.values ?? 1 })),
    rows,
  )
  const frequencies = qi.map((codes, a) => {
    const f = new Int32Array(((hierarchies[a] as Hierarchy).map[0] as Int32Array).length)
    for (const code of codes) f[code] = (f[code] as number) + 1
    return f
  })
  const metric = createMetric(metricName, {
    rows,
    hierarchies,
    frequencies,
    distinctTuples: base.size,
    k: model.k,
  })
  let best: { value: number; levels: number[] } | undefined
  const visit = (levels: number[], a: number) => {
    if (a === hierarchies.length) {
      const { classes } = rollUp(
        base,
        levels,
        hierarchies,
        model.sensitive.map((s) => s.values),
      ) as NonNullable<ReturnType<typeof rollUp>>
      const failing = new Uint8Array(classes.size)
      const suppressed = failingRecords(classes, model, failing, [])
      if (suppressed > maxSuppressed) return
      const value = metric.value(classes, failing)
      // The metric's bound never exceeds the value it bounds.
      expect(metric.bound(levels)).toBeLessThanOrEqual(value + 1e-9)
      if (!best || value < best.value - 1e-12) best = { value, levels: [...levels] }
      return
    }
    for (let l = 0; l <= (hierarchies[a] as Hierarchy).height; l++) visit([...levels, l], a + 1)
  }
  visit([], 0)
  return best
}
