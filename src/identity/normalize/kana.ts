import { compactName } from './text.js'

/**
 * Kana readings as comparison features. The reading is first put in one form — full-width katakana
 * (half-width via NFKC, hiragana shifted by 0x60), without spaces — and then a looser form drops the
 * differences that hospitals' systems introduce without the person changing: small kana written large
 * (ャ/ヤ), the long-vowel mark (ー), ヂ/ジ and ヅ/ズ, ヲ/オ, ヴ/ブ. Both are features; the raw reading
 * is kept as it came.
 */
const HIRAGANA_START = 0x3041
const HIRAGANA_END = 0x3096
const KANA_OFFSET = 0x60

export function toKatakana(text: string): string {
  let out = ''
  for (const ch of text) {
    const c = ch.codePointAt(0) as number
    out += c >= HIRAGANA_START && c <= HIRAGANA_END ? String.fromCodePoint(c + KANA_OFFSET) : ch
  }
  return out
}

export function toHiragana(text: string): string {
  let out = ''
  for (const ch of text) {
    const c = ch.codePointAt(0) as number
    out +=
      c >= HIRAGANA_START + KANA_OFFSET && c <= HIRAGANA_END + KANA_OFFSET
        ? String.fromCodePoint(c - KANA_OFFSET)
        : ch
  }
  return out
}

/** The reading in one form: full-width katakana, no spaces. */
export function kanaReading(raw: string): string {
  return toKatakana(compactName(raw))
}

const LOOSE: Readonly<Record<string, string>> = {
  ァ: 'ア',
  ィ: 'イ',
  ゥ: 'ウ',
  ェ: 'エ',
  ォ: 'オ',
  ッ: 'ツ',
  ャ: 'ヤ',
  ュ: 'ユ',
  ョ: 'ヨ',
  ヮ: 'ワ',
  ヵ: 'カ',
  ヶ: 'ケ',
  ヂ: 'ジ',
  ヅ: 'ズ',
  ヲ: 'オ',
  ヴ: 'ブ',
  ヰ: 'イ',
  ヱ: 'エ',
}

/** The reading with small/large, long-vowel and old-kana differences folded away. */
export function looseKana(reading: string): string {
  let out = ''
  for (const ch of reading) {
    if (ch === 'ー') continue
    out += LOOSE[ch] ?? ch
  }
  return out
}
