import { ERAS } from '../../formats/wareki.js'
import { foldText } from './text.js'

/**
 * Birth dates as hospitals write them — ISO, 8 digits, slashes, 「1965年4月15日」, and 和暦 (「昭和40年
 * 4月15日」, 「S40.4.15」, 「H元/1/8」, the レセプト's 7-digit GYYMMDD) — to one ISO date, or undefined.
 */
const ERA_LETTERS: Readonly<Record<string, number>> = { M: 1, T: 2, S: 3, H: 4, R: 5 }

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31] as const
const leap = (year: number) => (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0

/** The ISO date, if it is one on the (proleptic Gregorian) calendar. */
function isoOf(year: number, month: number, day: number): string | undefined {
  if (year < 1 || year > 9999 || month < 1 || month > 12 || day < 1) return undefined
  if (day > (month === 2 && leap(year) ? 29 : (DAYS_IN_MONTH[month - 1] as number))) return undefined
  return `${String(year).padStart(4, '0')}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`
}

function fromEra(code: number, yearInEra: number, month: number, day: number): string | undefined {
  const era = ERAS[code - 1]
  if (!era || yearInEra < 1) return undefined
  const iso = isoOf(Number(era.start.slice(0, 4)) + yearInEra - 1, month, day)
  const next = ERAS[code]
  return iso && iso >= era.start && (!next || iso < next.start) ? iso : undefined
}

export function parseBirthDate(raw: string): string | undefined {
  const text = foldText(raw).trim().toUpperCase()
  let m = /^(\d{4})-?(\d{2})-?(\d{2})$/.exec(text) ?? /^(\d{4})[/.年](\d{1,2})[/.月](\d{1,2})日?$/.exec(text)
  if (m) return isoOf(Number(m[1]), Number(m[2]), Number(m[3]))
  m = /^([1-5])(\d{2})(\d{2})(\d{2})$/.exec(text)
  if (m) return fromEra(Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4]))
  m = /^(明治|大正|昭和|平成|令和|[MTSHR])\.?\s*(元|\d{1,2})[年/.-](\d{1,2})[月/.-](\d{1,2})日?$/.exec(text)
  if (m) {
    const era = m[1] as string
    const code = ERA_LETTERS[era] ?? ERAS.findIndex((e) => e.name === era) + 1
    return fromEra(code, m[2] === '元' ? 1 : Number(m[2]), Number(m[3]), Number(m[4]))
  }
  return undefined
}
