import type { Command } from 'commander'
import { TokumeiError } from '../../model/index.js'
import {
  addScheduleEntry,
  listSchedule,
  parseDays,
  parseHours,
  removeScheduleEntry,
  type ScheduleEntry,
} from '../../security/index.js'
import { idArgument } from '../args.js'
import type { Define } from '../main.js'

/**
 * `tokumei schedule`: the access schedule — who may act, on what, when. An action no entry covers is
 * unscheduled: the monitor blocks its actor at once. A fresh install covers everyone at every hour.
 */
const DAY = ['', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun']

const entryLine = (e: ScheduleEntry) =>
  `#${e.id} ${e.who.padEnd(20)} ${e.actions.join(',').padEnd(14)} ${e.days.length === 7 ? 'every day' : e.days.map((d) => DAY[d]).join(',')} ${e.from === '00:00' && e.to === '24:00' ? 'all day' : `${e.from}–${e.to}`}${e.startsAt || e.endsAt ? ` from ${e.startsAt ?? '…'} until ${e.endsAt ?? '…'}` : ''}${e.note ? `  (${e.note})` : ''}`

function instant(value: unknown, option: string): Date | undefined {
  if (value === undefined) return undefined
  const date = new Date(String(value))
  if (Number.isNaN(date.getTime()))
    throw new TokumeiError(
      `${option} ${String(value)} is not a date and time: write e.g. 2026-12-01T20:00+09:00.`,
      {
        code: 'schedule.bad_period',
        kind: 'invalid',
      },
    )
  return date
}

export function registerScheduleCommands(program: Command, define: Define): void {
  const schedule = program
    .command('schedule')
    .description('the access schedule: who may act, on what, when (the monitor blocks anything else)')
  schedule
    .command('list')
    .description('the entries in force')
    .action(
      define(async ({ withRuntime, out }) => {
        return withRuntime(async (runtime) => {
          const entries = await listSchedule(runtime.db.kysely)
          const timeZone = runtime.config.monitor.timeZone
          out.result(
            { timeZone, entries },
            entries.length > 0
              ? [`Times in ${timeZone}.`, ...entries.map(entryLine)]
              : 'No entries: every action by an account, an API key or a core-host operator is unscheduled.',
          )
          return 0
        })
      }),
    )
  schedule
    .command('add')
    .description('let someone act: working hours, or an approved window (--from/--until)')
    .requiredOption(
      '--who <who>',
      'os:* | os:USER@HOST | account:* | account:NAME | role:ROLE | institution:* | institution:CODE',
    )
    .option(
      '--actions <list>',
      'comma-separated actions or prefixes (gateway.*, auth.login); default all',
      '*',
    )
    .option('--days <days>', 'mon-fri, sat,sun, all …', 'all')
    .option('--hours <period>', 'HH:MM-HH:MM (past midnight allowed)', '00:00-24:00')
    .option('--from <instant>', 'the window opens (ISO 8601)')
    .option('--until <instant>', 'the window closes (ISO 8601)')
    .option('--note <text>', 'why (shown in listings)')
    .action(
      define(async ({ withRuntime, out }, options) => {
        const hours = parseHours(String(options.hours))
        const entry = {
          who: String(options.who),
          actions: String(options.actions)
            .split(',')
            .map((a) => a.trim())
            .filter((a) => a !== ''),
          days: parseDays(String(options.days)),
          from: hours.from,
          to: hours.to,
          startsAt: instant(options.from, '--from'),
          endsAt: instant(options.until, '--until'),
          note: options.note === undefined ? undefined : String(options.note),
        }
        return withRuntime(async (runtime) => {
          const id = await addScheduleEntry(
            { db: runtime.db.kysely, keyring: runtime.keyring, actor: runtime.actor },
            entry,
          )
          out.result({ id }, `Schedule entry ${id} added.`)
          return 0
        })
      }),
    )
  schedule
    .command('remove <id>')
    .description('withdraw an entry (what it covered becomes unscheduled at once)')
    .action(
      define(async ({ withRuntime, out }, _options, id) => {
        const entry = idArgument(id, 'schedule entry')
        return withRuntime(async (runtime) => {
          await removeScheduleEntry(
            { db: runtime.db.kysely, keyring: runtime.keyring, actor: runtime.actor },
            entry,
          )
          out.result({ id: entry, removed: true }, `Schedule entry ${entry} removed.`)
          return 0
        })
      }),
    )
}
