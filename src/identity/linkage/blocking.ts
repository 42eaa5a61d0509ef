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
/** The first three characters (kana or letters) of a name's sound: typos later in it do not matter. */
const start = (sound: string | undefined) =>
  sound === undefined ? undefined : [...sound].slice(0, 3).join('')
const one = (...parts: Array<string | undefined>): string[] =>
  parts.every((p) => p !== undefined && p !== '') ? [parts.join('\u0000')] : []

export const PASSES: readonly BlockingPass[] = [
  {
    // With the sex: a birth date alone groups ~27 records a date in a million, twice as many pairs.
    name: 'birth date + sex',
    // A record without a sex joins both blocks of its date.
    keys: (r) => (r.sex ? one(r.birthDate, r.sex) : [...one(r.birthDate, 'M'), ...one(r.birthDate, 'F')]),
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
      return s !== undefined && g !== undefined ? one(...[s, g].sort()) : []
    },
    uses: ['surname', 'given'],
  },
  {
    name: 'first sounds of both names + birth year',
    keys: (r) => one(start(surnameSound(r)), start(givenSound(r)), year(r)),
    uses: ['birthDate'],
  },
  {
    name: 'given reading + birth year and month',
    keys: (r) => one(givenSound(r), r.birthDate?.slice(0, 7)),
    uses: ['given', 'birthDate'],
  },
  {
    name: 'insurer + 記号・番号',
    keys: (r) => one(r.insurerNumber, r.insuredSymbol, r.insuredNumber),
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

/** Sorted, without repeats, in place; returns the unique prefix. */
function sortUnique(values: Float64Array): Float64Array {
  values.sort()
  let w = 0
  for (let r = 0; r < values.length; r++)
    if (r === 0 || values[r] !== values[w - 1]) values[w++] = values[r] as number
  return values.subarray(0, w)
}

/** The union of two sorted unique arrays, and how many of `next` were not in `union`. */
function mergeUnion(union: Float64Array, next: Float64Array): { union: Float64Array; added: number } {
  const out = new Float64Array(union.length + next.length)
  let i = 0
  let j = 0
  let w = 0
  let added = 0
  while (i < union.length || j < next.length) {
    const a = i < union.length ? (union[i] as number) : Number.POSITIVE_INFINITY
    const b = j < next.length ? (next[j] as number) : Number.POSITIVE_INFINITY
    if (a < b) {
      out[w++] = a
      i++
    } else if (b < a) {
      out[w++] = b
      j++
      added++
    } else {
      out[w++] = a
      i++
      j++
    }
  }
  return { union: out.subarray(0, w), added }
}

/**
 * The candidate pairs of the passes, each once, as `i * n + j` (i < j), sorted, in a Float64Array
 * (no Set: tens of millions of pairs fit in typed arrays). Also a random sample of each pass's own
 * pairs (up to `sample`, new or not), for training.
 */
export function candidatePairs(
  records: readonly LinkRecord[],
  passes: readonly BlockingPass[] = PASSES,
  options: { maxBlock?: number; sample?: number; random?: () => number } = {},
): { pairs: Float64Array; reports: PassReport[]; samples: Float64Array[] } {
  const maxBlock = options.maxBlock ?? 300
  const sampleLimit = options.sample ?? 100_000
  const random = options.random ?? Math.random
  const n = records.length
  let union: Float64Array = new Float64Array(0)
  const reports: PassReport[] = []
  const samples: Float64Array[] = []
  for (const pass of passes) {
    const blocks = new Map<string, number[]>()
    for (const record of records)
      for (const key of pass.keys(record)) {
        const block = blocks.get(key)
        if (block) {
          if (block.at(-1) !== record.index) block.push(record.index)
        } else blocks.set(key, [record.index])
      }
    let total = 0
    let skippedBlocks = 0
    let skippedRecords = 0
    for (const block of blocks.values()) {
      if (block.length < 2) continue
      if (block.length > maxBlock) {
        skippedBlocks++
        skippedRecords += block.length
      } else total += (block.length * (block.length - 1)) / 2
    }
    const keys = new Float64Array(total)
    let w = 0
    for (const block of blocks.values()) {
      if (block.length < 2 || block.length > maxBlock) continue
      for (let x = 0; x < block.length; x++)
        for (let y = x + 1; y < block.length; y++) {
          const a = block[x] as number
          const b = block[y] as number
          keys[w++] = a < b ? a * n + b : b * n + a
        }
    }
    // One key may give a pair twice (two phones in common): the pass's pairs are its unique ones.
    const own = sortUnique(keys)
    const keep = Math.min(1, sampleLimit / Math.max(own.length, 1))
    const sample: number[] = []
    for (let k = 0; k < own.length; k++) if (keep === 1 || random() < keep) sample.push(own[k] as number)
    const merged = mergeUnion(union, own)
    union = merged.union
    reports.push({
      name: pass.name,
      pairs: own.length,
      newPairs: merged.added,
      skippedBlocks,
      skippedRecords,
    })
    samples.push(Float64Array.from(sample))
  }
  return { pairs: union, reports, samples }
}
