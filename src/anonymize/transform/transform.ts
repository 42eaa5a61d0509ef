import { createHmac } from 'node:crypto'
import { TokumeiError } from '../../model/index.js'
import { type Column, encodeColumn, mapColumn } from '../table.js'

/**
 * The transforms applied to a column before the search: pseudonyms and date offsets from the release
 * key (HMAC-SHA-256, so neither can be reversed nor joined across releases without the key), top and
 * bottom coding, rounding, and rare-value suppression. Each maps values, never rows, except the date
 * shift, whose offset is the person's.
 */
const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567'

function base32(bytes: Uint8Array): string {
  let out = ''
  let bits = 0
  let value = 0
  for (const byte of bytes) {
    value = (value << 8) | byte
    bits += 8
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31]
      bits -= 5
    }
  }
  return out
}

/** A value's pseudonym under the release key: 16 base32 characters (80 bits). */
export function pseudonym(key: Uint8Array, value: string): string {
  return base32(createHmac('sha256', key).update(`tokumei.pseudonym\u0000${value}`).digest().subarray(0, 10))
}

/** A person's date offset under the release key: a whole number of days in ±[1, days], never 0. */
export function dateOffset(key: Uint8Array, person: string, days: number): number {
  const digest = createHmac('sha256', key).update(`tokumei.date-shift\u0000${person}`).digest()
  const magnitude = 1 + (digest.readUInt32BE(0) % days)
  return (digest[4] as number) & 1 ? magnitude : -magnitude
}

const DAY = 86_400_000
const DATE = /^(\d{4})-?(\d{2})-?(\d{2})(.*)$/

/** The date (with any time after it kept) moved by `offset` days, in the value's own form. */
export function shiftDate(value: string, offset: number): string | undefined {
  const match = DATE.exec(value.trim())
  if (!match) return undefined
  const [, y, m, d, rest] = match as unknown as [string, string, string, string, string]
  const time = Date.UTC(Number(y), Number(m) - 1, Number(d))
  const date = new Date(time)
  if (
    date.getUTCFullYear() !== Number(y) ||
    date.getUTCMonth() !== Number(m) - 1 ||
    date.getUTCDate() !== Number(d)
  )
    return undefined
  const shifted = new Date(time + offset * DAY).toISOString().slice(0, 10)
  const compact = !value.trim().slice(0, 10).includes('-')
  return `${compact ? shifted.replaceAll('-', '') : shifted}${rest}`
}

const NUMBER = /^-?(\d+(\.\d*)?|\.\d+)$/

function numeric(column: Column, what: string, f: (x: number) => string): Column {
  const bad = column.dictionary.findIndex((v) => v.trim() !== '' && !NUMBER.test(v.trim()))
  if (bad >= 0)
    throw new TokumeiError(
      `Column ${column.name}, data row ${column.codes.indexOf(bad) + 1}: ${what} needs numbers, and this value is not one.`,
      {
        code: 'anonymize.bad_value',
        kind: 'invalid',
        details: { column: column.name, row: column.codes.indexOf(bad) + 1 },
      },
    )
  return mapColumn(column, (v) => (v.trim() === '' ? v : f(Number(v.trim()))))
}

export const topCode = (column: Column, at: number) =>
  numeric(column, 'top-coding', (x) => (x >= at ? `>=${at}` : String(x)))

export const bottomCode = (column: Column, at: number) =>
  numeric(column, 'bottom-coding', (x) => (x <= at ? `<=${at}` : String(x)))

export const roundTo = (column: Column, step: number) =>
  numeric(column, 'rounding', (x) => String(Number((Math.round(x / step) * step).toPrecision(12))))

/**
 * Values held by fewer than `min` persons become `*` (persons from `person`'s codes when given, else
 * one per record). Returns the column and how many values were suppressed.
 */
export function suppressRare(
  column: Column,
  min: number,
  person: Int32Array | undefined,
): { column: Column; values: number; records: number } {
  const holders = new Int32Array(column.dictionary.length)
  if (person) {
    const seen = new Set<number>()
    for (let r = 0; r < column.codes.length; r++) {
      const key = (column.codes[r] as number) * 4294967296 + (person[r] as number)
      if (seen.has(key)) continue
      seen.add(key)
      holders[column.codes[r] as number] = (holders[column.codes[r] as number] as number) + 1
    }
  } else for (const code of column.codes) holders[code] = (holders[code] as number) + 1
  let values = 0
  let records = 0
  const rare = Uint8Array.from(holders, (n) => (n < min ? 1 : 0))
  for (const flag of rare) values += flag
  for (const code of column.codes) records += rare[code] as number
  const mapped = column.dictionary.map((v, code) => (rare[code] ? '*' : v))
  return { column: mapColumn({ ...column, dictionary: mapped }, (v) => v), values, records }
}

export const pseudonymizeColumn = (column: Column, key: Uint8Array) =>
  mapColumn(column, (v) => (v === '' ? '' : pseudonym(key, v)))

/** Every date of the column moved by its person's offset. An unreadable date is an error with its row. */
export function shiftDates(column: Column, person: Column, key: Uint8Array, days: number): Column {
  const offsets = person.dictionary.map((p) => dateOffset(key, p, days))
  const values = new Array<string>(column.codes.length)
  for (let r = 0; r < values.length; r++) {
    const value = column.dictionary[column.codes[r] as number] as string
    if (value.trim() === '') {
      values[r] = value
      continue
    }
    const shifted = shiftDate(value, offsets[person.codes[r] as number] as number)
    if (shifted === undefined)
      throw new TokumeiError(`Column ${column.name}, data row ${r + 1}: not a date (YYYY-MM-DD) to shift.`, {
        code: 'anonymize.bad_value',
        kind: 'invalid',
        details: { column: column.name, row: r + 1 },
      })
    values[r] = shifted
  }
  return encodeColumn(column.name, values)
}
