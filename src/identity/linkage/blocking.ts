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
  { name: 'birth date', keys: (r) => one(r.birthDate), uses: ['birthDate'] },
  {
    name: 'surname reading + birth year',
    keys: (r) => one(surnameSound(r), year(r)),
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
  { name: 'postal code + birth year', keys: (r) => one(r.postalCode, year(r)), uses: ['address'] },
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

/**
 * The candidate pairs of the passes, each once, as `i * n + j` (i < j) in a Float64Array; `accept`
 * may refuse a pair (e.g. both records from one submission already known to be one patient). Also a
 * random sample of each pass's own pairs (up to `sample` of them, new or not), for training.
 */
export function candidatePairs(
  records: readonly LinkRecord[],
  passes: readonly BlockingPass[] = PASSES,
  options: {
    maxBlock?: number
    accept?: (a: LinkRecord, b: LinkRecord) => boolean
    sample?: number
    random?: () => number
  } = {},
): { pairs: Float64Array; reports: PassReport[]; samples: Float64Array[] } {
  const maxBlock = options.maxBlock ?? 1000
  const sampleLimit = options.sample ?? 100_000
  const random = options.random ?? Math.random
  const samples: Float64Array[] = []
  const n = records.length
  const seen = new Set<number>()
  const out: number[] = []
  const reports: PassReport[] = []
  for (const pass of passes) {
    const blocks = new Map<string, number[]>()
    for (const record of records)
      for (const key of pass.keys(record)) {
        const block = blocks.get(key)
        if (block) {
          if (block.at(-1) !== record.index) block.push(record.index)
        } else blocks.set(key, [record.index])
      }
    let pairs = 0
    let newPairs = 0
    let skippedBlocks = 0
    let skippedRecords = 0
    let total = 0
    for (const block of blocks.values())
      if (block.length >= 2 && block.length <= maxBlock) total += (block.length * (block.length - 1)) / 2
    const keep = Math.min(1, sampleLimit / Math.max(total, 1))
    const sample: number[] = []
    for (const block of blocks.values()) {
      if (block.length < 2) continue
      if (block.length > maxBlock) {
        skippedBlocks++
        skippedRecords += block.length
        continue
      }
      for (let x = 0; x < block.length; x++)
        for (let y = x + 1; y < block.length; y++) {
          const a = block[x] as number
          const b = block[y] as number
          const i = Math.min(a, b)
          const j = Math.max(a, b)
          pairs++
          const key = i * n + j
          if (keep === 1 || random() < keep) sample.push(key)
          if (seen.has(key)) continue
          if (options.accept && !options.accept(records[i] as LinkRecord, records[j] as LinkRecord)) continue
          seen.add(key)
          out.push(key)
          newPairs++
        }
    }
    reports.push({ name: pass.name, pairs, newPairs, skippedBlocks, skippedRecords })
    samples.push(Float64Array.from(sample))
  }
  return { pairs: Float64Array.from(out), reports, samples }
}
