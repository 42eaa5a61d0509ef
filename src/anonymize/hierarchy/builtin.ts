import { PREFECTURES, regionOf } from '../../model/index.js'

export { regionOf }

import type { Generalizer } from './hierarchy.js'
import { icd10Block, icd10Chapter } from './icd10.js'

/**
 * The built-in hierarchies, each a function from a value to its labels at every level. They cover the
 * attributes a medical release generalizes most: ages, dates, municipality and postal codes, ICD-10
 * diagnoses and numbers.
 */

const INTEGER = /^-?\d+$/
const NUMBER = /^-?(\d+(\.\d*)?|\.\d+)$/

/**
 * Age in whole years → bands (5, 10, 20 years by default) → `*`. With `top`, ages from `top` up are
 * one band at every level (`90+`: top-coding, so that the oldest are not singled out).
 */
export function ageBands(options: { bands?: readonly number[]; top?: number } = {}): Generalizer {
  const bands = options.bands ?? [5, 10, 20]
  const top = options.top
  return (value) => {
    const text = value.trim()
    if (!INTEGER.test(text)) return { error: 'an age must be a whole number of years' }
    const age = Number(text)
    if (age < 0 || age > 150) return { error: `an age of ${age} is out of range` }
    const labels = bands.map((width) => {
      if (top !== undefined && age >= top) return `${top}+`
      const low = Math.floor(age / width) * width
      const high = low + width - 1
      return top !== undefined && high >= top ? `${low}-${top - 1}` : `${low}-${high}`
    })
    return [...labels, '*']
  }
}

/** A date (YYYY-MM-DD, YYYYMMDD or YYYY/MM/DD) → month → year → `*`. */
export function dateLevels(): Generalizer {
  return (value) => {
    const match = /^(\d{4})[-/]?(\d{2})[-/]?(\d{2})$/.exec(value.trim())
    if (!match) return { error: 'a date must be written YYYY-MM-DD' }
    const [, year, month, day] = match as unknown as [string, string, string, string]
    if (Number(month) < 1 || Number(month) > 12 || Number(day) < 1 || Number(day) > 31)
      return { error: 'not a calendar date' }
    return [`${year}-${month}`, year, '*']
  }
}

/**
 * A municipality code (全国地方公共団体コード, 5 digits or 6 with the check digit) → prefecture code
 * (its first two digits) → region (地方) → `*`.
 */
export function municipalityLevels(): Generalizer {
  return (value) => {
    const code = value.trim()
    if (!/^\d{5,6}$/.test(code)) return { error: 'a municipality code has 5 or 6 digits' }
    const prefecture = Number(code.slice(0, 2))
    const region = regionOf(prefecture)
    if (!region) return { error: `no prefecture has the code ${code.slice(0, 2)}` }
    return [code.slice(0, 2), region, '*']
  }
}

/**
 * An area as a release holds it — the prefecture and the municipality written after it (東京都武蔵野市,
 * 北海道札幌市中央区), or the prefecture alone — → prefecture → region (地方) → `*`.
 */
export function areaLevels(): Generalizer {
  return (value) => {
    const area = value.trim()
    const index = PREFECTURES.findIndex((p) => area.startsWith(p))
    if (index < 0) return { error: 'an area starts with its prefecture (東京都…)' }
    return [PREFECTURES[index] as string, regionOf(index + 1) as string, '*']
  }
}

/** A postal code (7 digits, with or without the hyphen) → its first 3 digits → `*`. */
export function postalLevels(): Generalizer {
  return (value) => {
    const digits = value.trim().replace(/^〒/, '').replace('-', '')
    if (!/^\d{7}$/.test(digits)) return { error: 'a postal code has 7 digits' }
    return [digits.slice(0, 3), '*']
  }
}

/** An ICD-10 code (E11.9, E119, E11) → 3 characters → block (E10-E14) → chapter (IV) → `*`. */
export function icd10Levels(): Generalizer {
  return (value) => {
    const code = value.trim().toUpperCase().replace('.', '')
    if (!/^[A-Z]\d{2}[0-9A-Z]{0,4}$/.test(code)) return { error: 'not an ICD-10 code' }
    const three = code.slice(0, 3)
    const chapter = icd10Chapter(three)
    if (!chapter) return { error: `${three} is in no ICD-10 chapter` }
    return [three, icd10Block(three) ?? chapter.range, chapter.chapter, '*']
  }
}

/**
 * A number → intervals of `width`, then twice, four times … as wide (`levels` in all) → `*`.
 * `bottom` and `top` code the tails: values below `bottom` (at or above `top`) are one interval at
 * every level.
 */
export function intervalLevels(options: {
  width: number
  levels?: number
  start?: number
  bottom?: number
  top?: number
}): Generalizer {
  const levels = options.levels ?? 3
  const start = options.start ?? 0
  return (value) => {
    const text = value.trim()
    if (!NUMBER.test(text)) return { error: 'not a number' }
    const x = Number(text)
    const labels: string[] = []
    for (let l = 0; l < levels; l++) {
      if (options.bottom !== undefined && x < options.bottom) {
        labels.push(`<${options.bottom}`)
        continue
      }
      if (options.top !== undefined && x >= options.top) {
        labels.push(`>=${options.top}`)
        continue
      }
      const width = options.width * 2 ** l
      const low = start + Math.floor((x - start) / width) * width
      labels.push(`[${round(low)}, ${round(low + width)})`)
    }
    return [...labels, '*']
  }
}

/** Decimal noise from the floating-point steps removed (0.30000000000000004 → 0.3). */
const round = (x: number) => Number(x.toPrecision(12))
