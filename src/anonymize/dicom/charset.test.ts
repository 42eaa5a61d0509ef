import { readFileSync } from 'node:fs'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { sharedData } from '../../../test/support/files.js'
import { charsetOf, decodeText, encodeText } from './charset.js'
import { asciiOf, readPart10 } from './part10.js'

const charsetFile = (name: string) =>
  readFileSync(sharedData('dicom', 'pydicom_pydicom', 'src', 'pydicom', 'data', 'charset_files', name))

/** A file's Specific Character Set and Patient Name, decoded by us. */
function patientName(name: string): string | undefined {
  const file = readPart10(charsetFile(name))
  if (!file) throw new Error(`${name} not read`)
  const value = (tag: number) => file.dataset.find((e) => e.tag === tag)?.value ?? new Uint8Array(0)
  const charset = charsetOf(asciiOf(value(0x00080005)))
  return charset ? decodeText(value(0x00100010), charset)?.trimEnd() : undefined
}

describe('DICOM text in its Specific Character Set', () => {
  it('reads the names of the standard’s examples as PS3.5 Annex H, I and J write them', () => {
    expect(patientName('chrH31.dcm')).toBe('Yamada^Tarou=山田^太郎=やまだ^たろう')
    expect(patientName('chrJapMulti.dcm')).toBe('やまだ^たろう')
    expect(patientName('chrX1.dcm')).toBe('Wang^XiaoDong=王^小東=') // the empty phonetic group, as the file has it
    expect(patientName('chrFren.dcm')).toBe('Buc^Jérôme')
    // Korean (ISO 2022 IR 149) and Greek are not ours to write: undefined, so the caller removes.
    expect(patientName('chrI2.dcm')).toBeUndefined()
    expect(patientName('chrGreek.dcm')).toBeUndefined()
  })

  it('writes JIS X 0208 between ESC $ B and ESC ( B, back to ASCII before each delimiter and at the end', () => {
    const charset = charsetOf('\\ISO 2022 IR 87')
    if (!charset) throw new Error('unsupported')
    const bytes = encodeText('CT ［氏名］^頭部', charset) as Uint8Array
    const text = Buffer.from(bytes).toString('latin1')
    expect(text.startsWith('CT \x1b$B')).toBe(true)
    expect(text).toContain('\x1b(B^\x1b$B')
    expect(text.trimEnd().endsWith('\x1b(B')).toBe(true)
    expect(bytes.length % 2).toBe(0)
    expect(decodeText(bytes, charset)?.trimEnd()).toBe('CT ［氏名］^頭部')
    // Half-width katakana only where ISO 2022 IR 13 is declared; 𠮷 (outside JIS X 0208) never.
    expect(encodeText('ﾔﾏﾀﾞ', charset)).toBeUndefined()
    expect(
      decodeText(encodeText('ﾔﾏﾀﾞ', { kind: 'iso2022jp', halfWidthKana: true }) as Uint8Array, {
        kind: 'iso2022jp',
        halfWidthKana: true,
      }),
    ).toBe('ﾔﾏﾀﾞ')
    expect(encodeText('𠮷野', charset)).toBeUndefined()
    expect(encodeText('［氏名］', { kind: 'latin1' })).toBeUndefined()
    expect(encodeText('Jérôme', { kind: 'ascii' })).toBeUndefined()
  })

  it('round-trips any text of ASCII, kana, kanji and half-width kana it can encode (property)', () => {
    const characters = [...'abcXYZ019 ^=\\-.あいうアイウー山田太郎髙﨑邊［］（）ｱｲｳﾞﾟ']
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(...characters), { maxLength: 40 }).map((cs) => cs.join('')),
        fc.constantFrom(
          { kind: 'utf8' } as const,
          { kind: 'iso2022jp', halfWidthKana: true } as const,
          { kind: 'iso2022jp', halfWidthKana: false } as const,
        ),
        (text, charset) => {
          const bytes = encodeText(text, charset)
          if (bytes === undefined) {
            // Only what the set lacks may fail: half-width kana without IR 13, or 﨑 (not in JIS X 0208).
            expect(/[ｱｲｳﾞﾟ﨑]/.test(text)).toBe(true)
            return
          }
          const back = decodeText(bytes, charset)
          expect(back === text || back === `${text} `).toBe(true)
        },
      ),
      { numRuns: 500 },
    )
  })

  it('never throws on broken bytes (fuzz)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
        for (const charset of [
          { kind: 'ascii' } as const,
          { kind: 'latin1' } as const,
          { kind: 'utf8' } as const,
          { kind: 'iso2022jp', halfWidthKana: true } as const,
        ]) {
          const text = decodeText(bytes, charset)
          expect(text === undefined || typeof text === 'string').toBe(true)
        }
      }),
      { numRuns: 500 },
    )
  })
})
