import type { NormalizedIdentity } from '../normalize/index.js'
import { compareDates, damerauLevenshtein, jaroWinkler } from './compare.js'

/**
 * The fields a pair of identities is compared on, each with its levels from full agreement to
 * disagreement. A field whose value either side lacks is neutral for that pair (level -1, weight 0).
 * Names are compared in every form there is: as written (kanji or Latin, 異体字 folded), by reading
 * (kana, then its loose form), so that a different kanji with the same reading — and a reading typo
 * with the same kanji — each keep part of the evidence.
 */
export interface LinkRecord extends NormalizedIdentity {
  /** Index in the run's record array. */
  readonly index: number
  readonly institution: string
  readonly localKey: string
}

export interface Field {
  readonly name: string
  readonly levels: readonly string[]
  level(a: LinkRecord, b: LinkRecord): number
  /** The value whose frequency adjusts the weight of full agreement (common surnames weigh less). */
  readonly frequencyOf?: (record: LinkRecord) => string | undefined
}

const MISSING = -1

const NAME_LEVELS = [
  'same name and reading',
  'same reading, other kanji',
  'same name, reading differs slightly',
  'same loose reading',
  'one character apart',
  'similar',
  'surname and given name swapped',
  'different',
] as const
const SWAPPED = 6
const DIFFERENT = 7

/**
 * How near two name strings are, as bits: one edit apart (Damerau–Levenshtein ≤ 1), Jaro–Winkler ≥
 * 0.88, ≥ 0.92. Names repeat (a few thousand surnames cover most people), so each distinct pair is
 * computed once per run and remembered; the memory is bounded (cleared past a million pairs).
 */
const ONE_EDIT = 1
const SIMILAR = 2
const VERY_SIMILAR = 4
const MEMO_LIMIT = 1_000_000
let memo = new Map<string, Map<string, number>>()
let memoSize = 0

export function nameNearness(x: string, y: string): number {
  if (x === y) return ONE_EDIT | SIMILAR | VERY_SIMILAR
  let inner = memo.get(x)
  const known = inner?.get(y)
  if (known !== undefined) return known
  const jw = jaroWinkler(x, y)
  const bits =
    (damerauLevenshtein(x, y, 1) <= 1 ? ONE_EDIT : 0) |
    (jw >= 0.88 ? SIMILAR : 0) |
    (jw >= 0.92 ? VERY_SIMILAR : 0)
  if (memoSize >= MEMO_LIMIT) {
    memo = new Map()
    memoSize = 0
    inner = undefined
  }
  if (!inner) {
    inner = new Map()
    memo.set(x, inner)
  }
  inner.set(y, bits)
  memoSize++
  return bits
}

/** The same or nearly: one edit apart or Jaro–Winkler ≥ 0.92. */
function near(x: string | undefined, y: string | undefined): boolean {
  return x !== undefined && y !== undefined && (nameNearness(x, y) & (ONE_EDIT | VERY_SIMILAR)) !== 0
}

/** The two names written the other way round (姓 in the 名 field and back), each the same or nearly. */
function swapped(a: LinkRecord, b: LinkRecord): boolean {
  return (
    (near(a.surname, b.given) && near(a.given, b.surname)) ||
    (near(a.surnameKana, b.givenKana) && near(a.givenKana, b.surnameKana))
  )
}

/**
 * One name compared in both its forms at once — as written (kanji or Latin, 異体字 folded) and as read
 * (kana, and its loose form) — since the two are not independent evidence: two people called 佐藤
 * are both サトウ. A missing reading counts as agreeing with the written form's verdict.
 */
function nameLevel(
  wa: string | undefined,
  wb: string | undefined,
  ka: string | undefined,
  kb: string | undefined,
  la: string | undefined,
  lb: string | undefined,
): number {
  const bothWritten = wa !== undefined && wb !== undefined
  const bothRead = ka !== undefined && kb !== undefined
  if (!bothWritten && !bothRead) return MISSING
  const writtenSame = bothWritten && wa === wb
  const readingSame = bothRead && ka === kb
  if (writtenSame && (readingSame || !bothRead)) return 0
  if (readingSame) return 1
  const looseSame = bothRead && la !== undefined && la === lb
  const written = bothWritten ? nameNearness(wa, wb) : 0
  const reading = bothRead ? nameNearness(ka, kb) : 0
  if (writtenSame) return looseSame || (reading & ONE_EDIT) !== 0 ? 2 : 5
  if (looseSame) return 3
  if (((written | reading) & ONE_EDIT) !== 0) return 4
  if (((written | reading) & SIMILAR) !== 0) return 5
  return DIFFERENT
}

/** A name's level, with the swap of surname and given name recognised on both fields. */
const withSwap = (level: number, a: LinkRecord, b: LinkRecord) =>
  level === DIFFERENT && swapped(a, b) ? SWAPPED : level

const similarLines = (a: LinkRecord, b: LinkRecord) =>
  jaroWinkler(a.addressLine as string, b.addressLine as string) >= 0.9

const DATE_LEVELS = ['exact', 'swapped', 'transposed', 'one-digit', 'near', 'different'] as const

export const FIELDS: readonly Field[] = [
  {
    name: 'surname',
    levels: NAME_LEVELS,
    level: (a, b) =>
      withSwap(
        nameLevel(a.surname, b.surname, a.surnameKana, b.surnameKana, a.surnameKanaLoose, b.surnameKanaLoose),
        a,
        b,
      ),
    frequencyOf: (r) => r.surname ?? r.surnameKana,
  },
  {
    name: 'given',
    levels: NAME_LEVELS,
    level: (a, b) =>
      withSwap(
        nameLevel(a.given, b.given, a.givenKana, b.givenKana, a.givenKanaLoose, b.givenKanaLoose),
        a,
        b,
      ),
    frequencyOf: (r) => r.given ?? r.givenKana,
  },
  {
    name: 'birthDate',
    levels: [
      'same',
      'day and month swapped',
      'two digits transposed',
      'one digit wrong',
      'within a year',
      'different',
    ],
    level: (a, b) =>
      a.birthDate === undefined || b.birthDate === undefined
        ? MISSING
        : DATE_LEVELS.indexOf(compareDates(a.birthDate, b.birthDate)),
  },
  {
    name: 'sex',
    levels: ['same', 'different'],
    level: (a, b) => (a.sex === undefined || b.sex === undefined ? MISSING : a.sex === b.sex ? 0 : 1),
  },
  {
    name: 'address',
    levels: [
      'same address',
      'same postal code, similar address',
      'same postal code',
      'same municipality',
      'same prefecture',
      'similar address',
      'different',
    ],
    level: (a, b) => {
      const lines = a.addressLine !== undefined && b.addressLine !== undefined
      if (lines && a.addressLine === b.addressLine) return 0
      // Similarity is computed only where it decides the level (it is the address's costliest test).
      if (a.postalCode !== undefined && a.postalCode === b.postalCode)
        return lines && similarLines(a, b) ? 1 : 2
      if (a.municipality !== undefined && a.municipality === b.municipality && a.prefecture === b.prefecture)
        return 3
      if (a.prefecture !== undefined && a.prefecture === b.prefecture) return 4
      if (lines && similarLines(a, b)) return 5
      const known =
        lines ||
        (a.postalCode !== undefined && b.postalCode !== undefined) ||
        (a.prefecture !== undefined && b.prefecture !== undefined)
      return known ? 6 : MISSING
    },
  },
  {
    name: 'phone',
    levels: ['a mobile number shared', 'a number shared', 'different'],
    level: (a, b) => {
      if (a.phones.length === 0 || b.phones.length === 0) return MISSING
      if (a.mobiles.some((p) => b.mobiles.includes(p))) return 0
      return a.phones.some((p) => b.phones.includes(p)) ? 1 : 2
    },
  },
  {
    name: 'insurance',
    levels: ['same insurer, 記号 and 番号', 'same insurer', 'different'],
    level: (a, b) => {
      if (a.insurerNumber === undefined || b.insurerNumber === undefined) return MISSING
      if (a.insurerNumber !== b.insurerNumber) return 2
      return a.insuredSymbol !== undefined &&
        a.insuredSymbol === b.insuredSymbol &&
        a.insuredNumber === b.insuredNumber
        ? 0
        : 1
    },
  },
]
