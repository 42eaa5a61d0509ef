import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { listFiles as files, sharedData, useSyntheticData } from '../../../test/support/files.js'
import { isTokumeiError } from '../../model/index.js'
import { formatHl7Message } from '../hl7v2/index.js'
import { hl7Value, parseHl7 } from '../hl7v2/parser.js'
import { encodeIso2022jp, readSsmix2Message } from './index.js'

const SAMPLES = sharedData('ssmix2', 'nhoHQ_SSMIX2DataTestingTool', 'sampleData')
const GOOD = '999/901/9999013'

const sample = (type: string) => {
  const file = files(SAMPLES).find((f) => f.startsWith(GOOD) && f.split('/')[4] === type) as string
  return readSsmix2Message(file, readFileSync(join(SAMPLES, file)))
}

describe('HL7 v2 parsing', () => {
  it('keeps a delimiter byte inside a JIS character intact when decoding comes first', () => {
    // 「京」 is 0x35 0x7E in JIS X 0208: the second byte is `~`, the repetition separator.
    const bytes = encodeIso2022jp(
      'MSH|^~\\&|A\rPID|1||1234567^^^^PI||東京^花子^^^^^L^I~トウキョウ^ハナコ^^^^^L^P\r',
    )
    expect([...bytes].includes(0x7e)).toBe(true)
    const record = readSsmix2Message(
      '123/456/1234567/-/ADT-00/1234567_-_ADT-00_999999999999999_20240101000000000_-_1',
      bytes,
    )
    expect(record.identity).toMatchObject({
      surname: '東京',
      given: '花子',
      surnameKana: 'トウキョウ',
      givenKana: 'ハナコ',
    })
  })

  it('undoes every escape sequence the writer makes', () => {
    fc.assert(
      fc.property(fc.string(), (text) => {
        const message = parseHl7(
          formatHl7Message([
            ['MSH', 'A'],
            ['NTE', '1', '', text.replace(/\r|\n/g, ' ')],
          ]),
        )
        expect(hl7Value(message.segments[1], 3)).toBe(text.replace(/\r|\n/g, ' '))
      }),
    )
  })
})

describe.runIf(existsSync(SAMPLES))('SS-MIX2 reader on the guideline samples', () => {
  it('reads every guideline sample without error', () => {
    for (const file of files(SAMPLES).filter((f) => f.startsWith(GOOD))) {
      expect(() => readSsmix2Message(file, readFileSync(join(SAMPLES, file)))).not.toThrow()
    }
  })

  it('pins the identity of ADT-00', () => {
    const record = sample('ADT-00')
    expect(record.identity).toEqual({
      localId: '9999013',
      surname: '患者',
      given: '太郎',
      surnameKana: 'カンジャ',
      givenKana: 'タロウ',
      birthDate: '1948-04-05',
      sex: 'M',
      postalCode: '422-8033',
      address: '静岡県静岡市登呂１－３－５',
      phones: ['054-000-0000', '03-5999-9999', '03-3599-9993'],
      insurerNumber: '67999991',
    })
    expect(record.items).toContainEqual({
      kind: 'lab',
      name: '身長',
      jlac10: '9N001000000000001',
      value: '167.8',
      numeric: 167.8,
      unit: 'cm',
    })
    expect(record.items).toContainEqual({ kind: 'allergy', name: 'ペニシリン', category: '薬剤アレルギー' })
    // The relative (NK1) and physicians (PV1) are read into nothing.
    expect(JSON.stringify(record)).not.toContain('医師')
  })

  it('pins diagnoses, prescriptions and lab results', () => {
    expect(sample('PPR-01').items).toEqual([
      {
        kind: 'condition',
        name: '胃炎',
        medisCode: '20054174',
        icd10: 'K29.7',
        onset: '2011-08-31',
        recorded: '2011-09-15',
        main: true,
      },
    ])
    const omp = sample('OMP-01').items
    expect(omp.map((i) => (i.kind === 'medication' ? [i.hot9, i.dose, i.days, i.route] : []))).toEqual([
      ['108665201', 1, 5, 'PO'],
      ['110626901', 2, 5, 'PO'],
      ['100607002', 50, 14, 'PO'],
    ])
    const labs = sample('OML-11').items
    expect(labs).toContainEqual({
      kind: 'lab',
      name: '総蛋白',
      jlac10: '3A010000002327101',
      value: '7.2',
      numeric: 7.2,
      unit: 'g/dl',
      range: '6.70-8.3',
      date: '2011-12-19',
    })
    expect(sample('ADT-22').items).toEqual([
      {
        kind: 'encounter',
        class: 'inpatient',
        event: 'admission',
        date: '2011-11-20',
        department: expect.any(String),
      },
    ])
  })

  it('refuses the broken cases with the file named, and fuzzed samples only ever with a TokumeiError', () => {
    const broken = files(SAMPLES).find((f) => f.includes('ADT-31')) as string
    expect(() => readSsmix2Message(broken, readFileSync(join(SAMPLES, broken)))).toThrow(
      /ADT-31|not 7-bit|storage name/,
    )
    const inputs = files(SAMPLES)
      .filter((f) => f.startsWith(GOOD))
      .map((f) => [f, readFileSync(join(SAMPLES, f))] as const)
    fc.assert(
      fc.property(
        fc.constantFrom(...inputs),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 127 })), { maxLength: 8 }),
        fc.nat(),
        ([file, bytes], edits, cut) => {
          const mutated = Buffer.from(bytes.subarray(0, Math.max(1, bytes.length - (cut % 50))))
          for (const [at, value] of edits) mutated[at % mutated.length] = value
          try {
            readSsmix2Message(file, mutated)
          } catch (error) {
            expect(isTokumeiError(error)).toBe(true)
          }
        },
      ),
      { numRuns: 500 },
    )
  })
})

describe('SS-MIX2 reader on the synthetic storage (round trip with the writer)', () => {
  const generate = useSyntheticData()

  it('reads back every message: identity as recorded, and every item the writer wrote', async () => {
    const { dir: out, report } = await generate({
      persons: 60,
      hospitals: 3,
      seed: 'reader',
      formats: ['ssmix2'],
    })
    const truth = new Map(
      readFileSync(join(out, 'truth/persons.csv'), 'utf8')
        .trim()
        .split('\n')
        .slice(1)
        .map((l) => {
          const [person, code, local] = l.split(',') as [string, string, string]
          return [`${code}/${local}`, person]
        }),
    )
    let messages = 0
    const kinds = new Set<string>()
    for (const h of report.hospitals) {
      const root = join(out, h.code, 'ssmix2')
      for (const file of files(root)) {
        const record = readSsmix2Message(file, readFileSync(join(root, file)))
        messages++
        expect(truth.has(`${h.code}/${record.identity.localId}`)).toBe(true)
        expect(record.identity.surname).toBeTruthy()
        expect(record.identity.surnameKana).toMatch(/^[\u30a0-\u30ffー]+$/)
        expect(record.identity.birthDate).toMatch(/^\d{4}-\d{2}-\d{2}$/)
        for (const item of record.items) kinds.add(`${record.file.dataType}:${item.kind}`)
        if (record.file.dataType === 'ADT-00') {
          expect(record.identity.address).toBeTruthy()
          expect(record.identity.phones.length).toBeGreaterThan(0)
          expect(record.identity.insurerNumber).toMatch(/^\d{8}$/)
        }
      }
    }
    expect(messages).toBeGreaterThan(300)
    for (const k of [
      'ADT-12:encounter',
      'ADT-22:encounter',
      'ADT-52:encounter',
      'PPR-01:condition',
      'OMP-01:medication',
      'OMP-02:medication',
      'OML-11:lab',
      'ADT-61:allergy',
    ]) {
      expect(kinds).toContain(k)
    }
  })
})
