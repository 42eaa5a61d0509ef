import type { Kysely, Selectable } from 'kysely'
import type { ScheduleTable, Schema } from '../../db/index.js'
import { TokumeiError } from '../../model/index.js'
import { type AuditEventInput, recordAuditEvent } from '../audit/index.js'
import type { Keyring } from '../crypto/index.js'

/**
 * The access schedule: who may act, on which actions, on which days and hours, within which dates.
 * An action that no entry covers is unscheduled, and the monitor blocks its actor. Entries name:
 *
 * - `os:*` or `os:USER@HOST` — commands on the core host and the jobs they run;
 * - `account:*`, `account:NAME` or `role:ROLE` — staff sessions;
 * - `institution:*` or `institution:CODE` — an institution's API keys.
 *
 * A fresh install covers each of the three at every hour; the agency narrows from there.
 */
type Db = Kysely<Schema>

export interface ScheduleEntry {
  readonly id: number
  readonly who: string
  /** Action names or prefixes ending in `*` (`gateway.*`), or `*` for all. */
  readonly actions: readonly string[]
  /** ISO weekdays, 1 Monday … 7 Sunday. */
  readonly days: readonly number[]
  /** HH:MM, inclusive. */
  readonly from: string
  /** HH:MM, exclusive; earlier than `from` runs past midnight; 24:00 is the day's end. */
  readonly to: string
  /** An approved period (a maintenance window): the entry holds only between these instants. */
  readonly startsAt: string | null
  readonly endsAt: string | null
  readonly note: string
  readonly createdBy: string
  readonly createdAt: string
}

/** Who an audit actor is, as schedule entries name them. Undefined: not governed by the schedule. */
export interface ScheduledActor {
  /** The `who` values that cover this actor, most general first. */
  readonly names: readonly string[]
}

const DAY_NAMES = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const

/**
 * The `who` values that may cover an audit actor: `account:alice` (with her roles), `os:bob@host`,
 * `institution:H001/key:K`. Other actors (`system:…`, `gateway:anonymous`) are not scheduled.
 */
export function scheduleNames(actor: string, roles: readonly string[] = []): string[] | undefined {
  const [kind, rest = ''] = splitOnce(actor, ':')
  if (rest === '') return undefined
  if (kind === 'account') return ['account:*', actor, ...roles.map((role) => `role:${role}`)]
  if (kind === 'os') return ['os:*', actor]
  if (kind === 'institution') return ['institution:*', `institution:${splitOnce(rest, '/')[0]}`]
  return undefined
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator)
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + separator.length)]
}

/** One formatter per time zone: building one costs far more than using it, and the monitor asks per event. */
const FORMATS = new Map<string, Intl.DateTimeFormat>()

/** The weekday (ISO) and minute of the day of an instant in a time zone. */
export function localTime(at: Date, timeZone: string): { day: number; minute: number } {
  let format = FORMATS.get(timeZone)
  if (!format) {
    format = new Intl.DateTimeFormat('en-GB', {
      timeZone,
      weekday: 'short',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
    })
    FORMATS.set(timeZone, format)
  }
  const parts = format.formatToParts(at)
  const part = (type: string) => parts.find((p) => p.type === type)?.value ?? ''
  const day = DAY_NAMES.indexOf(part('weekday').toLowerCase() as (typeof DAY_NAMES)[number]) + 1
  return { day, minute: Number(part('hour')) * 60 + Number(part('minute')) }
}

const minutes = (hhmm: string) => {
  const [h, m] = hhmm.split(':').map(Number) as [number, number]
  return h * 60 + m
}

export function actionMatches(patterns: readonly string[], action: string): boolean {
  return patterns.some(
    (p) => p === '*' || p === action || (p.endsWith('*') && action.startsWith(p.slice(0, -1))),
  )
}

/** Whether an entry lets these names do this action at this instant. */
export function entryCovers(
  entry: ScheduleEntry,
  names: readonly string[],
  action: string,
  at: Date,
  timeZone: string,
): boolean {
  if (!names.includes(entry.who) || !actionMatches(entry.actions, action)) return false
  if (entry.startsAt !== null && at < new Date(entry.startsAt)) return false
  if (entry.endsAt !== null && at >= new Date(entry.endsAt)) return false
  const local = localTime(at, timeZone)
  const from = minutes(entry.from)
  const to = minutes(entry.to)
  if (from < to) return entry.days.includes(local.day) && local.minute >= from && local.minute < to
  // Past midnight: the evening part belongs to the listed day, the morning part to the day after it.
  const previousDay = local.day === 1 ? 7 : local.day - 1
  return (
    (entry.days.includes(local.day) && local.minute >= from) ||
    (entry.days.includes(previousDay) && local.minute < to)
  )
}

/** Whether any entry covers the action; the covering entry, or undefined when it is unscheduled. */
export function coveringEntry(
  entries: readonly ScheduleEntry[],
  names: readonly string[],
  action: string,
  at: Date,
  timeZone: string,
): ScheduleEntry | undefined {
  return entries.find((entry) => entryCovers(entry, names, action, at, timeZone))
}

/** `mon-fri`, `sat,sun`, `all`, `1-5`, `1,3,5` → ISO weekdays. */
export function parseDays(text: string): number[] {
  const value = text.trim().toLowerCase()
  if (value === 'all' || value === '*') return [1, 2, 3, 4, 5, 6, 7]
  const day = (token: string) => {
    const byName = DAY_NAMES.indexOf(token.slice(0, 3) as (typeof DAY_NAMES)[number])
    const n = /^[1-7]$/.test(token) ? Number(token) : byName + 1
    if (n < 1 || n > 7 || (byName < 0 && !/^[1-7]$/.test(token)))
      throw new TokumeiError(`"${token}" is not a weekday: use mon … sun or 1 … 7.`, {
        code: 'schedule.bad_days',
        kind: 'invalid',
      })
    return n
  }
  const days = new Set<number>()
  for (const part of value.split(',').map((p) => p.trim())) {
    const [first, last] = part.split('-').map((p) => p.trim())
    if (!first)
      throw new TokumeiError(`"${text}" is not a list of days.`, {
        code: 'schedule.bad_days',
        kind: 'invalid',
      })
    if (last === undefined) {
      days.add(day(first))
      continue
    }
    const a = day(first)
    const b = day(last)
    for (let d = a; ; d = (d % 7) + 1) {
      days.add(d)
      if (d === b) break
    }
  }
  return [...days].sort((a, b) => a - b)
}

/** `09:00-18:00` → its two ends; `22:00-06:00` runs past midnight. */
export function parseHours(text: string): { from: string; to: string } {
  const match = /^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$/.exec(text)
  const pad = (h: string, m: string) => `${h.padStart(2, '0')}:${m}`
  if (match) {
    const [, h1, m1, h2, m2] = match as unknown as [string, string, string, string, string]
    const from = pad(h1, m1)
    const to = pad(h2, m2)
    const valid = (hhmm: string, end: boolean) =>
      Number(hhmm.slice(3)) < 60 && (minutes(hhmm) < 24 * 60 || (end && hhmm === '24:00'))
    if (valid(from, false) && valid(to, true) && from !== to) return { from, to }
  }
  throw new TokumeiError(`"${text}" is not a period of the day: write HH:MM-HH:MM, e.g. 09:00-18:00.`, {
    code: 'schedule.bad_hours',
    kind: 'invalid',
  })
}

const WHO = /^(os|account|role|institution):\S+$/

export interface NewScheduleEntry {
  readonly who: string
  readonly actions?: readonly string[]
  readonly days?: readonly number[]
  readonly from?: string
  readonly to?: string
  readonly startsAt?: Date
  readonly endsAt?: Date
  readonly note?: string
}

export interface ScheduleContext {
  readonly db: Db
  readonly keyring: Keyring
  readonly actor: string
}

export async function listSchedule(db: Db): Promise<ScheduleEntry[]> {
  const rows = await db
    .selectFrom('governance.schedule')
    .selectAll()
    .where('removed_at', 'is', null)
    .orderBy('id')
    .execute()
  return rows.map(toScheduleEntry)
}

/** A `governance.schedule` row as an entry. */
export function toScheduleEntry(r: Selectable<ScheduleTable>): ScheduleEntry {
  return {
    id: r.id,
    who: r.who,
    actions: r.actions,
    days: r.days.map(Number),
    from: r.from_time.slice(0, 5),
    to: r.to_time.slice(0, 5),
    startsAt: r.starts_at?.toISOString() ?? null,
    endsAt: r.ends_at?.toISOString() ?? null,
    note: r.note,
    createdBy: r.created_by,
    createdAt: r.created_at.toISOString(),
  }
}

export async function addScheduleEntry(context: ScheduleContext, entry: NewScheduleEntry): Promise<number> {
  if (!WHO.test(entry.who))
    throw new TokumeiError(
      `"${entry.who}" names no one: use os:*, os:USER@HOST, account:*, account:NAME, role:ROLE, institution:* or institution:CODE.`,
      { code: 'schedule.bad_who', kind: 'invalid' },
    )
  const actions = entry.actions && entry.actions.length > 0 ? [...entry.actions] : ['*']
  for (const action of actions)
    if (!/^(\*|[a-z][a-z0-9_]*(\.[a-z0-9_]+)*(\.\*)?)$/.test(action))
      throw new TokumeiError(`"${action}" is not an action or action prefix (e.g. gateway.*, auth.login).`, {
        code: 'schedule.bad_action',
        kind: 'invalid',
      })
  if (entry.startsAt && entry.endsAt && entry.startsAt >= entry.endsAt)
    throw new TokumeiError('The period ends before it starts.', {
      code: 'schedule.bad_period',
      kind: 'invalid',
    })
  return context.db.transaction().execute(async (trx) => {
    const row = await trx
      .insertInto('governance.schedule')
      .values({
        who: entry.who,
        actions,
        days: [...(entry.days ?? [1, 2, 3, 4, 5, 6, 7])],
        from_time: entry.from ?? '00:00',
        to_time: entry.to ?? '24:00',
        starts_at: entry.startsAt ?? null,
        ends_at: entry.endsAt ?? null,
        note: entry.note ?? '',
        created_by: context.actor,
      })
      .returning('id')
      .executeTakeFirstOrThrow()
    await audit(trx, context, {
      action: 'schedule.added',
      target: `schedule:${row.id}`,
      detail: { who: entry.who },
    })
    return row.id
  })
}

export async function removeScheduleEntry(context: ScheduleContext, id: number): Promise<void> {
  await context.db.transaction().execute(async (trx) => {
    const removed = await trx
      .updateTable('governance.schedule')
      .set({ removed_by: context.actor, removed_at: new Date() })
      .where('id', '=', id)
      .where('removed_at', 'is', null)
      .returning('who')
      .executeTakeFirst()
    if (!removed)
      throw new TokumeiError(`There is no schedule entry ${id}: see \`tokumei schedule list\`.`, {
        code: 'schedule.not_found',
        kind: 'not_found',
      })
    await audit(trx, context, {
      action: 'schedule.removed',
      target: `schedule:${id}`,
      detail: { who: removed.who },
    })
  })
}

function audit(db: Db, context: ScheduleContext, event: Omit<AuditEventInput, 'actor'>) {
  return recordAuditEvent(db, context.keyring, { ...event, actor: context.actor })
}
