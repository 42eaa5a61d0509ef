/**
 * 和暦 (Japanese era) dates, as the outside world writes them: the 7-digit GYYMMDD of the レセプト
 *電算 records (G = era code 1 明治 … 5 令和), and the written form 「昭和40年4月15日」.
 */
export interface Era {
  readonly code: number
  readonly name: string
  /** First day of the era, YYYY-MM-DD. */
  readonly start: string
}

export const ERAS: readonly Era[] = [
  { code: 1, name: '明治', start: '1868-10-23' },
  { code: 2, name: '大正', start: '1912-07-30' },
  { code: 3, name: '昭和', start: '1926-12-25' },
  { code: 4, name: '平成', start: '1989-01-08' },
  { code: 5, name: '令和', start: '2019-05-01' },
]

/** The era of an ISO date (YYYY-MM-DD), and the year within it (元年 = 1). */
export function eraOf(iso: string): { era: Era; year: number } {
  let found: Era | undefined
  for (const era of ERAS) if (iso >= era.start) found = era
  if (!found) throw new RangeError(`${iso} is before the Meiji era`)
  return { era: found, year: Number(iso.slice(0, 4)) - Number(found.start.slice(0, 4)) + 1 }
}

/** 7-digit GYYMMDD, e.g. 1965-04-15 → 3400415. */
export function toWarekiDigits(iso: string): string {
  const { era, year } = eraOf(iso)
  return `${era.code}${String(year).padStart(2, '0')}${iso.slice(5, 7)}${iso.slice(8, 10)}`
}

/** 5-digit GYYMM for a month, e.g. 2018-10 → 43010. */
export function toWarekiMonthDigits(isoMonth: string): string {
  return toWarekiDigits(`${isoMonth}-28`).slice(0, 5)
}

/** 「昭和40年4月15日」 (元年 for the first year). */
export function toWarekiText(iso: string): string {
  const { era, year } = eraOf(iso)
  return `${era.name}${year === 1 ? '元' : year}年${Number(iso.slice(5, 7))}月${Number(iso.slice(8, 10))}日`
}

/** The ISO date of a 7-digit GYYMMDD, or undefined when it is not one. */
export function fromWarekiDigits(digits: string): string | undefined {
  const match = /^([1-5])(\d{2})(\d{2})(\d{2})$/.exec(digits)
  if (!match) return undefined
  const era = ERAS[Number(match[1]) - 1] as Era
  const year = Number(era.start.slice(0, 4)) + Number(match[2]) - 1
  const iso = `${year}-${match[3]}-${match[4]}`
  const date = new Date(`${iso}T00:00:00Z`)
  if (Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== iso) return undefined
  const next = ERAS[Number(match[1])]
  return iso >= era.start && (!next || iso < next.start) ? iso : undefined
}
