import type { SourceRecord } from '../model/index.js'

/**
 * The notice gate (通知期間): a patient's data may be used only once the notice given to them is
 * `noticeDays` old. A patient already in the vault has passed it. For a patient new to the agency the
 * notice is taken to be the later of the institution's notice start and the patient's earliest dated
 * record here (a first visit after the start is when that patient was told); a patient with no dated
 * record at all counts as first seen on the day their submission was received (the caller passes it
 * as `earliest`; today when unknown), so the gate errs towards holding. Pure.
 */
export type NoticeDecision = { readonly pass: true } | { readonly pass: false; readonly holdUntil: string }

export function earliestDate(record: SourceRecord): string | undefined {
  let earliest: string | undefined
  for (const item of record.items) {
    const dates: Array<string | undefined> = []
    switch (item.kind) {
      case 'condition':
        dates.push(item.onset, item.recorded)
        break
      case 'procedure':
        dates.push(item.month ? `${item.month}-01` : undefined)
        break
      case 'allergy':
        break
      default:
        dates.push(item.date)
    }
    for (const date of dates) {
      if (date && /^\d{4}-\d{2}-\d{2}$/.test(date) && (earliest === undefined || date < earliest))
        earliest = date
    }
  }
  return earliest
}

const addDays = (iso: string, days: number): string => {
  const date = new Date(`${iso}T00:00:00Z`)
  date.setUTCDate(date.getUTCDate() + days)
  return date.toISOString().slice(0, 10)
}

export function noticeDecision(input: {
  readonly inVault: boolean
  readonly noticeStart: string
  readonly earliest: string | undefined
  readonly today: string
  readonly noticeDays: number
}): NoticeDecision {
  if (input.inVault) return { pass: true }
  const told = [input.noticeStart, input.earliest ?? input.today].sort().at(-1) as string
  const holdUntil = addDays(told, input.noticeDays)
  return holdUntil <= input.today ? { pass: true } : { pass: false, holdUntil }
}
