import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { encodeColumn } from '../table.js'
import { readArxHierarchy } from './arx.js'
import {
  ageBands,
  dateLevels,
  icd10Levels,
  intervalLevels,
  municipalityLevels,
  postalLevels,
} from './builtin.js'
import { generatedHierarchy } from './hierarchy.js'
import { ICD10_BLOCKS, ICD10_CHAPTERS, icd10Block, icd10Chapter } from './icd10.js'

const dir = mkdtempSync(join(tmpdir(), 'tk-hierarchy-'))
const file = (name: string, text: string) => {
  const path = join(dir, name)
  writeFileSync(path, text)
  return path
}

describe('built-in hierarchies', () => {
  it('bands ages (5, 10, 20 years, *) and top-codes the oldest', () => {
    expect(ageBands()('37')).toEqual(['35-39', '30-39', '20-39', '*'])
    expect(ageBands({ top: 90 })('93')).toEqual(['90+', '90+', '90+', '*'])
    expect(ageBands({ top: 90 })('87')).toEqual(['85-89', '80-89', '80-89', '*'])
    expect(ageBands()('3.5')).toEqual({ error: 'an age must be a whole number of years' })
  })

  it('generalizes dates to month and year, municipalities to prefecture and region, postal codes to 3 digits', () => {
    expect(dateLevels()('2023-04-05')).toEqual(['2023-04', '2023', '*'])
    expect(dateLevels()('20230405')).toEqual(['2023-04', '2023', '*'])
    expect(dateLevels()('2023-13-01')).toEqual({ error: 'not a calendar date' })
    expect(municipalityLevels()('131016')).toEqual(['13', '関東地方', '*'])
    expect(municipalityLevels()('01100')).toEqual(['01', '北海道地方', '*'])
    expect(municipalityLevels()('47201')).toEqual(['47', '九州地方', '*'])
    expect(municipalityLevels()('48001')).toEqual({ error: 'no prefecture has the code 48' })
    expect(postalLevels()('〒100-0001')).toEqual(['100', '*'])
  })

  it('generalizes ICD-10 codes to category, block and chapter', () => {
    expect(icd10Levels()('E11.9')).toEqual(['E11', 'E10-E14', 'IV', '*'])
    expect(icd10Levels()('i219')).toEqual(['I21', 'I20-I25', 'IX', '*'])
    expect(icd10Levels()('C50')).toEqual(['C50', 'C50-C50', 'II', '*'])
    expect(icd10Levels()('S72.0')).toEqual(['S72', 'S70-S79', 'XIX', '*'])
    expect(icd10Levels()('D49')).toEqual({ error: 'D49 is in no ICD-10 chapter' })
    expect(icd10Levels()('diabetes')).toEqual({ error: 'not an ICD-10 code' })
  })

  it('has ICD-10 blocks in order, without overlap, each inside one chapter', () => {
    let previous = ''
    for (const [first, last] of ICD10_BLOCKS) {
      expect(first <= last).toBe(true)
      expect(first > previous || first[0] === 'U').toBe(true)
      const chapter = icd10Chapter(first)
      expect(chapter, first).toBeDefined()
      expect(icd10Chapter(last)?.chapter).toBe(chapter?.chapter)
      if (first[0] !== 'U') previous = last
    }
    expect(ICD10_CHAPTERS).toHaveLength(22)
    // Every category of a chapter maps to one block or to the chapter's range: a function.
    for (const letter of 'ABCDEFGHIJKLMNOPQRSTVWXYZ')
      for (let n = 0; n < 100; n++) {
        const code = `${letter}${String(n).padStart(2, '0')}`
        if (!icd10Chapter(code)) continue
        const blocks = ICD10_BLOCKS.filter(([first, last]) => code >= first && code <= last)
        expect(blocks.length, code).toBeLessThanOrEqual(1)
        expect(icd10Block(code) ?? icd10Chapter(code)?.range).toBeDefined()
      }
  })

  it('makes nested intervals, coding the tails', () => {
    const f = intervalLevels({ width: 5, levels: 3, bottom: 0, top: 100 })
    expect(f('12')).toEqual(['[10, 15)', '[10, 20)', '[0, 20)', '*'])
    expect(f('-3')).toEqual(['<0', '<0', '<0', '*'])
    expect(f('250')).toEqual(['>=100', '>=100', '>=100', '*'])
    expect(intervalLevels({ width: 0.1, levels: 1 })('0.35')).toEqual(['[0.3, 0.4)', '*'])
  })

  it('is functional for any ages and intervals (a label decides every label above it)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 120 }), { minLength: 1, maxLength: 60 }),
        fc.option(fc.integer({ min: 60, max: 100 }), { nil: undefined }),
        (ages, top) => {
          const column = encodeColumn('age', ages.map(String))
          // A non-functional hierarchy throws here.
          const h = generatedHierarchy(
            column,
            'age',
            ageBands({ top: top === undefined ? undefined : top - (top % 20) }),
          )
          expect(h.height).toBe(4)
          for (let level = 0; level <= h.height; level++)
            expect(Array.from(h.map[level] as Int32Array).every((code) => code >= 0)).toBe(true)
        },
      ),
    )
  })
})

describe('hierarchies in ARX’s CSV form', () => {
  const column = encodeColumn('x', ['a', 'b', 'c', 'a'])

  it('binds the rows (the domain) to the column and counts shares over the domain', () => {
    const h = readArxHierarchy(file('ok.csv', 'a;ab;*\nb;ab;*\nc;cd;*\nd;cd;*\n'), column)
    expect(h.height).toBe(2)
    expect(h.domainSize).toBe(4)
    const level1 = h.labels[1] as readonly string[]
    expect(column.dictionary.map((_, code) => level1[(h.map[1] as Int32Array)[code] as number])).toEqual([
      'ab',
      'ab',
      'cd',
    ])
    // ab covers 2 of the 4 domain values, whatever the data hold.
    expect((h.share[1] as Float64Array)[(h.map[1] as Int32Array)[0] as number]).toBe(0.5)
  })

  it('names the line of a ragged or duplicated row, a value it lacks, and a label that splits', () => {
    expect(() => readArxHierarchy(file('ragged.csv', 'a;ab;*\nb;*\nc;cd;*\n'), column)).toThrow(
      /line 2: 2 levels where the first row has 3/,
    )
    expect(() => readArxHierarchy(file('twice.csv', 'a;ab;*\nb;ab;*\na;ab;*\nc;cd;*\n'), column)).toThrow(
      /line 3: the value "a" is listed twice/,
    )
    expect(() => readArxHierarchy(file('lacks.csv', 'a;ab;*\nb;ab;*\n'), column)).toThrow(
      /the value "c" \(data row 3\) is not in its hierarchy/,
    )
    expect(() => readArxHierarchy(file('split.csv', 'a;ab;x\nb;ab;y\nc;cd;y\n'), column)).toThrow(
      /"ab" at level 1 generalizes to both "x" and "y" at level 2/,
    )
  })
})
