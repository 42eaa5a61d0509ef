import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { exists, SHARED_DATA } from '../../../test/support/files.js'
import { FEBRL_DIR, febrl4Inputs, syntheticLinkInputs } from '../../../test/support/linkage.js'
import { normalizeIdentity, VariantTable } from '../normalize/index.js'
import { candidatePairs, PASSES } from './blocking.js'
import { compareDates, damerauLevenshtein, jaroWinkler } from './compare.js'
import { evaluateClusters } from './evaluate.js'
import { FIELDS, linkRecord, nameNearness } from './fields.js'
import { type LinkInput, linkRecords } from './link.js'
import { PatternCodec } from './model.js'
import { comparePairsHere, comparePairsInWorkers } from './parallel.js'
import { recordTable } from './table.js'

const HAS_SHARED_DATA = SHARED_DATA !== undefined && exists(SHARED_DATA)
const variants = () =>
  VariantTable.load(SHARED_DATA ? join(SHARED_DATA, 'itaiji', 'itaiji_list.yml') : undefined)

describe('comparators', () => {
  it('count code points: 渡辺 and 渡邊 are one substitution apart, 𠮷 is one character', () => {
    expect(damerauLevenshtein('渡辺', '渡邊')).toBe(1)
    expect(damerauLevenshtein('𠮷田', '吉田')).toBe(1)
    expect(damerauLevenshtein('タカハシ', 'タカシハ')).toBe(1)
    expect(damerauLevenshtein('abc', 'xyz', 1)).toBe(2)
    expect(jaroWinkler('MARTHA', 'MARHTA')).toBeCloseTo(0.961, 3)
    expect(jaroWinkler('DIXON', 'DICKSONX')).toBeCloseTo(0.813, 3)
    expect(jaroWinkler('𠮷野', '𠮷野')).toBe(1)
  })

  it('Damerau–Levenshtein is a distance: zero only for equal strings, symmetric, within the length bound', () => {
    const word = fc.string({ unit: fc.constantFrom(...'アイウカキ渡辺邊𠮷ab'), maxLength: 8 })
    fc.assert(
      fc.property(word, word, (a, b) => {
        const d = damerauLevenshtein(a, b)
        expect(d === 0).toBe(a === b)
        expect(damerauLevenshtein(b, a)).toBe(d)
        expect(d).toBeLessThanOrEqual(Math.max([...a].length, [...b].length))
        const j = jaroWinkler(a, b)
        expect(j).toBeGreaterThanOrEqual(0)
        expect(j).toBeLessThanOrEqual(1)
        expect(jaroWinkler(b, a)).toBeCloseTo(j, 12)
      }),
    )
  })

  it('agrees with the textbook recurrence on any strings, surrogate pairs included', () => {
    const reference = (a: string, b: string) => {
      const s = [...a]
      const t = [...b]
      const d = Array.from({ length: s.length + 1 }, (_, i) =>
        Array.from({ length: t.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
      )
      for (let i = 1; i <= s.length; i++)
        for (let j = 1; j <= t.length; j++) {
          const row = d[i] as number[]
          const up = d[i - 1] as number[]
          row[j] = Math.min(
            (up[j] as number) + 1,
            (row[j - 1] as number) + 1,
            (up[j - 1] as number) + (s[i - 1] === t[j - 1] ? 0 : 1),
          )
          if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1])
            row[j] = Math.min(row[j] as number, ((d[i - 2] as number[])[j - 2] as number) + 1)
        }
      return (d[s.length] as number[])[t.length] as number
    }
    const word = fc.string({ unit: fc.constantFrom(...'アイウ渡辺邊𠮷𩸽ab'), maxLength: 70 })
    fc.assert(
      fc.property(word, word, (a, b) => {
        expect(damerauLevenshtein(a, b)).toBe(reference(a, b))
        const d = reference(a, b)
        expect(damerauLevenshtein(a, b, 1)).toBe(Math.min(d, 2))
      }),
    )
  })

  it('tells how two birth dates differ', () => {
    expect(compareDates('1965-04-15', '1965-04-15')).toBe('exact')
    expect(compareDates('1965-04-05', '1965-05-04')).toBe('swapped')
    expect(compareDates('1965-04-15', '1965-04-51'.replace('51', '15'))).toBe('exact')
    expect(compareDates('1965-04-12', '1965-04-21')).toBe('transposed')
    expect(compareDates('1965-04-15', '1965-04-16')).toBe('one-digit')
    expect(compareDates('1965-04-15', '1965-09-30')).toBe('near')
    expect(compareDates('1965-04-15', '1972-01-01')).toBe('different')
  })
})

describe('evaluation', () => {
  it('scores a perfect clustering 1 and counts pairs as the definitions say', () => {
    expect(evaluateClusters([1, 1, 2, 3], ['a', 'a', 'b', 'c']).pairwise.f1).toBe(1)
    const e = evaluateClusters([1, 1, 1, 2], ['a', 'a', 'b', 'b'])
    // Predicted pairs: 3 ({0,1},{0,2},{1,2}); true pairs: 2 ({0,1},{2,3}); correct: 1.
    expect(e.pairwise).toMatchObject({ predictedPairs: 3, truePairs: 2, correctPairs: 1 })
    expect(e.pairwise.precision).toBeCloseTo(1 / 3)
    expect(e.pairwise.recall).toBeCloseTo(1 / 2)
    // B-cubed precision: records 0,1 → 2/3 each, record 2 → 1/3, record 3 → 1; mean 2/3.
    expect(e.bcubed.precision).toBeCloseTo(2 / 3)
  })
})

describe('comparators, remembered and exact', () => {
  it('date levels agree with a calendar computed by Date', () => {
    const day = fc
      .integer({ min: -25_000, max: 25_000 })
      .map((d) => new Date(d * 86_400_000).toISOString().slice(0, 10))
    fc.assert(
      fc.property(day, day, (a, b) => {
        const level = compareDates(a, b)
        const days = Math.abs(Date.parse(a) - Date.parse(b)) / 86_400_000
        if (level === 'exact') expect(a).toBe(b)
        if (level === 'near') expect(days).toBeLessThanOrEqual(366)
        if (level === 'different') expect(days).toBeGreaterThan(366)
        expect(compareDates(b, a)).toBe(level)
      }),
    )
  })

  it('a remembered name nearness equals the comparators', () => {
    const word = fc.string({ unit: fc.constantFrom(...'サトウタカハシ渡辺邊'), minLength: 1, maxLength: 6 })
    fc.assert(
      fc.property(word, word, (a, b) => {
        const bits = nameNearness(a, b)
        expect(nameNearness(a, b)).toBe(bits)
        expect((bits & 1) !== 0).toBe(damerauLevenshtein(a, b, 1) <= 1)
        expect((bits & 2) !== 0).toBe(jaroWinkler(a, b) >= 0.88)
      }),
    )
  })
})

const recordsOf = (inputs: readonly LinkInput[]) => {
  const table = variants()
  return inputs.map((input, index) =>
    linkRecord(normalizeIdentity(input.identity, table), index, input.institution, input.localKey),
  )
}

describe('blocking', () => {
  it.runIf(HAS_SHARED_DATA)(
    'proposes exactly the pairs sharing a key in some pass, each once, and counts them per pass',
    () => {
      const { inputs } = syntheticLinkInputs(400, 3, 'blocking')
      const records = recordsOf(inputs)
      const n = records.length
      const { pairs, reports } = candidatePairs(records, PASSES, { maxBlock: 20 })
      // The same computed plainly: per pass, every pair of records sharing a key (blocks over 20 skipped).
      const seen = new Set<number>()
      PASSES.forEach((pass, p) => {
        const blocks = new Map<string, Set<number>>()
        for (const record of records)
          for (const key of pass.keys(record))
            blocks.set(key, (blocks.get(key) ?? new Set()).add(record.index))
        const own = new Set<number>()
        for (const block of blocks.values()) {
          if (block.size > 20) continue
          const members = [...block]
          for (const a of members) for (const b of members) if (a < b) own.add(a * n + b)
        }
        const added = [...own].filter((pair) => !seen.has(pair)).length
        for (const pair of own) seen.add(pair)
        expect(reports[p]).toMatchObject({ name: pass.name, pairs: own.size, newPairs: added })
      })
      expect(Array.from(pairs)).toEqual([...seen].sort((x, y) => x - y))
    },
  )
})

describe('linkage', () => {
  it.runIf(HAS_SHARED_DATA)('links synthetic patients of 5 hospitals with pairwise F1 ≥ 0.995', async () => {
    const { inputs, truth } = syntheticLinkInputs(4000, 5, 'linkage-test')
    const result = await linkRecords(inputs, { variants: variants() })
    const evaluation = evaluateClusters(result.clustering.clusterOf, truth)
    console.info(
      `synthetic: ${inputs.length} records, ${result.candidates} candidates, F1 ${evaluation.pairwise.f1.toFixed(4)} (P ${evaluation.pairwise.precision.toFixed(4)}, R ${evaluation.pairwise.recall.toFixed(4)}), EM ${result.model.passes.map((p) => p.iterations).join('/')} iterations`,
    )
    expect(result.model.passes.every((p) => p.converged)).toBe(true)
    expect(evaluation.pairwise.f1).toBeGreaterThanOrEqual(0.995)
    expect(evaluation.bcubed.f1).toBeGreaterThanOrEqual(0.995)
    // Every pass proposed pairs, and the passes after the first found pairs the first missed.
    expect(result.passes.every((p) => p.pairs > 0)).toBe(true)
    expect(result.passes.slice(1).some((p) => p.newPairs > 0)).toBe(true)
  })

  it.runIf(HAS_SHARED_DATA)(
    'compares in worker threads exactly as in this thread',
    async () => {
      const { inputs } = syntheticLinkInputs(1500, 3, 'linkage-workers')
      const records = recordsOf(inputs)
      const { pairs } = candidatePairs(records)
      expect(pairs.length).toBeGreaterThan(1000)
      const columns = recordTable(records)
      const here = comparePairsHere(new PatternCodec(FIELDS), columns, pairs)
      const there = await comparePairsInWorkers(columns, pairs, 2)
      expect(Array.from(there)).toEqual(Array.from(here))
      // And the packed patterns decode to the fields' own levels.
      const codec = new PatternCodec(FIELDS)
      for (let p = 0; p < pairs.length; p += 97) {
        const key = pairs[p] as number
        const i = Math.floor(key / records.length)
        expect(Array.from(codec.decode(here[p] as number))).toEqual(
          FIELDS.map((f) => f.level(columns, i, key % records.length)),
        )
      }
    },
    60_000,
  )

  it.runIf(HAS_SHARED_DATA && exists(FEBRL_DIR))(
    'links FEBRL4 (two files, 5 000 true pairs) with pairwise F1 ≥ 0.99',
    async () => {
      const { inputs, truth } = febrl4Inputs()
      const result = await linkRecords(inputs, { variants: VariantTable.builtin() })
      const evaluation = evaluateClusters(result.clustering.clusterOf, truth)
      console.info(
        `FEBRL4: ${inputs.length} records, ${result.candidates} candidates, F1 ${evaluation.pairwise.f1.toFixed(4)} (P ${evaluation.pairwise.precision.toFixed(4)}, R ${evaluation.pairwise.recall.toFixed(4)})`,
      )
      expect(evaluation.pairwise.truePairs).toBe(5000)
      expect(evaluation.pairwise.f1).toBeGreaterThanOrEqual(0.99)
    },
  )
})
