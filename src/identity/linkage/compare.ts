/**
 * String and date comparators on Unicode code points — never bytes or UTF-16 units, so that 渡辺 and
 * 渡邊 are one substitution apart (a byte comparator sees three) and a surrogate pair (𠮷) is one
 * character.
 */

// Scratch buffers: the comparators run millions of times, and allocating per call dominated them.
let bufferA = new Int32Array(64)
let bufferB = new Int32Array(64)
let rows = [new Int32Array(65), new Int32Array(65), new Int32Array(65)] as const
let flagsA = new Uint8Array(64)
let flagsB = new Uint8Array(64)

/** Writes the code points of `text` into `buffer` (grown when needed); returns the buffer and the count. */
function fill(text: string, which: 'a' | 'b'): [Int32Array, number] {
  let buffer = which === 'a' ? bufferA : bufferB
  if (buffer.length < text.length) {
    buffer = new Int32Array(text.length * 2)
    if (which === 'a') bufferA = buffer
    else bufferB = buffer
  }
  let n = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const low = text.charCodeAt(i + 1)
      if (low >= 0xdc00 && low <= 0xdfff) {
        buffer[n++] = (c - 0xd800) * 0x400 + (low - 0xdc00) + 0x10000
        i++
        continue
      }
    }
    buffer[n++] = c
  }
  return [buffer, n]
}

/** Jaro–Winkler similarity in [0, 1] (prefix scale 0.1, prefix up to 4). */
export function jaroWinkler(a: string, b: string): number {
  if (a === b) return a.length === 0 ? 0 : 1
  const [s, sn] = fill(a, 'a')
  const [t, tn] = fill(b, 'b')
  if (sn === 0 || tn === 0) return 0
  if (flagsA.length < sn) flagsA = new Uint8Array(sn * 2)
  if (flagsB.length < tn) flagsB = new Uint8Array(tn * 2)
  flagsA.fill(0, 0, sn)
  flagsB.fill(0, 0, tn)
  const window = Math.max(0, Math.floor(Math.max(sn, tn) / 2) - 1)
  let matches = 0
  for (let i = 0; i < sn; i++) {
    const from = Math.max(0, i - window)
    const to = Math.min(tn - 1, i + window)
    for (let j = from; j <= to; j++) {
      if (flagsB[j] || s[i] !== t[j]) continue
      flagsA[i] = 1
      flagsB[j] = 1
      matches++
      break
    }
  }
  if (matches === 0) return 0
  let transpositions = 0
  let k = 0
  for (let i = 0; i < sn; i++) {
    if (!flagsA[i]) continue
    while (!flagsB[k]) k++
    if (s[i] !== t[k]) transpositions++
    k++
  }
  const jaro = (matches / sn + matches / tn + (matches - transpositions / 2) / matches) / 3
  let prefix = 0
  while (prefix < 4 && prefix < sn && prefix < tn && s[prefix] === t[prefix]) prefix++
  return jaro + prefix * 0.1 * (1 - jaro)
}

/**
 * Damerau–Levenshtein distance (optimal string alignment: insertions, deletions, substitutions and
 * transpositions of neighbours, each 1). With `max`, stops early and returns max + 1 when farther.
 */
export function damerauLevenshtein(a: string, b: string, max = Number.POSITIVE_INFINITY): number {
  if (a === b) return 0
  const [s, sn] = fill(a, 'a')
  const [t, tn] = fill(b, 'b')
  if (Math.abs(sn - tn) > max) return max + 1
  if (sn === 0 || tn === 0) return Math.min(sn + tn, max + 1)
  if (rows[0].length < tn + 1)
    rows = [new Int32Array(tn * 2 + 1), new Int32Array(tn * 2 + 1), new Int32Array(tn * 2 + 1)]
  let previous2 = rows[0]
  let previous = rows[1]
  let current = rows[2]
  for (let j = 0; j <= tn; j++) previous[j] = j
  for (let i = 1; i <= sn; i++) {
    current[0] = i
    let rowMin = i
    for (let j = 1; j <= tn; j++) {
      const cost = s[i - 1] === t[j - 1] ? 0 : 1
      let value = Math.min(
        (previous[j] as number) + 1,
        (current[j - 1] as number) + 1,
        (previous[j - 1] as number) + cost,
      )
      if (i > 1 && j > 1 && s[i - 1] === t[j - 2] && s[i - 2] === t[j - 1])
        value = Math.min(value, (previous2[j - 2] as number) + 1)
      current[j] = value
      if (value < rowMin) rowMin = value
    }
    if (rowMin > max) return max + 1
    const spare = previous2
    previous2 = previous
    previous = current
    current = spare
  }
  return Math.min(previous[tn] as number, max + 1)
}

/**
 * How two birth dates differ, best first: the same date; the day and month swapped; two neighbouring
 * digits transposed; one digit wrong; within a year; farther. Each is a level of the date field.
 */
export type DateAgreement = 'exact' | 'swapped' | 'transposed' | 'one-digit' | 'near' | 'different'

/** Days since 1970-01-01 of a proleptic Gregorian date (no `Date`: this runs for every pair). */
function epochDay(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year
  const era = Math.floor(y / 400)
  const yoe = y - era * 400
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1
  return era * 146097 + yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy - 719468
}

/** The digit at `at` of a `YYYY-MM-DD` string (0–9). */
const digit = (text: string, at: number) => text.charCodeAt(at) - 48
const number = (text: string, from: number, to: number) => {
  let value = 0
  for (let i = from; i < to; i++) value = value * 10 + digit(text, i)
  return value
}
// The positions of a `YYYY-MM-DD` string's eight digits, in order.
const DIGITS = [0, 1, 2, 3, 5, 6, 8, 9] as const

/** `a` and `b` are ISO dates (`YYYY-MM-DD`), as the normalizer writes them. */
export function compareDates(a: string, b: string): DateAgreement {
  if (a === b) return 'exact'
  const ya = number(a, 0, 4)
  const ma = number(a, 5, 7)
  const da = number(a, 8, 10)
  const yb = number(b, 0, 4)
  const mb = number(b, 5, 7)
  const db = number(b, 8, 10)
  if (ya === yb && ma === db && da === mb) return 'swapped'
  let differ = 0
  let first = -1
  let second = -1
  for (let k = 0; k < DIGITS.length; k++) {
    const at = DIGITS[k] as number
    if (a.charCodeAt(at) === b.charCodeAt(at)) continue
    differ++
    if (first < 0) first = k
    else second = k
  }
  if (differ === 1) return 'one-digit'
  if (differ === 2 && second === first + 1) {
    const x = DIGITS[first] as number
    const y = DIGITS[second] as number
    if (a.charCodeAt(x) === b.charCodeAt(y) && a.charCodeAt(y) === b.charCodeAt(x)) return 'transposed'
  }
  const days = Math.abs(epochDay(ya, ma, da) - epochDay(yb, mb, db))
  return days <= 366 ? 'near' : 'different'
}
