import { createRequire } from 'node:module'
import type EncodingModule from 'encoding-japanese'

/**
 * Text values of a DICOM object read and written in its Specific Character Set (PS3.5 §6.1, Annex
 * H for Japanese), for descriptors that are cleaned rather than removed: ASCII, Latin-1, UTF-8, and
 * the Japanese ISO 2022 sets — JIS X 0208 kanji and kana by ESC $ B (ISO 2022 IR 87), half-width
 * katakana in G1 (ISO 2022 IR 13), back to ASCII by ESC ( B before delimiters and at the end. A set
 * outside these, or bytes that do not decode, give undefined: the caller then removes the value.
 */
export type Charset =
  | { readonly kind: 'ascii' }
  | { readonly kind: 'latin1' }
  | { readonly kind: 'utf8' }
  | { readonly kind: 'iso2022jp'; readonly halfWidthKana: boolean }

const ISO2022_JAPANESE = new Set(['', 'ISO 2022 IR 6', 'ISO 2022 IR 87', 'ISO 2022 IR 13'])

/** The character set of a SpecificCharacterSet value (backslash-separated), if we handle it. */
export function charsetOf(value: string): Charset | undefined {
  const terms = value.split('\\').map((t) => t.trim().toUpperCase())
  if (terms.every((t) => t === '' || t === 'ISO_IR 6' || t === 'ISO 2022 IR 6')) return { kind: 'ascii' }
  if (terms.length === 1 && terms[0] === 'ISO_IR 100') return { kind: 'latin1' }
  if (terms.length === 1 && terms[0] === 'ISO_IR 192') return { kind: 'utf8' }
  if (terms.every((t) => ISO2022_JAPANESE.has(t)) && terms.includes('ISO 2022 IR 87'))
    return { kind: 'iso2022jp', halfWidthKana: terms.includes('ISO 2022 IR 13') }
  return undefined
}

const ESC = 0x1b
const utf8 = new TextDecoder('utf-8', { fatal: true })
const jis = new TextDecoder('iso-2022-jp', { fatal: true })

/** A value's bytes as text (padding kept), or undefined when they do not decode in the set. */
export function decodeText(bytes: Uint8Array, charset: Charset): string | undefined {
  switch (charset.kind) {
    case 'ascii':
      return bytes.every((b) => b < 0x80) ? Buffer.from(bytes).toString('latin1') : undefined
    case 'latin1':
      return Buffer.from(bytes).toString('latin1')
    case 'utf8':
      try {
        return utf8.decode(bytes)
      } catch {
        return undefined
      }
    case 'iso2022jp':
      return decodeIso2022(bytes, charset.halfWidthKana)
  }
}

function decodeIso2022(bytes: Uint8Array, halfWidthKana: boolean): string | undefined {
  let out = ''
  let kanji = false
  let run: number[] = []
  const flush = () => {
    if (run.length === 0) return true
    try {
      out += jis.decode(Uint8Array.from([ESC, 0x24, 0x42, ...run, ESC, 0x28, 0x42]))
    } catch {
      return false
    }
    run = []
    return true
  }
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number
    if (b === ESC) {
      const [a, c] = [bytes[i + 1], bytes[i + 2]]
      if (a === 0x24 && (c === 0x42 || c === 0x40)) kanji = true
      else if (a === 0x28 && (c === 0x42 || c === 0x4a)) {
        if (!flush()) return undefined
        kanji = false
      } else if (a === 0x29 && c === 0x49) {
        // G1 designated as JIS X 0201 katakana: the bytes that follow say the rest.
      } else return undefined
      i += 2
    } else if (b >= 0xa1 && b <= 0xdf) {
      if (!halfWidthKana || !flush()) return undefined
      out += String.fromCharCode(0xff61 + b - 0xa1)
    } else if (kanji) run.push(b)
    else if (b < 0x80) out += String.fromCharCode(b)
    else return undefined
  }
  return flush() ? out : undefined
}

const below = (text: string, limit: number) => {
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) >= limit) return false
  return true
}

/** Text as a value's bytes in the set, padded to even length with a space; undefined if it cannot be. */
export function encodeText(text: string, charset: Charset): Uint8Array | undefined {
  let bytes: Uint8Array | undefined
  switch (charset.kind) {
    case 'ascii':
      bytes = below(text, 0x80) ? Buffer.from(text, 'latin1') : undefined
      break
    case 'latin1':
      bytes = below(text, 0x100) ? Buffer.from(text, 'latin1') : undefined
      break
    case 'utf8':
      bytes = Buffer.from(text, 'utf8')
      break
    case 'iso2022jp':
      bytes = encodeIso2022(text, charset.halfWidthKana)
      break
  }
  if (!bytes || bytes.length % 2 === 0) return bytes
  return Buffer.concat([bytes, Buffer.from([0x20])])
}

let encoding: typeof EncodingModule | undefined

/** encoding-japanese's tables, loaded the first time a value is written in ISO 2022. */
const jisTables = (): typeof EncodingModule => {
  encoding ??= createRequire(import.meta.url)('encoding-japanese') as typeof EncodingModule
  return encoding
}

function encodeIso2022(text: string, halfWidthKana: boolean): Uint8Array | undefined {
  const Encoding = jisTables()
  const out: number[] = []
  let kanji = false
  for (const ch of text) {
    const c = ch.codePointAt(0) as number
    if (c < 0x80) {
      if (kanji) out.push(ESC, 0x28, 0x42)
      kanji = false
      out.push(c)
    } else if (c >= 0xff61 && c <= 0xff9f && halfWidthKana) out.push(0xa1 + c - 0xff61)
    else {
      const code = Encoding.convert(Encoding.stringToCode(ch), { to: 'JIS', from: 'UNICODE' })
      // One JIS X 0208 character: ESC $ B, two bytes, ESC ( B; anything else is not in the set.
      if (code.length !== 8 || code[0] !== ESC || code[1] !== 0x24 || code[2] !== 0x42) return undefined
      if (!kanji) out.push(ESC, 0x24, 0x42)
      kanji = true
      out.push(code[3] as number, code[4] as number)
    }
  }
  if (kanji) out.push(ESC, 0x28, 0x42)
  return Uint8Array.from(out)
}
