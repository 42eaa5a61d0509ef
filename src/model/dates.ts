/** Calendar dates as the readers and the store pass them: ISO `YYYY-MM-DD`, and only real days. */

/** Whether `iso` is `YYYY-MM-DD` and names a day that exists (no 2月30日). */
export function isCalendarDate(iso: string): boolean {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(iso)) return false
  const date = new Date(`${iso}T00:00:00Z`)
  return !Number.isNaN(date.getTime()) && date.toISOString().slice(0, 10) === iso
}

/** `YYYYMMDD` (HL7, DICOM, 西暦 claims) as ISO, or undefined when it is not a real day. */
export function isoFromCompactDate(yyyymmdd: string): string | undefined {
  if (!/^\d{8}$/.test(yyyymmdd)) return undefined
  const iso = `${yyyymmdd.slice(0, 4)}-${yyyymmdd.slice(4, 6)}-${yyyymmdd.slice(6, 8)}`
  return isCalendarDate(iso) ? iso : undefined
}
