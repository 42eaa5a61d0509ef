import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { fromWarekiDigits, toWarekiDigits, toWarekiMonthDigits, toWarekiText } from './wareki.js'

describe('和暦', () => {
  it('writes the era digits and text of known dates', () => {
    expect(toWarekiDigits('1965-04-15')).toBe('3400415')
    expect(toWarekiDigits('1989-01-07')).toBe('3640107')
    expect(toWarekiDigits('1989-01-08')).toBe('4010108')
    expect(toWarekiDigits('2019-04-30')).toBe('4310430')
    expect(toWarekiDigits('2019-05-01')).toBe('5010501')
    expect(toWarekiText('2019-05-01')).toBe('令和元年5月1日')
    expect(toWarekiText('1948-04-05')).toBe('昭和23年4月5日')
    expect(toWarekiMonthDigits('2018-10')).toBe('43010')
  })

  it('round-trips every date from 1900 to 2100', () => {
    fc.assert(
      fc.property(
        fc.date({
          min: new Date('1900-01-01T00:00:00Z'),
          max: new Date('2100-12-31T00:00:00Z'),
          noInvalidDate: true,
        }),
        (date) => {
          const iso = date.toISOString().slice(0, 10)
          expect(fromWarekiDigits(toWarekiDigits(iso))).toBe(iso)
        },
      ),
    )
  })

  it('refuses digits that are no date of their era', () => {
    expect(fromWarekiDigits('4310230')).toBeUndefined()
    expect(fromWarekiDigits('5000101')).toBeUndefined()
    expect(fromWarekiDigits('3640110')).toBeUndefined()
    expect(fromWarekiDigits('940101')).toBeUndefined()
  })
})
