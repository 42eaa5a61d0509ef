import Encoding from 'encoding-japanese'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { decodeIso2022jp, encodeIso2022jp } from './storage.js'

// Kana, JIS X 0208 kanji, half-width kana, symbols, and the CP932 extensions Windows writes.
const alphabet = [
  ...'abcXYZ019 |^~\\&-.',
  ...'あいうゃっーアイウャッヴ',
  ...'山田太郎京都渡辺邊邉斎齋高崎東西南北',
  ...'ｱｲｳｶﾞﾊﾟｰ',
  ...'髙﨑①⑳㈱Ⅷ№～－',
]
const japaneseText = fc.array(fc.constantFrom(...alphabet), { maxLength: 40 }).map((chars) => chars.join(''))

const referenceDecode = (bytes: Uint8Array) =>
  Encoding.codeToString(Encoding.convert(Array.from(bytes), { to: 'UNICODE', from: 'JIS' }))

describe('ISO-2022-JP', () => {
  it('decodes as encoding-japanese does, CP932 extensions included', () => {
    fc.assert(
      fc.property(japaneseText, (text) => {
        const bytes = encodeIso2022jp(text)
        expect(decodeIso2022jp(bytes)).toBe(referenceDecode(bytes))
      }),
      { numRuns: 500 },
    )
  })

  it('round-trips every character of the alphabet, JIS X 0212 (№, 纊) included', () => {
    for (const char of [...alphabet, '纊', '褜']) expect(decodeIso2022jp(encodeIso2022jp(char))).toBe(char)
  })

  it('refuses 8-bit bytes, unless lenient', () => {
    expect(() => decodeIso2022jp(Buffer.from([0x41, 0xb1]))).toThrow(RangeError)
    expect(() => decodeIso2022jp(Buffer.from([0x1b, 0x24, 0x42, 0xb1, 0xb1]))).toThrow(RangeError)
    expect(decodeIso2022jp(Buffer.from([0x41, 0x42]), { lenient: true })).toBe('AB')
    expect(decodeIso2022jp(Buffer.from([0x41, 0xb1]), { lenient: true })).toMatch(/^A/)
  })

  it('keeps 「京」, whose second byte is the repetition separator, as one character', () => {
    const bytes = encodeIso2022jp('京')
    expect([...bytes]).toContain('~'.charCodeAt(0))
    expect(decodeIso2022jp(bytes)).toBe('京')
  })
})
