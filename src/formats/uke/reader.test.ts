import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { sharedData, useSyntheticData } from '../../../test/support/files.js'
import { readUke, readUkeBytes } from './index.js'

const DIR = sharedData('uke', 'yokenzan_receiptisan', 'spec', 'resource', 'input')

describe.runIf(existsSync(DIR))('.UKE reader on the public sample', () => {
  const file = readUkeBytes(readFileSync(join(DIR, 'RECEIPTC_GAIRAI_SAMPLE.UKE')))

  it('reads all 75 receipts with no problem, and the header and trailer', () => {
    expect(file.problems).toEqual([])
    expect(file.receipts).toHaveLength(75)
    expect(file.header).toEqual({
      payer: '1',
      prefecture: '12',
      institutionCode: '1210000000',
      institutionName: '',
      claimMonth: '2021-11',
    })
    expect(file.trailer).toEqual({ receipts: 140, points: 86392 })
  })

  it('pins the first receipt', () => {
    const first = file.receipts[0]
    expect(first?.month).toBe('2021-10')
    expect(first?.identity).toEqual({
      localId: '00697',
      surname: 'テスト',
      given: '汎用',
      surnameKana: 'テストハンヨウ',
      birthDate: '1991-11-21',
      sex: 'M',
      phones: [],
      insurerNumber: '01010016',
      insuredSymbol: '１',
      insuredNumber: '１',
    })
    expect(first?.items[0]).toEqual({
      kind: 'condition',
      name: '',
      receiptCode: '2500013',
      onset: '2021-08-01',
      main: true,
    })
    expect(first?.items.find((i) => i.kind === 'procedure')).toEqual({
      kind: 'procedure',
      code: '111000110',
      category: '11',
      points: 288,
      count: 1,
      month: '2021-10',
      perDay: { 1: 1 },
    })
  })

  it('reads the UTF-8 fragment as text, reporting the missing IR and GO', () => {
    const fragment = readUke(readFileSync(join(DIR, 'receipt_gairai_sample.txt'), 'utf8'))
    expect(fragment.receipts).toHaveLength(1)
    expect(fragment.problems.map((p) => p.reason)).toEqual([
      'the file does not start with an IR record',
      'the file does not end with a GO record',
    ])
  })
})

describe('.UKE reader on bad input', () => {
  const good =
    'IR,1,13,1,1234567,,テスト病院,202101,00,0312345678\r\nRE,1,1112,202012,山田　太郎,1,3400415,,,,,,,0001,,,,,,,,,,,,,,,,,,,,,,,ﾔﾏﾀﾞ ﾀﾛｳ,\r\nHO,01130012,１,２,1,73,,,,,,,,,\r\nSY,4019004,20201201,1,,,01,\r\nGO,1,73,99\r\n'

  it('reads 和暦 birth dates and half-width kana', () => {
    const file = readUke(good)
    expect(file.problems).toEqual([])
    expect(file.receipts[0]?.identity).toMatchObject({
      birthDate: '1965-04-15',
      surnameKana: 'ヤマダ',
      givenKana: 'タロウ',
      localId: '0001',
    })
  })

  it('names the line and field of a bad date and an unknown record, and keeps the good receipts', () => {
    const bad = `${good.replace('GO,1,73,99\r\n', '')}RE,2,1112,202012,佐藤　花子,2,3641310,,,,,,,0002,\r\nHO,01130012,１,３,1,73\r\nRE,3,1112,202012,鈴木　一郎,1,19500101,,,,,,,0003,\r\nXX,1\r\nRE,4,1112,202012,田中　次郎,1,19600101,,,,,,,0004,\r\nGO,4,292,99\r\n`
    const file = readUke(bad)
    expect(file.receipts.map((r) => r.identity.localId)).toEqual(['0001', '0004'])
    expect(file.problems).toEqual([
      { line: 5, field: 7, record: 'RE', reason: 'field 7 is not a date (8-digit 西暦 or 7-digit 和暦)' },
      { line: 8, field: 1, record: 'XX', reason: 'unknown record id "XX"' },
    ])
  })

  it('never throws on mutated input: every problem is reported, never raised', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.constantFrom(',', '\r\n', 'X', '9', '')), { maxLength: 10 }),
        (edits) => {
          let text = good
          for (const [at, insert] of edits) {
            const i = at % text.length
            text = text.slice(0, i) + insert + text.slice(i + 1)
          }
          const file = readUke(text)
          expect(file.receipts.length + file.problems.length).toBeGreaterThan(0)
          for (const p of file.problems) expect(JSON.stringify(p)).not.toMatch(/山|太|郎|ﾔ|ﾀ|ﾛ/)
        },
      ),
      { numRuns: 500 },
    )
  })
})

describe('.UKE reader on the synthetic claims (round trip with the writer)', () => {
  const generate = useSyntheticData()

  it('reads every receipt of every monthly file, 和暦 and 西暦 alike', async () => {
    const { dir: out } = await generate({ persons: 80, hospitals: 3, seed: 'uke', formats: ['uke'] })
    const locals = new Set(
      readFileSync(join(out, 'truth/persons.csv'), 'utf8')
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => l.split(',').slice(1).join('/')),
    )
    const walk = (dir: string): string[] =>
      readdirSync(dir).flatMap((f) =>
        statSync(join(dir, f)).isDirectory() ? walk(join(dir, f)) : [join(dir, f)],
      )
    let receipts = 0
    for (const path of walk(out).filter((p) => p.endsWith('.UKE'))) {
      const file = readUkeBytes(readFileSync(path))
      expect(file.problems).toEqual([])
      expect(file.trailer?.receipts).toBe(file.receipts.length)
      const code = relative(out, path).split('/')[0]
      expect(file.header?.institutionCode).toBe(code)
      for (const r of file.receipts) {
        expect(locals).toContain(`${code}/${r.identity.localId}`)
        expect(r.identity.birthDate).toMatch(/^\d{4}-\d{2}-\d{2}$/)
        expect(r.items.some((i) => i.kind === 'condition')).toBe(true)
      }
      receipts += file.receipts.length
    }
    expect(receipts).toBeGreaterThan(100)
  })
})
