import { readdirSync, readFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import Encoding from 'encoding-japanese'

/**
 * The canary scan: does any identifying string of the synthetic data (`truth/canaries.txt`) appear in
 * a file — as UTF-8 text or in a Parquet file's decoded strings, and as the bytes of its Shift_JIS
 * (CP932), ISO-2022-JP or UTF-16 form?
 *
 * A canary counts where it stands as a word of its own: not inside a longer run of the same script
 * (橋本病 is a disease, not the surname 橋本; アキ inside セフトリアキソン is a drug; 5012 inside a
 * 9-digit drug code is that code). Birth dates are left out of the scan: a shifted event date falls on
 * somebody's birthday by chance; that no released date is a source date is checked where dates are
 * (the drug-safety use). Encoded forms are looked for as raw bytes, where a word has no edges:
 * those of at least 6 bytes, since a shorter byte string turns up by chance in megabytes of
 * compressed data and pixels.
 */
const DATE_FORMS = [
  /^\d{4}-\d{2}-\d{2}$/,
  /^(19|20)\d{6}$/,
  /^\d{4}\/\d{2}\/\d{2}$/,
  /^(明治|大正|昭和|平成|令和)(元|\d{1,2})年\d{1,2}月\d{1,2}日$/,
  /^[1-5]\d{6}$/,
]

export function scannedCanaries(text: string): string[] {
  return [
    ...new Set(
      text
        .split('\n')
        .map((l) => l.replace(/\r$/, ''))
        .filter((l) => l.trim() !== '' && !DATE_FORMS.some((f) => f.test(l))),
    ),
  ]
}

type Script = 'alnum' | 'kanji' | 'katakana' | 'hiragana' | 'other'

/** Digits and Latin letters are one class: ６０ in 錠６０ｍｇ is part of a dose, not a code. */
function scriptOf(c: string | undefined): Script {
  if (c === undefined) return 'other'
  if (/[0-9０-９A-Za-zＡ-Ｚａ-ｚ]/.test(c)) return 'alnum'
  if (/[\u4e00-\u9fff\u3400-\u4dbf々〆]/.test(c)) return 'kanji'
  if (/[\u30a0-\u30ff\uff66-\uff9fー]/.test(c)) return 'katakana'
  if (/[\u3040-\u309f]/.test(c)) return 'hiragana'
  return 'other'
}

/** Where `canary` stands as a word of its own in `text`. */
export function findWord(text: string, canary: string): number {
  const first = scriptOf(canary[0])
  const last = scriptOf(canary.at(-1))
  for (let at = text.indexOf(canary); at >= 0; at = text.indexOf(canary, at + 1)) {
    const before = scriptOf(text[at - 1])
    const after = scriptOf(text[at + canary.length])
    const joinedBefore = first !== 'other' && before === first
    const joinedAfter = last !== 'other' && after === last
    if (!joinedBefore && !joinedAfter) return at
  }
  return -1
}

const MIN_ENCODED_BYTES = 6

/** The canary's bytes in the other encodings, as Latin-1 strings (one character per byte). */
function encodedForms(canary: string): string[] {
  const unicode = Encoding.stringToCode(canary)
  const utf8 = Buffer.from(canary, 'utf8').toString('latin1')
  return [
    Buffer.from(Encoding.convert(unicode, { to: 'SJIS', from: 'UNICODE' })).toString('latin1'),
    Buffer.from(Encoding.convert(unicode, { to: 'JIS', from: 'UNICODE' })).toString('latin1'),
    Buffer.from(canary, 'utf16le').toString('latin1'),
  ].filter((form, i, all) => form.length >= MIN_ENCODED_BYTES && form !== utf8 && all.indexOf(form) === i)
}

export function* filesBelow(dir: string): Generator<string> {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) yield* filesBelow(path)
    else yield path
  }
}

/** A Parquet file's values and metadata as text (its pages are compressed: the bytes say nothing). */
export async function parquetStrings(bytes: Buffer): Promise<string> {
  const { parquetMetadata, parquetReadObjects } = await import('hyparquet')
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
  const rows = (await parquetReadObjects({ file })) as Array<Record<string, unknown>>
  const metadata = parquetMetadata(file)
  return [
    ...rows.map((r) => Object.values(r).join('\t')),
    JSON.stringify(metadata.key_value_metadata ?? []),
    metadata.schema.map((s) => s.name).join('\t'),
  ].join('\n')
}

/**
 * Aho–Corasick over UTF-16 code units: every canary's occurrences in one pass over a text, however
 * many canaries there are (a scan of thousands of strings over megabytes of files).
 */
class Matcher {
  readonly #next: Array<Map<number, number>> = [new Map()]
  readonly #fail: number[] = [0]
  readonly #out: number[][] = [[]]
  readonly patterns: readonly string[]

  readonly #words: boolean

  /** `words`: a match counts only as a word of its own (text); otherwise anywhere (bytes). */
  constructor(patterns: readonly string[], words = true) {
    this.patterns = patterns
    this.#words = words
    patterns.forEach((p, index) => {
      let state = 0
      for (let i = 0; i < p.length; i++) {
        const c = p.charCodeAt(i)
        let to = this.#next[state]?.get(c)
        if (to === undefined) {
          to = this.#next.length
          this.#next.push(new Map())
          this.#fail.push(0)
          this.#out.push([])
          this.#next[state]?.set(c, to)
        }
        state = to
      }
      this.#out[state]?.push(index)
    })
    const queue: number[] = [...(this.#next[0] as Map<number, number>).values()]
    while (queue.length > 0) {
      const state = queue.shift() as number
      for (const [c, to] of this.#next[state] as Map<number, number>) {
        queue.push(to)
        let f = this.#fail[state] as number
        while (f !== 0 && !this.#next[f]?.has(c)) f = this.#fail[f] as number
        const target = this.#next[f]?.get(c)
        this.#fail[to] = target !== undefined && target !== to ? target : 0
        this.#out[to]?.push(...(this.#out[this.#fail[to] as number] as number[]))
      }
    }
  }

  /** Indexes of the patterns found as words of their own. */
  find(text: string): Set<number> {
    const found = new Set<number>()
    let state = 0
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i)
      while (state !== 0 && !this.#next[state]?.has(c)) state = this.#fail[state] as number
      state = this.#next[state]?.get(c) ?? 0
      for (const p of this.#out[state] as number[]) {
        if (found.has(p)) continue
        const pattern = this.patterns[p] as string
        const start = i - pattern.length + 1
        if (!this.#words || findWord(text.slice(Math.max(0, start - 1), i + 2), pattern) >= 0) found.add(p)
      }
    }
    return found
  }
}

/** Every canary found, as `file: canary (form)` (an empty list is a clean scan). */
export async function scanForCanaries(dir: string, canaries: readonly string[]): Promise<string[]> {
  const words = new Matcher(canaries)
  const forms: string[] = []
  const formOf: number[] = []
  canaries.forEach((c, i) => {
    for (const form of encodedForms(c)) {
      forms.push(form)
      formOf.push(i)
    }
  })
  const bytesMatcher = new Matcher(forms, false)
  const found: string[] = []
  for (const path of filesBelow(dir)) {
    const bytes = readFileSync(path)
    const texts = [path.endsWith('.parquet') ? await parquetStrings(bytes) : bytes.toString('utf8')]
    const hits = new Map<number, string>()
    for (const text of texts) for (const p of words.find(text)) hits.set(p, 'text')
    for (const f of bytesMatcher.find(bytes.toString('latin1'))) hits.set(formOf[f] as number, 'encoded')
    for (const [p, form] of hits) found.push(`${relative(dir, path)}: ${canaries[p]} (${form})`)
  }
  return found
}
