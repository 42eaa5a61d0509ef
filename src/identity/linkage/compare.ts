import { codePoints } from '../normalize/index.js'

/**
 * String and date comparators on Unicode code points — never bytes or UTF-16 units, so that 渡辺 and
 * 渡邊 are one substitution apart (a byte comparator sees three) and a surrogate pair (𠮷) is one
 * character.
 */

/** Jaro–Winkler similarity in [0, 1] (prefix scale 0.1, prefix up to 4). */
export function jaroWinkler(a: string, b: string): number {
  if (a === b) return a.length === 0 ? 0 : 1
  const s = codePoints(a)
  const t = codePoints(b)
  if (s.length === 0 || t.length === 0) return 0
  const window = Math.max(0, Math.floor(Math.max(s.length, t.length) / 2) - 1)
  const sMatched = new Uint8Array(s.length)
  const tMatched = new Uint8Array(t.length)
  let matches = 0
  for (let i = 0; i < s.length; i++) {
    const from = Math.max(0, i - window)
    const to = Math.min(t.length - 1, i + window)
    for (let j = from; j <= to; j++) {
      if (tMatched[j] || s[i] !== t[j]) continue
      sMatched[i] = 1
      tMatched[j] = 1
      matches++
      break
    }
  }
  if (matches === 0) return 0
  let transpositions = 0
  let k = 0
  for (let i = 0; i < s.length; i++) {
    if (!sMatched[i]) continue
    while (!tMatched[k]) k++
    if (s[i] !== t[k]) transpositions++
    k++
  }
  const jaro = (matches / s.length + matches / t.length + (matches - transpositions / 2) / matches) / 3
  let prefix = 0
  while (prefix < 4 && prefix < s.length && prefix < t.length && s[prefix] === t[prefix]) prefix++
  return jaro + prefix * 0.1 * (1 - jaro)
}

/**
 * Damerau–Levenshtein distance (optimal string alignment: insertions, deletions, substitutions and
 * transpositions of neighbours, each 1). With `max`, stops early and returns max + 1 when farther.
 */
export function damerauLevenshtein(a: string, b: string, max = Number.POSITIVE_INFINITY): number {
  if (a === b) return 0
  const s = codePoints(a)
  const t = codePoints(b)
  if (Math.abs(s.length - t.length) > max) return max + 1
  if (s.length === 0) return t.length
  if (t.length === 0) return s.length
  const width = t.length + 1
  let previous2 = new Array<number>(width).fill(0)
  let previous = Array.from({ length: width }, (_, j) => j)
  let current = new Array<number>(width).fill(0)
  for (let i = 1; i <= s.length; i++) {
    current[0] = i
    let rowMin = i
    for (let j = 1; j <= t.length; j++) {
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
    ;[previous2, previous, current] = [previous, current, previous2]
  }
  return previous[t.length] as number
}

/**
 * How two birth dates differ, best first: the same date; the day and month swapped; two neighbouring
 * digits transposed; one digit wrong; within a year; farther. Each is a level of the date field.
 */
export type DateAgreement = 'exact' | 'swapped' | 'transposed' | 'one-digit' | 'near' | 'different'

export function compareDates(a: string, b: string): DateAgreement {
  if (a === b) return 'exact'
  const [ya, ma, da] = a.split('-')
  const [yb, mb, db] = b.split('-')
  if (ya === yb && ma === db && da === mb) return 'swapped'
  const x = `${ya}${ma}${da}`
  const y = `${yb}${mb}${db}`
  let differ = 0
  const at: number[] = []
  for (let i = 0; i < x.length; i++)
    if (x[i] !== y[i]) {
      differ++
      at.push(i)
    }
  if (
    differ === 2 &&
    at[1] === (at[0] as number) + 1 &&
    x[at[0] as number] === y[at[1] as number] &&
    x[at[1] as number] === y[at[0] as number]
  )
    return 'transposed'
  if (differ === 1) return 'one-digit'
  const days = Math.abs(Date.parse(`${a}T00:00:00Z`) - Date.parse(`${b}T00:00:00Z`)) / 86_400_000
  return days <= 366 ? 'near' : 'different'
}
