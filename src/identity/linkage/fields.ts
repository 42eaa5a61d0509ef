import type { NormalizedIdentity } from '../normalize/index.js'
import { compareDates, damerauLevenshtein, jaroWinkler } from './compare.js'
import type { RecordTable } from './table.js'

/**
 * The fields a pair of identities is compared on, each with its levels from full agreement to
 * disagreement. A field whose value either side lacks is neutral for that pair (level -1, weight 0).
 * Names are compared in every form there is: as written (kanji or Latin, 異体字 folded), by reading
 * (kana, then its loose form), so that a different kanji with the same reading — and a reading typo
 * with the same kanji — each keep part of the evidence. Fields read the run's `RecordTable`, rows i
 * and j.
 */
export interface LinkRecord extends NormalizedIdentity {
  /** Index in the run's record array. */
  readonly index: number
  readonly institution: string
  readonly localKey: string
}

/**
 * A record of a run: the normalized identity with its place added to the same object (a spread into a
 * new object copies twenty keys per record, a third of the normalize stage at a million records).
 */
export function linkRecord(
  identity: NormalizedIdentity,
  index: number,
  institution: string,
  localKey: string,
): LinkRecord {
  const record = identity as { -readonly [K in keyof LinkRecord]: LinkRecord[K] }
  record.index = index
  record.institution = institution
  record.localKey = localKey
  return record
}

export interface Field {
  readonly name: string
  readonly levels: readonly string[]
  level(t: RecordTable, i: number, j: number): number
  /** The value whose frequency adjusts the weight of full agreement (common surnames weigh less). */
  readonly frequencyOf?: (t: RecordTable, i: number) => string | undefined
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
 * 0.88, ≥ 0.92.
 */
const ONE_EDIT = 1
const SIMILAR = 2
const VERY_SIMILAR = 4

export function nameNearness(x: string, y: string): number {
  if (x === y) return ONE_EDIT | SIMILAR | VERY_SIMILAR
  const jw = jaroWinkler(x, y)
  return (
    (damerauLevenshtein(x, y, 1) <= 1 ? ONE_EDIT : 0) |
    (jw >= 0.88 ? SIMILAR : 0) |
    (jw >= 0.92 ? VERY_SIMILAR : 0)
  )
}

/**
 * Names repeat (a few thousand surnames cover most people), so each distinct pair of name ids is
 * compared once per thread and remembered in an open-addressing table of typed arrays (no garbage:
 * this runs for tens of millions of pairs). When it is three-quarters full it starts again.
 */
const MEMO_BITS = 22
const MEMO_SIZE = 1 << MEMO_BITS
let memoTable: RecordTable | undefined
let memoA = new Int32Array(0)
let memoB = new Int32Array(0)
let memoValue = new Uint8Array(0)
let memoCount = 0

function clearMemo(table: RecordTable) {
  if (memoA.length === 0) {
    memoA = new Int32Array(MEMO_SIZE)
    memoB = new Int32Array(MEMO_SIZE)
    memoValue = new Uint8Array(MEMO_SIZE)
  }
  memoA.fill(-1)
  memoCount = 0
  memoTable = table
}

function nearness(t: RecordTable, a: number, b: number): number {
  if (a === b) return ONE_EDIT | SIMILAR | VERY_SIMILAR
  if (memoTable !== t || memoCount > MEMO_SIZE * 0.75) clearMemo(t)
  let slot = (Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca6b)) >>> (32 - MEMO_BITS)
  while (memoA[slot] !== -1) {
    if (memoA[slot] === a && memoB[slot] === b) return memoValue[slot] as number
    slot = (slot + 1) & (MEMO_SIZE - 1)
  }
  const bits = nameNearness(t.names[a] as string, t.names[b] as string)
  memoA[slot] = a
  memoB[slot] = b
  memoValue[slot] = bits
  memoCount++
  return bits
}

/** The same or nearly: one edit apart or Jaro–Winkler ≥ 0.92. */
const near = (t: RecordTable, x: number, y: number) =>
  x >= 0 && y >= 0 && (nearness(t, x, y) & (ONE_EDIT | VERY_SIMILAR)) !== 0

/** The two names written the other way round (姓 in the 名 field and back), each the same or nearly. */
function swapped(t: RecordTable, i: number, j: number): boolean {
  return (
    (near(t, t.surname[i] as number, t.given[j] as number) &&
      near(t, t.given[i] as number, t.surname[j] as number)) ||
    (near(t, t.surnameKana[i] as number, t.givenKana[j] as number) &&
      near(t, t.givenKana[i] as number, t.surnameKana[j] as number))
  )
}

/**
 * One name compared in both its forms at once — as written (kanji or Latin, 異体字 folded) and as read
 * (kana, and its loose form) — since the two are not independent evidence: two people called 佐藤
 * are both サトウ. A missing reading counts as agreeing with the written form's verdict. Written and
 * read forms are name ids (-1: missing).
 */
function nameLevel(
  t: RecordTable,
  wa: number,
  wb: number,
  ka: number,
  kb: number,
  la: string | undefined,
  lb: string | undefined,
): number {
  const bothWritten = wa >= 0 && wb >= 0
  const bothRead = ka >= 0 && kb >= 0
  if (!bothWritten && !bothRead) return MISSING
  const writtenSame = bothWritten && wa === wb
  const readingSame = bothRead && ka === kb
  if (writtenSame && (readingSame || !bothRead)) return 0
  if (readingSame) return 1
  const looseSame = bothRead && la !== undefined && la === lb
  const written = bothWritten ? nearness(t, wa, wb) : 0
  const reading = bothRead ? nearness(t, ka, kb) : 0
  if (writtenSame) return looseSame || (reading & ONE_EDIT) !== 0 ? 2 : 5
  if (looseSame) return 3
  if (((written | reading) & ONE_EDIT) !== 0) return 4
  if (((written | reading) & SIMILAR) !== 0) return 5
  return DIFFERENT
}

/** A name's level, with the swap of surname and given name recognised on both fields. */
const withSwap = (level: number, t: RecordTable, i: number, j: number) =>
  level === DIFFERENT && swapped(t, i, j) ? SWAPPED : level

const similarLines = (t: RecordTable, i: number, j: number) =>
  jaroWinkler(t.addressLine[i] as string, t.addressLine[j] as string) >= 0.9

const DATE_LEVELS = ['exact', 'swapped', 'transposed', 'one-digit', 'near', 'different'] as const

/** Whether record i and record j share a phone (a mobile one, when `mobileOnly`). */
function sharePhone(t: RecordTable, i: number, j: number, mobileOnly: boolean): boolean {
  for (let p = t.phoneStart[i] as number; p < (t.phoneStart[i + 1] as number); p++) {
    if (mobileOnly && !t.mobile[p]) continue
    for (let q = t.phoneStart[j] as number; q < (t.phoneStart[j + 1] as number); q++)
      if ((!mobileOnly || t.mobile[q]) && t.phones[p] === t.phones[q]) return true
  }
  return false
}

const nameOf = (t: RecordTable, id: number) => (id >= 0 ? t.names[id] : undefined)

export const FIELDS: readonly Field[] = [
  {
    name: 'surname',
    levels: NAME_LEVELS,
    level: (t, i, j) =>
      withSwap(
        nameLevel(
          t,
          t.surname[i] as number,
          t.surname[j] as number,
          t.surnameKana[i] as number,
          t.surnameKana[j] as number,
          t.surnameLoose[i],
          t.surnameLoose[j],
        ),
        t,
        i,
        j,
      ),
    frequencyOf: (t, i) => nameOf(t, t.surname[i] as number) ?? nameOf(t, t.surnameKana[i] as number),
  },
  {
    name: 'given',
    levels: NAME_LEVELS,
    level: (t, i, j) =>
      withSwap(
        nameLevel(
          t,
          t.given[i] as number,
          t.given[j] as number,
          t.givenKana[i] as number,
          t.givenKana[j] as number,
          t.givenLoose[i],
          t.givenLoose[j],
        ),
        t,
        i,
        j,
      ),
    frequencyOf: (t, i) => nameOf(t, t.given[i] as number) ?? nameOf(t, t.givenKana[i] as number),
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
    level: (t, i, j) => {
      const a = t.birthDate[i]
      const b = t.birthDate[j]
      return a === undefined || b === undefined ? MISSING : DATE_LEVELS.indexOf(compareDates(a, b))
    },
  },
  {
    name: 'sex',
    levels: ['same', 'different'],
    level: (t, i, j) => {
      const a = t.sex[i] as number
      const b = t.sex[j] as number
      return a < 0 || b < 0 ? MISSING : a === b ? 0 : 1
    },
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
    level: (t, i, j) => {
      const lines = t.addressLine[i] !== undefined && t.addressLine[j] !== undefined
      if (lines && t.addressLine[i] === t.addressLine[j]) return 0
      const postal = t.postalCode[i]
      const prefecture = t.prefecture[i]
      const municipality = t.municipality[i]
      // Similarity is computed only where it decides the level (it is the address's costliest test).
      if (postal !== undefined && postal === t.postalCode[j]) return lines && similarLines(t, i, j) ? 1 : 2
      if (municipality !== undefined && municipality === t.municipality[j] && prefecture === t.prefecture[j])
        return 3
      if (prefecture !== undefined && prefecture === t.prefecture[j]) return 4
      if (lines && similarLines(t, i, j)) return 5
      const known =
        lines ||
        (postal !== undefined && t.postalCode[j] !== undefined) ||
        (prefecture !== undefined && t.prefecture[j] !== undefined)
      return known ? 6 : MISSING
    },
  },
  {
    name: 'phone',
    levels: ['a mobile number shared', 'a number shared', 'different'],
    level: (t, i, j) => {
      if (t.phoneStart[i] === t.phoneStart[i + 1] || t.phoneStart[j] === t.phoneStart[j + 1]) return MISSING
      if (sharePhone(t, i, j, true)) return 0
      return sharePhone(t, i, j, false) ? 1 : 2
    },
  },
  {
    name: 'insurance',
    levels: ['same insurer, 記号 and 番号', 'same insurer', 'different'],
    level: (t, i, j) => {
      const insurer = t.insurerNumber[i]
      if (insurer === undefined || t.insurerNumber[j] === undefined) return MISSING
      if (insurer !== t.insurerNumber[j]) return 2
      return t.insuredSymbol[i] !== undefined &&
        t.insuredSymbol[i] === t.insuredSymbol[j] &&
        t.insuredNumber[i] === t.insuredNumber[j]
        ? 0
        : 1
    },
  },
]
