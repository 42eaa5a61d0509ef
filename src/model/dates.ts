/** Calendar dates as the readers and the store pass them: ISO `YYYY-MM-DD`, and only real days. */

/** Whether `iso` is `YYYY-MM-DD` and names a day that exists (no 2月30日). */
export function isCalendarDate(iso: string): boolean {
  if (iso.length !== 10 || !/^\d{4}-\d{2}-\d{2}$/.test(iso)) return false
  const year = Number(iso.slice(0, 4))
  const month = Number(iso.slice(5, 7))
  const day = Number(iso.slice(8, 10))
  if (month < 1 || month > 12 || day < 1) return false
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0)
  const days = month === 2 ? (leap ? 29 : 28) : [4, 6, 9, 11].includes(month) ? 30 : 31
  return day <= days
}

/** `YYYYMMDD` (HL7, DICOM, 西暦 claims) as ISO, or undefined when it is not a real day. */
export function isoFromCompactDate(yyyymmdd: string): string | undefined {
  if (!/^\d{8}$/.test(yyyymmdd)) return undefined
  const iso = `${yyyymmdd.slice(0, 4)}-${yyyymmdd.slice(4, 6)}-${yyyymmdd.slice(6, 8)}`
  return isCalendarDate(iso) ? iso : undefined
}
