import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { personOf } from '../approvals/approvals.js'
import {
  actionMatches,
  coveringEntry,
  entryCovers,
  localTime,
  parseDays,
  parseHours,
  type ScheduleEntry,
  scheduleNames,
} from './schedule.js'

const entry = (fields: Partial<ScheduleEntry>): ScheduleEntry => ({
  id: 1,
  who: 'account:*',
  actions: ['*'],
  days: [1, 2, 3, 4, 5, 6, 7],
  from: '00:00',
  to: '24:00',
  startsAt: null,
  endsAt: null,
  note: '',
  createdBy: 'test',
  createdAt: '2026-01-01T00:00:00Z',
  ...fields,
})
const TOKYO = 'Asia/Tokyo'
const hhmm = (minute: number) =>
  `${String(Math.floor(minute / 60)).padStart(2, '0')}:${String(minute % 60).padStart(2, '0')}`
const instant = fc.date({
  min: new Date('2020-01-01T00:00:00Z'),
  max: new Date('2035-12-31T00:00:00Z'),
  noInvalidDate: true,
})

describe('the access schedule', () => {
  it('reads days and periods of the day, and refuses what is not one', () => {
    expect(parseDays('mon-fri')).toEqual([1, 2, 3, 4, 5])
    expect(parseDays('sat,sun')).toEqual([6, 7])
    expect(parseDays('fri-mon')).toEqual([1, 5, 6, 7])
    expect(parseDays('all')).toEqual([1, 2, 3, 4, 5, 6, 7])
    expect(parseDays('1,3')).toEqual([1, 3])
    expect(() => parseDays('someday')).toThrow(/"someday" is not a weekday/)
    expect(() => parseDays('8')).toThrow(/not a weekday/)
    expect(parseHours('9:00-18:00')).toEqual({ from: '09:00', to: '18:00' })
    expect(parseHours('22:00-06:30')).toEqual({ from: '22:00', to: '06:30' })
    expect(parseHours('00:00-24:00')).toEqual({ from: '00:00', to: '24:00' })
    for (const bad of ['9-18', '24:00-01:00', '09:00-09:00', '09:60-10:00', '09:00-25:00'])
      expect(() => parseHours(bad), bad).toThrow(/is not a period of the day/)
  })

  it('knows the weekday and minute in the agency time zone', () => {
    // 2026-11-24 15:30 UTC is Wednesday 00:30 in Tokyo.
    expect(localTime(new Date('2026-11-24T15:30:00Z'), TOKYO)).toEqual({ day: 3, minute: 30 })
    expect(localTime(new Date('2026-11-24T15:30:00Z'), 'UTC')).toEqual({ day: 2, minute: 15 * 60 + 30 })
  })

  it('names who an actor is: accounts with their roles, operators, institutions; not system actors', () => {
    expect(scheduleNames('account:sato', ['reviewer'])).toEqual([
      'account:*',
      'account:sato',
      'role:reviewer',
    ])
    expect(scheduleNames('os:root@core1')).toEqual(['os:*', 'os:root@core1'])
    expect(scheduleNames('institution:1310000001/key:k1')).toEqual([
      'institution:*',
      'institution:1310000001',
    ])
    expect(scheduleNames('system:monitor')).toBeUndefined()
    expect(scheduleNames('gateway:anonymous')).toBeUndefined()
  })

  it('matches actions by name or prefix', () => {
    expect(actionMatches(['gateway.*'], 'gateway.auth')).toBe(true)
    expect(actionMatches(['gateway.*'], 'intake.opened')).toBe(false)
    expect(actionMatches(['auth.login'], 'auth.login')).toBe(true)
    expect(actionMatches(['auth.login'], 'auth.logout')).toBe(false)
    expect(actionMatches(['*'], 'anything.at.all')).toBe(true)
  })

  it('an all-day, every-day entry covers every instant; one for other people covers none', () => {
    fc.assert(
      fc.property(instant, (at) => {
        expect(entryCovers(entry({}), ['account:*', 'account:x'], 'auth.login', at, TOKYO)).toBe(true)
        expect(
          entryCovers(entry({ who: 'role:admin' }), ['account:*', 'account:x'], 'auth.login', at, TOKYO),
        ).toBe(false)
      }),
    )
  })

  it('a period and its complement (past midnight) cover each instant exactly once', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1439 }),
        fc.integer({ min: 0, max: 1439 }),
        instant,
        fc.constantFrom(TOKYO, 'UTC', 'America/New_York'),
        (a, b, at, zone) => {
          fc.pre(a !== b)
          const day = entry({ from: hhmm(a), to: hhmm(b) })
          const night = entry({ from: hhmm(b), to: hhmm(a) })
          const names = ['account:*']
          const covered = [day, night].filter((e) => entryCovers(e, names, 'auth.login', at, zone))
          expect(covered.length).toBe(1)
        },
      ),
    )
  })

  it('working hours: weekdays 09:00–18:00 Tokyo time, and a maintenance window by its dates', () => {
    const hours = entry({ who: 'role:researcher', days: [1, 2, 3, 4, 5], from: '09:00', to: '18:00' })
    const names = ['account:*', 'account:k', 'role:researcher']
    const at = (iso: string) => new Date(iso)
    // Tuesday 2026-11-24 10:00 JST = 01:00 UTC.
    expect(coveringEntry([hours], names, 'auth.login', at('2026-11-24T01:00:00Z'), TOKYO)).toBe(hours)
    // The same Tuesday 18:00 JST (the end is exclusive) and Saturday 10:00 JST.
    expect(coveringEntry([hours], names, 'auth.login', at('2026-11-24T09:00:00Z'), TOKYO)).toBeUndefined()
    expect(coveringEntry([hours], names, 'auth.login', at('2026-11-28T01:00:00Z'), TOKYO)).toBeUndefined()
    // Overnight shift Friday 22:00 – 06:00 covers Saturday 03:00, not Friday 03:00.
    const night = entry({ who: 'os:*', days: [5], from: '22:00', to: '06:00' })
    expect(entryCovers(night, ['os:*'], 'keys.rotate', at('2026-11-27T18:00:00Z'), TOKYO)).toBe(true)
    expect(entryCovers(night, ['os:*'], 'keys.rotate', at('2026-11-26T18:00:00Z'), TOKYO)).toBe(false)
    const window = entry({
      who: 'os:*',
      startsAt: '2026-12-01T11:00:00.000Z',
      endsAt: '2026-12-01T13:00:00.000Z',
    })
    expect(entryCovers(window, ['os:*'], 'x', at('2026-12-01T12:00:00Z'), TOKYO)).toBe(true)
    expect(entryCovers(window, ['os:*'], 'x', at('2026-12-01T13:00:00Z'), TOKYO)).toBe(false)
    expect(entryCovers(window, ['os:*'], 'x', at('2026-12-01T10:59:59Z'), TOKYO)).toBe(false)
  })

  it('one person is one name, whatever channel they act through', () => {
    expect(personOf('os:Alice@core1')).toBe('alice')
    expect(personOf('account:alice')).toBe('alice')
    expect(personOf('os:bob@core2')).not.toBe(personOf('account:alice'))
  })
})
