import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { ageAt } from './cohort.js'

const day = fc
  .date({ min: new Date('1900-01-01T00:00:00Z'), max: new Date('2100-12-31T00:00:00Z'), noInvalidDate: true })
  .map((d) => d.toISOString().slice(0, 10))

describe('ageAt', () => {
  it('counts a year on the birthday itself, not the day before', () => {
    expect(ageAt('2000-03-15', '2020-03-15')).toBe(20)
    expect(ageAt('2000-03-15', '2020-03-14')).toBe(19)
    // Born on 29 February: a year older from 1 March in common years.
    expect(ageAt('2000-02-29', '2021-02-28')).toBe(20)
    expect(ageAt('2000-02-29', '2021-03-01')).toBe(21)
  })

  it('has no age for a person born after the reference day', () => {
    expect(ageAt('2024-06-02', '2024-06-01')).toBeUndefined()
    expect(ageAt('2024-06-01', '2024-06-01')).toBe(0)
  })

  it('is never negative, and grows by one each year after the birthday', () => {
    fc.assert(
      fc.property(day, day, (birth, reference) => {
        const age = ageAt(birth, reference)
        if (birth > reference) return age === undefined
        const nextYear = `${String(Number(reference.slice(0, 4)) + 1).padStart(4, '0')}${reference.slice(4)}`
        return (
          age !== undefined && age >= 0 && (reference.endsWith('02-29') || ageAt(birth, nextYear) === age + 1)
        )
      }),
    )
  })
})
