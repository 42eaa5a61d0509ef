import type { LinkRecord } from './fields.js'

/**
 * Blocking: only records that share a key in at least one pass are compared. Several passes, each on
 * different fields, so that one field's error (a birth-date typo, a new surname after marriage) does
 * not hide a true pair: it is found by another pass. Pairs are counted per pass (new and in all). A
 * block larger than `maxBlock` is skipped and reported — its key is too common to say anything.
 */
export interface BlockingPass {
  readonly name: string
  keys(record: LinkRecord): readonly string[]
  /**
   * The fields its key is made of. Training leaves them out for this pass's pairs: they agree by
   * construction, so they say nothing about m there.
   */
  readonly uses: readonly string[]
  /** The key is full agreement on the `uses` fields (the model's λ comes from the first such pass). */
  readonly exact?: boolean
}

const year = (r: LinkRecord) => r.birthDate?.slice(0, 4)
const surnameSound = (r: LinkRecord) => r.surnameKanaLoose ?? r.surnameLatin
const givenSound = (r: LinkRecord) => r.givenKanaLoose ?? r.givenLatin
/** The first three characters (kana or letters, surrogate pairs whole) of a name's sound. */
function start(sound: string | undefined): string | undefined {
  if (sound === undefined) return undefined
  let end = 0
  for (let c = 0; c < 3 && end < sound.length; c++) {
    const unit = sound.charCodeAt(end)
    end += unit >= 0xd800 && unit <= 0xdbff ? 2 : 1
  }
  return sound.slice(0, end)
}
const NONE: readonly string[] = []
const present = (part: string | undefined): part is string => part !== undefined && part !== ''
/** One key of two parts, or none when a part is missing (keys run millions of times). */
const one = (a: string | undefined, b: string | undefined): readonly string[] =>
  present(a) && present(b) ? [`${a}\u0000${b}`] : NONE
const three = (a: string | undefined, b: string | undefined, c: string | undefined): readonly string[] =>
  present(a) && present(b) && present(c) ? [`${a}\u0000${b}\u0000${c}`] : NONE

export const PASSES: readonly BlockingPass[] = [
  {
    // With the sex: a birth date alone groups ~27 records a date in a million, twice as many pairs.
    name: 'birth date + sex',
    // A record without a sex joins both blocks of its date.
    keys: (r) =>
      r.sex
        ? one(r.birthDate, r.sex)
        : r.birthDate
          ? [`${r.birthDate}\u0000M`, `${r.birthDate}\u0000F`]
          : NONE,
    uses: ['birthDate', 'sex'],
    exact: true,
  },
  {
    // Year and month: with the year alone a common surname (佐藤, 1.5 % of people) makes blocks of
    // hundreds in a million records.
    name: 'surname reading + birth year and month',
    keys: (r) => one(surnameSound(r), r.birthDate?.slice(0, 7)),
    uses: ['surname', 'birthDate'],
  },
  {
    // Either way round: a surname written in the given-name field (and back) lands in the same block.
    name: 'surname and given reading',
    keys: (r) => {
      const s = surnameSound(r)
      const g = givenSound(r)
      return s !== undefined && g !== undefined ? (s < g ? one(s, g) : one(g, s)) : NONE
    },
    uses: ['surname', 'given'],
  },
  {
    name: 'first sounds of both names + birth year',
    keys: (r) => three(start(surnameSound(r)), start(givenSound(r)), year(r)),
    uses: ['birthDate'],
  },
  {
    name: 'given reading + birth year and month',
    keys: (r) => one(givenSound(r), r.birthDate?.slice(0, 7)),
    uses: ['given', 'birthDate'],
  },
  {
    name: 'insurer + 記号・番号',
    keys: (r) => three(r.insurerNumber, r.insuredSymbol, r.insuredNumber),
    uses: ['insurance'],
  },
  { name: 'phone', keys: (r) => r.phones, uses: ['phone'] },
  {
    name: 'postal code + given reading',
    keys: (r) => one(r.postalCode, givenSound(r)),
    uses: ['address', 'given'],
  },
  {
    name: 'postal code + birth year and month',
    keys: (r) => one(r.postalCode, r.birthDate?.slice(0, 7)),
    uses: ['address', 'birthDate'],
  },
  {
    // The house: the postal code and the numbers of the address (番地, street and flat numbers).
    name: 'postal code + address numbers',
    keys: (r) => one(r.postalCode, r.addressLine?.replace(/\D+/g, '-').replace(/^-|-$/g, '') || undefined),
    uses: ['address'],
  },
]

export interface PassReport {
  readonly name: string
  /** Pairs this pass proposes. */
  readonly pairs: number
  /** Pairs no earlier pass proposed. */
  readonly newPairs: number
  /** Blocks skipped as too large, and the records in them. */
  readonly skippedBlocks: number
  readonly skippedRecords: number
}

/** A growable Float64Array (candidate pairs run to tens of millions). */
class Float64Buffer {
  array = new Float64Array(1 << 16)
  length = 0
  push(value: number) {
    if (this.length === this.array.length) {
      const grown = new Float64Array(this.array.length * 2)
      grown.set(this.array)
      this.array = grown
    }
    this.array[this.length++] = value
  }
}

/** Passes are tagged in the low bits of each pair's key: `(i·n + j)·PASS_TAG + pass`. */
const PASS_TAG = 16

/**
 * The candidate pairs of the passes, each once, as `i * n + j` (i < j), sorted, in a Float64Array
 * (no Set: tens of millions of pairs fit in typed arrays). Every pass's pairs go into one array,
 * tagged with the pass, and one sort orders them: a pair's first entry then names the first pass
 * that proposed it (its "new" pairs). Also a random sample of each pass's own pairs (up to `sample`,
 * new or not), for training.
 */
export function candidatePairs(
  records: readonly LinkRecord[],
  passes: readonly BlockingPass[] = PASSES,
  options: { maxBlock?: number; sample?: number; random?: () => number } = {},
): { pairs: Float64Array; reports: PassReport[]; samples: Float64Array[] } {
  if (passes.length > PASS_TAG) throw new Error(`At most ${PASS_TAG} blocking passes.`)
  const maxBlock = options.maxBlock ?? 300
  const sampleLimit = options.sample ?? 100_000
  const random = options.random ?? Math.random
  const n = records.length
  if (n * n * PASS_TAG > Number.MAX_SAFE_INTEGER) throw new Error(`Too many records to link at once (${n}).`)
  const tagged = new Float64Buffer()
  const skipped = passes.map(() => ({ blocks: 0, records: 0 }))
  const proposed = new Float64Array(passes.length)
  // One sweep over the records for every pass (a record is read once, not once per pass: at a million
  // records the reads, not the keys, were the cost): each key's block number per (record, key).
  const groups = passes.map(() => ({
    blockOf: new Map<string, number>(),
    sizes: [] as number[],
    entryBlock: [] as number[],
    entryRecord: [] as number[],
  }))
  for (const record of records)
    for (let p = 0; p < passes.length; p++) {
      const group = groups[p] as (typeof groups)[number]
      for (const key of (passes[p] as BlockingPass).keys(record)) {
        let block = group.blockOf.get(key)
        if (block === undefined) {
          block = group.sizes.length
          group.blockOf.set(key, block)
          group.sizes.push(0)
        }
        group.entryBlock.push(block)
        group.entryRecord.push(record.index)
        group.sizes[block] = (group.sizes[block] as number) + 1
      }
    }
  for (const group of groups) group.blockOf.clear()
  groups.forEach(({ sizes, entryBlock, entryRecord }, p) => {
    // Then a counting sort puts each block's records together.
    const start = new Int32Array(sizes.length + 1)
    for (let b = 0; b < sizes.length; b++) start[b + 1] = (start[b] as number) + (sizes[b] as number)
    const members = new Int32Array(entryRecord.length)
    const fill = start.slice(0, sizes.length)
    for (let e = 0; e < entryRecord.length; e++) {
      const block = entryBlock[e] as number
      members[fill[block] as number] = entryRecord[e] as number
      fill[block] = (fill[block] as number) + 1
    }
    for (let b = 0; b < sizes.length; b++) {
      const from = start[b] as number
      const size = (start[b + 1] as number) - from
      if (size < 2) continue
      const report = skipped[p] as { blocks: number; records: number }
      if (size > maxBlock) {
        report.blocks++
        report.records += size
        continue
      }
      for (let x = from; x < from + size; x++)
        for (let y = x + 1; y < from + size; y++) {
          const a = members[x] as number
          const c = members[y] as number
          // A record twice in a block (two keys alike) pairs with no one new.
          if (a === c) continue
          tagged.push((a < c ? a * n + c : c * n + a) * PASS_TAG + p)
          proposed[p] = (proposed[p] as number) + 1
        }
    }
  })

  const all = tagged.array.subarray(0, tagged.length)
  all.sort()
  const pairsOf = new Float64Array(passes.length)
  const newOf = new Float64Array(passes.length)
  const keep = passes.map((_, p) => Math.min(1, sampleLimit / Math.max(proposed[p] as number, 1)))
  const samples: number[][] = passes.map(() => [])
  let w = 0
  let previousPair = -1
  let previousPass = -1
  // Unique pairs are written over the front of the same array (w never passes the reading index).
  for (let r = 0; r < all.length; r++) {
    const value = all[r] as number
    const pair = Math.floor(value / PASS_TAG)
    const pass = value - pair * PASS_TAG
    if (pair !== previousPair) {
      all[w++] = pair
      newOf[pass] = (newOf[pass] as number) + 1
      previousPair = pair
      previousPass = -1
    }
    if (pass === previousPass) continue
    previousPass = pass
    pairsOf[pass] = (pairsOf[pass] as number) + 1
    if ((keep[pass] as number) === 1 || random() < (keep[pass] as number))
      (samples[pass] as number[]).push(pair)
  }
  const reports = passes.map(
    (pass, p): PassReport => ({
      name: pass.name,
      pairs: pairsOf[p] as number,
      newPairs: newOf[p] as number,
      skippedBlocks: (skipped[p] as { blocks: number }).blocks,
      skippedRecords: (skipped[p] as { records: number }).records,
    }),
  )
  return {
    pairs: all.slice(0, w),
    reports,
    samples: samples.map((s) => Float64Array.from(s)),
  }
}
