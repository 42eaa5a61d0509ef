import { TokumeiError } from '../../model/index.js'

/**
 * HL7 v2 message parsing. The input is text: decode the bytes (ISO-2022-JP for SS-MIX2) *before*
 * calling this, since a JIS-encoded character can contain the byte of a delimiter (「京」 holds `~`).
 * Delimiters come from MSH-1/MSH-2; escape sequences are undone in every leaf value.
 */
export interface Hl7Delimiters {
  readonly field: string
  readonly component: string
  readonly repetition: string
  readonly escape: string
  readonly subcomponent: string
}

/** A field: repetitions of components of subcomponents, already unescaped. */
export type Hl7ParsedField = string[][][]

export interface Hl7ParsedSegment {
  readonly name: string
  /** Field `n` (1-based, as the standard numbers them), split and unescaped; field 0 is the name. */
  field(n: number): Hl7ParsedField
}

export interface Hl7Message {
  readonly delimiters: Hl7Delimiters
  readonly segments: readonly Hl7ParsedSegment[]
}

export class Hl7ParseError extends TokumeiError {
  constructor(message: string, details: Record<string, string | number>) {
    super(message, { code: 'hl7.parse', kind: 'invalid', details })
  }
}

function unescapeHl7(text: string, d: Hl7Delimiters): string {
  if (!text.includes(d.escape)) return text
  const e = d.escape
  let out = ''
  let i = 0
  while (i < text.length) {
    const c = text[i] as string
    if (c !== e) {
      out += c
      i++
      continue
    }
    const end = text.indexOf(e, i + 1)
    if (end < 0) {
      out += text.slice(i)
      break
    }
    const seq = text.slice(i + 1, end)
    switch (seq) {
      case 'F':
        out += d.field
        break
      case 'S':
        out += d.component
        break
      case 'R':
        out += d.repetition
        break
      case 'T':
        out += d.subcomponent
        break
      case 'E':
        out += d.escape
        break
      case '.br':
        out += '\n'
        break
      default:
        // Hex (\Xhh\) and character-set escapes are kept as written: SS-MIX2 does not use them.
        out += `${e}${seq}${e}`
    }
    i = end + 1
  }
  return out
}

function splitField(raw: string, d: Hl7Delimiters): Hl7ParsedField {
  return raw
    .split(d.repetition)
    .map((rep) =>
      rep.split(d.component).map((comp) => comp.split(d.subcomponent).map((sub) => unescapeHl7(sub, d))),
    )
}

/**
 * A segment keeps its fields as written and splits one only when it is read: a reader looks at a
 * few fields of each segment, and splitting all of them was most of the parsing time.
 */
class Segment implements Hl7ParsedSegment {
  readonly #split: (Hl7ParsedField | undefined)[] = []

  constructor(
    readonly name: string,
    readonly raw: readonly string[],
    readonly delimiters: Hl7Delimiters,
    /** MSH-1 and MSH-2 are the delimiters themselves and are kept verbatim. */
    readonly verbatim: number,
  ) {}

  field(n: number): Hl7ParsedField {
    const done = this.#split[n]
    if (done) return done
    const raw = this.raw[n]
    if (raw === undefined) return []
    const field = n <= this.verbatim ? [[[raw]]] : splitField(raw, this.delimiters)
    this.#split[n] = field
    return field
  }
}

/** Parses one message. Segments end in CR (LF and CRLF are tolerated); an empty line is skipped. */
export function parseHl7(text: string): Hl7Message {
  // An MLLP file separator (0x1C) may close the message, as in the SS-MIX2 guideline's samples.
  const body = text.endsWith('\u001c') ? text.slice(0, -1) : text
  const lines = body.split(/\r\n|\r|\n/).filter((l) => l.length > 0)
  const first = lines[0]
  if (!first?.startsWith('MSH') || first.length < 8) {
    throw new Hl7ParseError('The message does not start with an MSH segment.', { segment: 1 })
  }
  const delimiters: Hl7Delimiters = {
    field: first[3] as string,
    component: first[4] as string,
    repetition: first[5] as string,
    escape: first[6] as string,
    subcomponent: first[7] as string,
  }
  if (
    new Set(Object.values(delimiters)).size !== 5 ||
    /[A-Za-z0-9 ]/.test(Object.values(delimiters).join(''))
  ) {
    throw new Hl7ParseError('MSH-1/MSH-2 do not declare five distinct delimiter characters.', {
      segment: 1,
      field: 2,
    })
  }
  const segments = lines.map((line, index): Hl7ParsedSegment => {
    const name = line.slice(0, 3)
    if (!/^[A-Z][A-Z0-9]{2}$/.test(name) || (line.length > 3 && line[3] !== delimiters.field)) {
      throw new Hl7ParseError(
        `Segment ${index + 1} does not start with a segment name and a field separator.`,
        { segment: index + 1 },
      )
    }
    if (name === 'MSH') {
      // MSH-1 is the field separator itself and MSH-2 the encoding characters.
      const rest = line.slice(9).split(delimiters.field)
      return new Segment(name, [name, delimiters.field, line.slice(4, 8), ...rest], delimiters, 2)
    }
    return new Segment(name, line.split(delimiters.field), delimiters, 0)
  })
  return { delimiters, segments }
}

/** The first value of field `n`, repetition `r`, component `c`, subcomponent `s` (all 1-based), or ''. */
export function hl7Value(segment: Hl7ParsedSegment | undefined, n: number, c = 1, r = 1, s = 1): string {
  return segment?.field(n)[r - 1]?.[c - 1]?.[s - 1] ?? ''
}

/** Every repetition of field `n`, each as its components (first subcomponent of each). */
export function hl7Repetitions(segment: Hl7ParsedSegment | undefined, n: number): string[][] {
  return (segment?.field(n) ?? []).map((rep) => rep.map((comp) => comp[0] ?? ''))
}
