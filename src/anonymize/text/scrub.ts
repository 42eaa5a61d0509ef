import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type KuromojiModule from 'kuromoji'
import type { Tokenizer } from 'kuromoji'

/**
 * Japanese free text scrubbed of what identifies a person, each found span replaced by a typed
 * placeholder (［氏名］, ［住所］, ［電話］ …). Three kinds of evidence, strongest first:
 *
 * 1. the patient's own identifiers (every form of their and their family's names, address, phones,
 *    IDs, birth date), when the caller has them — the vault, for a release;
 * 2. patterns: phone numbers, postal codes, dates in every Japanese form (和暦 too), ages over 89,
 *    ID-like numbers, e-mail addresses, addresses from a prefecture on, hospital names;
 * 3. kuromoji's IPADIC analysis: proper nouns that are person names, and the words before a title
 *    (さん, 様, 氏, 先生) or after a label (氏名：, 主治医：).
 *
 * Matching runs on a copy of the text with full-width letters, digits and hyphens folded to ASCII
 * one character for one, so every span found there is the same span of the original.
 */
export type SpanKind = '氏名' | '住所' | '電話' | '郵便番号' | '日付' | '年齢' | 'ID' | 'メール' | '医療機関'

export interface Span {
  readonly start: number
  readonly end: number
  readonly kind: SpanKind
}

/** What the caller knows of the patient (and family), for exact matches in every form. */
export interface PatientContext {
  readonly names?: readonly string[]
  readonly addresses?: readonly string[]
  readonly phones?: readonly string[]
  readonly ids?: readonly string[]
  readonly dates?: readonly string[]
}

export interface ScrubOptions {
  readonly patient?: PatientContext
  /** Names of institutions (the registry), found as they are written. */
  readonly institutions?: readonly string[]
  /**
   * Dates moved by this many days, written as they were (和暦 stays 和暦), instead of ［日付］: the
   * person's offset, so that intervals stay exact. A date without a year is still replaced.
   */
  readonly dateOffset?: number
}

/** Full-width ASCII (letters, digits, punctuation) to ASCII, one character for one. */
export function foldWidth(text: string): string {
  let out = ''
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c >= 0xff01 && c <= 0xff5e) out += String.fromCharCode(c - 0xfee0)
    else if (c === 0x3000) out += ' '
    else if (
      c === 0x2010 ||
      c === 0x2011 ||
      c === 0x2012 ||
      c === 0x2013 ||
      c === 0x2212 ||
      (c === 0x30fc && /\d/.test(text[i - 1] ?? '') && /\d/.test(text[i + 1] ?? ''))
    )
      out += '-'
    else out += text[i]
  }
  return out
}

const PREFECTURE =
  '(?:北海道|東京都|京都府|大阪府|青森県|岩手県|宮城県|秋田県|山形県|福島県|茨城県|栃木県|群馬県|埼玉県|千葉県|神奈川県|新潟県|富山県|石川県|福井県|山梨県|長野県|岐阜県|静岡県|愛知県|三重県|滋賀県|兵庫県|奈良県|和歌山県|鳥取県|島根県|岡山県|広島県|山口県|徳島県|香川県|愛媛県|高知県|福岡県|佐賀県|長崎県|熊本県|大分県|宮崎県|鹿児島県|沖縄県)'
const ERA = '(?:明治|大正|昭和|平成|令和|[MTSHR])'

/** Patterns, most specific first: an earlier pattern's span wins over a later one's. */
const PATTERNS: ReadonlyArray<readonly [SpanKind, RegExp]> = [
  ['メール', /[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/g],
  ['郵便番号', /〒\s?\d{3}-?\d{4}|\b\d{3}-\d{4}\b(?=\s*(?:北海道|東京都|京都府|大阪府|\S{2,3}県))/g],
  ['住所', new RegExp(`${PREFECTURE}[^\\s、。,（）()「」：:]*?\\d+(?:-\\d+)*(?:番地?|号)?`, 'g')],
  ['電話', /(?:\+81[- ]?)?\(?0\d{1,4}\)?[- ]?\d{1,4}[- ]\d{3,4}|\b0\d{9,10}\b/g],
  [
    '日付',
    new RegExp(
      `${ERA}\\s?(?:元|\\d{1,2})[年.\\/]\\s?\\d{1,2}[月.\\/]\\s?\\d{1,2}日?|\\d{4}\\s?年\\s?\\d{1,2}\\s?月(?:\\s?\\d{1,2}\\s?日)?|\\d{4}[/.-]\\d{1,2}[/.-]\\d{1,2}|\\d{1,2}\\s?月\\s?\\d{1,2}\\s?日`,
      'g',
    ),
  ],
  ['年齢', /(?:9\d|1[0-4]\d)\s?歳/g],
  [
    '医療機関',
    /[\p{Script=Han}\p{Script=Katakana}\p{Script=Hiragana}ー]+(?:大学病院|病院|医院|クリニック|診療所|医療センター)/gu,
  ],
  ['ID', /\b[A-Za-z]{0,3}\d{6,}\b/g],
]

/**
 * 「同病院」「他医院」: one character before the suffix that points rather than names (北クリニック
 * names). 「近くの病院」 is still replaced: a hospital's name missed costs more than words lost.
 */
const NOT_A_NAME = /^[当同前他本各大小某元旧新近]?(?:大学病院|病院|医院|クリニック|診療所|医療センター)$/u

/** Labels whose value up to the line's end (or a bracket) is a person's name. */
const NAME_LABEL =
  /(?:患者氏名|氏名|患者名|主治医|担当医|記載医|記載者|執刀医|紹介医|医師|看護師)\s*[:：]\s*/g
const TITLES = new Set(['さん', '様', 'さま', '氏', '先生', '君', 'ちゃん', '殿'])

let tokenizer: Promise<Tokenizer> | undefined

/** kuromoji with its IPADIC dictionary, loaded once (about a second). */
export function loadTokenizer(): Promise<Tokenizer> {
  tokenizer ??= new Promise((resolve, reject) => {
    // Required here, not imported: code that only may scrub (DICOM's workers) does not load it.
    const require = createRequire(import.meta.url)
    const kuromoji = require('kuromoji') as typeof KuromojiModule
    const dicPath = join(dirname(require.resolve('kuromoji/package.json')), 'dict')
    kuromoji.builder({ dicPath }).build((error, built) => (error ? reject(error) : resolve(built)))
  })
  return tokenizer
}

const KATAKANA_START = 0x30a1
const HIRAGANA_START = 0x3041

/** The forms a name is written in: as given, without spaces, and its kana in both scripts. */
function nameForms(name: string): string[] {
  const compact = name.replace(/[\s\u3000^]/g, '')
  const forms = new Set([name, compact, ...name.split(/[\s\u3000^]+/)])
  for (const form of [...forms]) {
    forms.add(form.normalize('NFKC'))
    forms.add(
      [...form]
        .map((ch) => {
          const c = ch.codePointAt(0) as number
          return c >= KATAKANA_START && c <= 0x30f6
            ? String.fromCodePoint(c - 0x60)
            : c >= HIRAGANA_START && c <= 0x3096
              ? String.fromCodePoint(c + 0x60)
              : ch
        })
        .join(''),
    )
  }
  // A lone given name or surname of one character matches too much; two or more are kept.
  return [...forms].filter((f) => f.length >= 2)
}

function contextSpans(folded: string, context: PatientContext): Span[] {
  const spans: Span[] = []
  const find = (needle: string, kind: SpanKind) => {
    const n = foldWidth(needle).trim()
    if (n.length < 2) return
    for (let at = folded.indexOf(n); at >= 0; at = folded.indexOf(n, at + 1))
      spans.push({ start: at, end: at + n.length, kind })
  }
  for (const name of context.names ?? []) for (const form of nameForms(name)) find(form, '氏名')
  for (const address of context.addresses ?? []) find(address, '住所')
  for (const phone of context.phones ?? []) find(phone, '電話')
  for (const id of context.ids ?? []) find(id, 'ID')
  for (const date of context.dates ?? []) find(date, '日付')
  return spans
}

function patternSpans(folded: string, institutions: readonly string[]): Span[] {
  const spans: Span[] = []
  for (const [kind, pattern] of PATTERNS)
    for (const match of folded.matchAll(pattern))
      if (kind !== '医療機関' || !NOT_A_NAME.test(match[0]))
        spans.push({ start: match.index, end: match.index + match[0].length, kind })
  for (const name of institutions)
    for (let at = folded.indexOf(name); name.length >= 2 && at >= 0; at = folded.indexOf(name, at + 1))
      spans.push({ start: at, end: at + name.length, kind: '医療機関' })
  // A labelled name: up to a bracket, a title, a comma or the end of the line.
  for (const match of folded.matchAll(RELATIVE)) {
    const start = match.index + match[0].length - (match[1] as string).length
    spans.push({ start, end: start + (match[1] as string).length, kind: '氏名' })
  }
  for (const match of folded.matchAll(NAME_LABEL)) {
    const start = match.index + match[0].length
    const rest =
      /^[^\n（(、,]*?(?=\s*(?:[（(\n、,]|様|さん|$)|\s{2,}|\s[\p{Script=Han}]{2,}(?:病院|科))/u.exec(
        folded.slice(start),
      )
    if (rest && rest[0].trim().length > 0) spans.push({ start, end: start + rest[0].length, kind: '氏名' })
  }
  return spans
}

/** Relatives and others named beside the patient: 「妻 山口畔成様」「長男の橋本邦夫さん」. */
const RELATIVE =
  /(?:妻|夫|長男|次男|三男|長女|次女|三女|息子|娘|父|母|兄|弟|姉|妹|孫|祖父|祖母|配偶者|家族|友人|知人|キーパーソン)の?[\s\u3000]?([^\s\u3000、。（）()「」：:]{2,10}?)(?=様|さん|氏|さま)/gu

/** What follows a person's name in the name of a disease, sign or method (高安動脈炎, パーキンソン病). */
const EPONYM_SUFFIX =
  /^(?:病|症候群|症|動脈炎|甲状腺炎|脳症|脳炎|病変|徴候|反射|分類|型|腫|潰瘍|骨折|法|試験|手術)/

function tokenSpans(text: string, tokens: ReturnType<Tokenizer['tokenize']>): Span[] {
  const spans: Span[] = []
  let position = 0
  const starts = tokens.map((t) => {
    const at = text.indexOf(t.surface_form, position)
    position = at >= 0 ? at + t.surface_form.length : position
    return at
  })
  const proper = (i: number) => tokens[i]?.pos === '名詞' && tokens[i]?.pos_detail_1 === '固有名詞'
  const personal = (i: number) => proper(i) && tokens[i]?.pos_detail_2 === '人名'
  const noun = (i: number) =>
    tokens[i]?.pos === '名詞' && tokens[i]?.pos_detail_1 !== '代名詞' && tokens[i]?.pos_detail_1 !== '数'
  const spanOf = (from: number, to: number): Span | undefined => {
    const start = starts[from] as number
    const last = tokens[to]
    if (start < 0 || !last || (starts[to] as number) < 0) return undefined
    return { start, end: (starts[to] as number) + last.surface_form.length, kind: '氏名' }
  }
  tokens.forEach((token, i) => {
    // A person's name, with the proper nouns beside it (「山口」 is also a place: 「山口 愛斗」).
    if (personal(i)) {
      let from = i
      let to = i
      while (from > 0 && proper(from - 1)) from--
      while (to + 1 < tokens.length && proper(to + 1)) to++
      const span = spanOf(from, to)
      // 高安動脈炎, 橋本病, 川崎病: a disease named after a person or place names nobody.
      if (span && !EPONYM_SUFFIX.test(text.slice(span.end, span.end + 5))) spans.push(span)
    }
    // The nouns just before a title are a name, whatever the dictionary thinks of them.
    if (TITLES.has(token.surface_form) && i > 0 && noun(i - 1)) {
      let from = i - 1
      while (from > 0 && noun(from - 1) && i - from < 4) from--
      const span = spanOf(from, i - 1)
      if (span) spans.push(span)
    }
  })
  return spans
}

/** A reading in brackets right after a name: 「［氏名］（ヤマグチ アイト）」. */
function readingSpans(text: string, names: readonly Span[]): Span[] {
  const spans: Span[] = []
  for (const name of names) {
    const match = /^[\s\u3000]*[（(]([\p{Script=Katakana}\p{Script=Hiragana}ー\s\u3000・]+)[）)]/u.exec(
      text.slice(name.end),
    )
    if (match) {
      const open = name.end + match[0].indexOf(match[1] as string)
      spans.push({ start: open, end: open + (match[1] as string).length, kind: '氏名' })
    }
  }
  return spans
}

/** Merges overlapping spans (the earlier-listed kind wins a tie of start) and joins adjacent names. */
function merge(spans: Span[], text: string): Span[] {
  const sorted = [...spans].sort((a, b) => a.start - b.start || b.end - a.end)
  const out: Span[] = []
  for (const span of sorted) {
    const last = out.at(-1)
    const gap = last ? text.slice(last.end, span.start) : ''
    if (
      last &&
      (span.start < last.end || (last.kind === '氏名' && span.kind === '氏名' && /^[\s\u3000]*$/.test(gap)))
    )
      out[out.length - 1] = { ...last, end: Math.max(last.end, span.end) }
    else out.push(span)
  }
  return out
}

/** The spans to replace in `text`. */
export async function findSpans(text: string, options: ScrubOptions = {}): Promise<Span[]> {
  return findSpansWith(await loadTokenizer(), text, options)
}

/** `findSpans` with a tokenizer already loaded: synchronous, for callers that cannot wait (DICOM). */
export function findSpansWith(tokenizer: Tokenizer, text: string, options: ScrubOptions = {}): Span[] {
  const folded = foldWidth(text)
  const tokens = tokenizer.tokenize(text)
  const found = merge(
    [
      ...(options.patient ? contextSpans(folded, options.patient) : []),
      ...patternSpans(folded, options.institutions ?? []),
      ...tokenSpans(text, tokens),
    ],
    text,
  )
  return merge(
    [
      ...found,
      ...readingSpans(
        text,
        found.filter((s) => s.kind === '氏名'),
      ),
    ],
    text,
  )
}

/**
 * The eras of 和暦: name, letter, the Gregorian year of its first year, and the first day shifted
 * in it (明治 only from 1873, when Japan took up the Gregorian calendar).
 */
const ERAS: ReadonlyArray<readonly [name: string, letter: string, firstYear: number, start: string]> = [
  ['令和', 'R', 2019, '2019-05-01'],
  ['平成', 'H', 1989, '1989-01-08'],
  ['昭和', 'S', 1926, '1926-12-25'],
  ['大正', 'T', 1912, '1912-07-30'],
  ['明治', 'M', 1868, '1873-01-01'],
]

const DAY = 86_400_000

/** A date span of the (width-folded) text moved by `offset` days, in its own form; undefined if it has no year. */
export function shiftJapaneseDate(written: string, offset: number): string | undefined {
  const text = foldWidth(written)
  const era =
    /^(明治|大正|昭和|平成|令和|[MTSHR])\s?(元|\d{1,2})([年./])\s?(\d{1,2})([月./])\s?(\d{1,2})(日?)$/.exec(
      text,
    )
  const western = /^(\d{4})(\s?年\s?|[/.-])(\d{1,2})(\s?月\s?|[/.-])(\d{1,2})(\s?日)?$/.exec(text)
  let year: number
  let month: number
  let day: number
  if (era) {
    const found = ERAS.find(([name, letter]) => era[1] === name || era[1] === letter)
    if (!found) return undefined
    year = found[2] + (era[2] === '元' ? 1 : Number(era[2])) - 1
    month = Number(era[4])
    day = Number(era[6])
  } else if (western) {
    year = Number(western[1])
    month = Number(western[3])
    day = Number(western[5])
  } else return undefined
  const time = Date.UTC(year, month - 1, day)
  const check = new Date(time)
  if (check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) return undefined
  if (era && check.toISOString().slice(0, 10) < (ERAS.at(-1)?.[3] as string)) return undefined
  const moved = new Date(time + offset * DAY)
  const [y, m, d] = [moved.getUTCFullYear(), moved.getUTCMonth() + 1, moved.getUTCDate()]
  if (era) {
    const iso = moved.toISOString().slice(0, 10)
    const target = ERAS.find(([, , , start]) => iso >= start)
    if (!target) return undefined
    const eraYear = y - target[2] + 1
    const letter = /^[MTSHR]$/.test(era[1] as string)
    const name = letter ? target[1] : target[0]
    // A first year written with an era's name reads 元年; with its letter (R1.5.1) it stays a number.
    const yearText = eraYear === 1 && !letter && era[3] === '年' ? '元' : String(eraYear)
    return `${name}${yearText}${era[3]}${m}${era[5]}${d}${era[7]}`
  }
  // Keep the written form: its separators, and two-digit fields where the original had them.
  const [, , sep1, monthText, sep2, dayText, suffix] = western as RegExpExecArray
  const fields = [monthText, dayText] as string[]
  const padded =
    fields.some((f) => f.startsWith('0')) ||
    (/^[/.-]$/.test(sep1 as string) && fields.every((f) => f.length === 2))
  const like = (n: number) => (padded ? String(n).padStart(2, '0') : String(n))
  return `${y}${sep1}${like(m)}${sep2}${like(d)}${suffix ?? ''}`
}

/** The text with every span replaced by its placeholder (or a date shifted, when asked). */
export async function scrubText(
  text: string,
  options: ScrubOptions = {},
): Promise<{ text: string; spans: Span[] }> {
  return scrubTextWith(await loadTokenizer(), text, options)
}

/** `scrubText` with a tokenizer already loaded (synchronous). */
export function scrubTextWith(
  tokenizer: Tokenizer,
  text: string,
  options: ScrubOptions = {},
): { text: string; spans: Span[] } {
  const spans = findSpansWith(tokenizer, text, options)
  let out = ''
  let at = 0
  for (const span of spans) {
    const shifted =
      span.kind === '日付' && options.dateOffset !== undefined
        ? shiftJapaneseDate(text.slice(span.start, span.end), options.dateOffset)
        : undefined
    out += `${text.slice(at, span.start)}${shifted ?? `［${span.kind}］`}`
    at = span.end
  }
  return { text: out + text.slice(at), spans }
}
