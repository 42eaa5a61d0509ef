import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { sharedData, useSyntheticData } from '../../../test/support/files.js'
import { isTokumeiError } from '../../model/index.js'
import { readDicomHeader } from './index.js'

const DATA = sharedData('dicom', 'pydicom_pydicom', 'src', 'pydicom', 'data')

describe.runIf(existsSync(DATA))('DICOM reader on the pydicom test files', () => {
  const read = (sub: string, f: string) => readDicomHeader(f, readFileSync(join(DATA, sub, f)))

  it('pins the identity and study of CT_small and the UTF-8 multi-script name of chrX1', () => {
    const ct = read('test_files', 'CT_small.dcm')
    expect(ct.identity).toEqual({
      localId: '1CT1',
      surname: 'CompressedSamples',
      given: 'CT1',
      sex: 'O',
      phones: [],
    })
    expect(ct.items[0]).toMatchObject({ kind: 'imaging', modality: 'CT', date: '2004-01-19' })
    expect(read('charset_files', 'chrX1.dcm').identity).toMatchObject({
      localId: 'X1EXAMPLE',
      surname: '王',
      given: '小東',
    })
  })

  it('decodes Japanese names written with ISO 2022 IR 87 code extensions', () => {
    expect(read('charset_files', 'chrH31.dcm').identity).toMatchObject({
      localId: 'H31EXAMPLE',
      surname: '山田',
      given: '太郎',
      surnameKana: 'やまだ',
      givenKana: 'たろう',
    })
    expect(read('charset_files', 'chrJapMulti.dcm').identity).toMatchObject({
      surname: 'やまだ',
      given: 'たろう',
      birthDate: '1800-01-01',
    })
  })

  it('reads most files, and refuses the rest with a DicomReadError that names the file only', () => {
    let ok = 0
    for (const sub of ['test_files', 'charset_files']) {
      for (const f of readdirSync(join(DATA, sub)).filter((x) => x.endsWith('.dcm'))) {
        try {
          read(sub, f)
          ok++
        } catch (error) {
          expect(isTokumeiError(error)).toBe(true)
          expect((error as Error).message).toMatch(
            new RegExp(`^${f.replace(/[.+]/g, '\\$&')}: not a readable DICOM Part 10 file`),
          )
        }
      }
    }
    // Known gaps (see docs): multi-byte ISO 2022 character sets and files without Part 10 meta.
    expect(ok).toBeGreaterThanOrEqual(48)
  })

  it('never throws anything but a TokumeiError on damaged files', () => {
    const bytes = readFileSync(join(DATA, 'test_files', 'MR_small.dcm'))
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 16 }),
        fc.nat(),
        (edits, cut) => {
          const mutated = Buffer.from(bytes.subarray(0, Math.max(132, bytes.length - (cut % 4000))))
          for (const [at, value] of edits) mutated[132 + (at % (mutated.length - 132))] = value
          try {
            readDicomHeader('fuzz.dcm', mutated)
          } catch (error) {
            expect(isTokumeiError(error)).toBe(true)
          }
        },
      ),
      { numRuns: 300 },
    )
  })
})

describe('DICOM reader on the synthetic studies (round trip with the writer)', () => {
  const generate = useSyntheticData()

  it('reads the identity (kanji and kana names) and the study of every synthetic file', async () => {
    const { dir: out, report } = await generate({
      persons: 120,
      hospitals: 2,
      seed: 'dicom',
      formats: ['dicom'],
    })
    const walk = (dir: string): string[] =>
      readdirSync(dir).flatMap((f) =>
        statSync(join(dir, f)).isDirectory() ? walk(join(dir, f)) : [join(dir, f)],
      )
    const files = report.hospitals.flatMap((h) =>
      existsSync(join(out, h.code, 'dicom')) ? walk(join(out, h.code, 'dicom')) : [],
    )
    expect(files.length).toBeGreaterThan(5)
    for (const file of files) {
      const record = readDicomHeader(file, readFileSync(file))
      expect(record.identity.surname).toBeTruthy()
      expect(record.identity.surnameKana).toMatch(/^[\u30a0-\u30ffー]+$/)
      expect(record.identity.birthDate).toMatch(/^\d{4}-\d{2}-\d{2}$/)
      expect(record.items[0]).toMatchObject({ kind: 'imaging', studyUid: expect.stringMatching(/^2\.25\./) })
    }
  })
})
