import { createRequire } from 'node:module'
import type DcmjsModule from 'dcmjs'
import { TokumeiError } from '../../model/index.js'

/**
 * A small DICOM Part 10 reader and writer for the little-endian transfer syntaxes (implicit and
 * explicit VR, and every compressed syntax, whose datasets are explicit VR little endian), for the
 * de-identifier's fast path: elements keep their bytes, so what the de-identifier does not touch —
 * pixel data above all, encapsulated or not — is copied as it came, and only what it changes is
 * encoded. Anything else (big endian, deflated, a structure that does not add up) is left to dcmjs.
 * PS3.5 §7 (data elements), §7.5 (sequences), A.4 (encapsulation); PS3.10 §7.1 (the file meta).
 */
export interface RawElement {
  readonly tag: number
  readonly vr: string
  /** The value's bytes (for a sequence: undefined; see `items`). */
  readonly value?: Uint8Array
  readonly items?: RawElement[][]
  /** The element as it was encoded, header and value: copied when present (a changed element has none). */
  readonly raw?: Uint8Array
}

export interface Part10 {
  /** The 128-byte preamble and "DICM". */
  readonly preamble: Uint8Array
  readonly meta: RawElement[]
  readonly dataset: RawElement[]
  readonly explicit: boolean
}

const IMPLICIT_LE = '1.2.840.10008.1.2'
const BIG_ENDIAN = '1.2.840.10008.1.2.2'
const DEFLATED = '1.2.840.10008.1.2.1.99'
const LONG_VRS = new Set(['OB', 'OD', 'OF', 'OL', 'OV', 'OW', 'SQ', 'UC', 'UN', 'UR', 'UT', 'SV', 'UV'])
const ITEM = 0xfffee000
const ITEM_END = 0xfffee00d
const SEQUENCE_END = 0xfffee0dd
const UNDEFINED = 0xffffffff

class Malformed extends Error {}

let dcmjs: typeof DcmjsModule | undefined

/**
 * dcmjs, loaded the first time a file needs it (an implicit-VR file's dictionary, or a file this
 * reader leaves to it): explicit-VR files never pay for loading it.
 */
export function loadDcmjs(): typeof DcmjsModule {
  if (!dcmjs) {
    dcmjs = createRequire(import.meta.url)('dcmjs') as typeof DcmjsModule
    dcmjs.log.setLevel('error')
    dcmjs.log.getLogger('validation.dcmjs').setLevel('silent')
  }
  return dcmjs
}

/** The VR of a tag in implicit VR, from the data dictionary (UN when unknown, US|SS … the first). */
function implicitVr(tag: number): string {
  const group = (tag >>> 16).toString(16).toUpperCase().padStart(4, '0')
  const element = (tag & 0xffff).toString(16).toUpperCase().padStart(4, '0')
  if ((tag & 0xffff) === 0) return 'UL'
  const entry = loadDcmjs().data.DicomMetaDictionary.dictionary[`(${group},${element})`]
  return entry?.vr?.split('|')[0]?.trim() || 'UN'
}

interface Cursor {
  readonly bytes: Uint8Array
  readonly view: DataView
  at: number
}

function readElements(cursor: Cursor, end: number, explicit: boolean, untilItemEnd: boolean): RawElement[] {
  const elements: RawElement[] = []
  while (cursor.at < end) {
    const start = cursor.at
    if (start + 8 > cursor.bytes.length) throw new Malformed(`truncated element at byte ${start}`)
    const tag = ((cursor.view.getUint16(start, true) << 16) | cursor.view.getUint16(start + 2, true)) >>> 0
    if (tag === ITEM_END) {
      cursor.at = start + 8
      if (untilItemEnd) return elements
      throw new Malformed(`item end outside an item at byte ${start}`)
    }
    let vr: string
    let length: number
    let header: number
    if (explicit) {
      vr = String.fromCharCode(cursor.bytes[start + 4] as number, cursor.bytes[start + 5] as number)
      if (!/^[A-Z]{2}$/.test(vr)) throw new Malformed(`not a VR at byte ${start}`)
      if (LONG_VRS.has(vr)) {
        length = cursor.view.getUint32(start + 8, true)
        header = 12
      } else {
        length = cursor.view.getUint16(start + 6, true)
        header = 8
      }
    } else {
      vr = implicitVr(tag)
      length = cursor.view.getUint32(start + 4, true)
      header = 8
    }
    const valueStart = start + header
    if (vr === 'SQ' || (length === UNDEFINED && vr !== 'OB' && vr !== 'OW' && tag !== 0x7fe00010)) {
      // A sequence (an undefined-length UN is one, encoded in implicit VR: PS3.5 6.2.2).
      const items: RawElement[][] = []
      const itemsExplicit = vr === 'UN' ? false : explicit
      cursor.at = valueStart
      const sequenceEnd = length === UNDEFINED ? cursor.bytes.length : valueStart + length
      if (sequenceEnd > cursor.bytes.length)
        throw new Malformed(`sequence longer than the file at byte ${start}`)
      while (cursor.at < sequenceEnd) {
        const itemTag =
          ((cursor.view.getUint16(cursor.at, true) << 16) | cursor.view.getUint16(cursor.at + 2, true)) >>> 0
        const itemLength = cursor.view.getUint32(cursor.at + 4, true)
        cursor.at += 8
        if (itemTag === SEQUENCE_END) break
        if (itemTag !== ITEM) throw new Malformed(`not an item at byte ${start}`)
        if (itemLength === UNDEFINED)
          items.push(readElements(cursor, cursor.bytes.length, itemsExplicit, true))
        else {
          const itemEnd = cursor.at + itemLength
          if (itemEnd > sequenceEnd) throw new Malformed(`item longer than its sequence at byte ${start}`)
          items.push(readElements(cursor, itemEnd, itemsExplicit, false))
          cursor.at = itemEnd
        }
      }
      if (length !== UNDEFINED) cursor.at = sequenceEnd
      elements.push({ tag, vr: 'SQ', items })
      continue
    }
    if (length === UNDEFINED) {
      // Encapsulated pixel data: fragments up to the sequence delimiter, kept as they are.
      let at = valueStart
      for (;;) {
        if (at + 8 > cursor.bytes.length) throw new Malformed('unterminated encapsulated data')
        const itemTag = ((cursor.view.getUint16(at, true) << 16) | cursor.view.getUint16(at + 2, true)) >>> 0
        const itemLength = cursor.view.getUint32(at + 4, true)
        at += 8
        if (itemTag === SEQUENCE_END) break
        if (itemTag !== ITEM || at + itemLength > cursor.bytes.length) throw new Malformed('bad fragment')
        at += itemLength
      }
      elements.push({ tag, vr, raw: cursor.bytes.subarray(start, at) })
      cursor.at = at
      continue
    }
    if (valueStart + length > cursor.bytes.length)
      throw new Malformed(`value longer than the file at byte ${start}`)
    elements.push({
      tag,
      vr,
      value: cursor.bytes.subarray(valueStart, valueStart + length),
      raw: cursor.bytes.subarray(start, valueStart + length),
    })
    cursor.at = valueStart + length
  }
  if (untilItemEnd) throw new Malformed('unterminated item')
  return elements
}

export const asciiOf = (value: Uint8Array | undefined): string =>
  value
    ? Buffer.from(value.buffer, value.byteOffset, value.byteLength)
        .toString('latin1')
        .replace(/[\0 ]+$/, '')
    : ''

/**
 * The file, or undefined when it is not one this reader takes (big endian, deflated, no transfer
 * syntax: dcmjs then tries). A file in a syntax this reader takes that does not add up is refused
 * here with what is wrong: handing it to a lenient reader gave, in the fuzz tests, half-read
 * objects and minutes of work on one damaged file.
 */
export function readPart10(bytes: Uint8Array): Part10 | undefined {
  if (bytes.length < 132 || asciiOf(bytes.subarray(128, 132)) !== 'DICM') return undefined
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  let syntax = ''
  let metaRead = false
  try {
    const cursor: Cursor = { bytes, view, at: 132 }
    // The meta group: explicit VR little endian, group 0002 only.
    const meta: RawElement[] = []
    while (cursor.at + 8 <= bytes.length && view.getUint16(cursor.at, true) === 0x0002) {
      const [element] = readElements({ ...cursor }, cursor.at + 1, true, false).slice(0, 1)
      // One element at a time: readElements stops at the first past `end`.
      if (!element) break
      meta.push(element)
      cursor.at += (element.raw as Uint8Array).length
    }
    metaRead = true
    syntax = asciiOf(meta.find((e) => e.tag === 0x00020010)?.value)
    if (!syntax || syntax === BIG_ENDIAN || syntax === DEFLATED) return undefined
    if (!/^[0-9.]+$/.test(syntax))
      throw new TokumeiError('the transfer syntax (0002,0010) is damaged: it is not a UID', {
        code: 'dicom.malformed',
        kind: 'invalid',
      })
    const explicit = syntax !== IMPLICIT_LE
    const dataset = readElements(cursor, bytes.length, explicit, false)
    return { preamble: bytes.subarray(0, 132), meta, dataset, explicit }
  } catch (error) {
    if (!(error instanceof Malformed || error instanceof RangeError)) throw error
    if (!syntax && !metaRead)
      throw new TokumeiError(
        `the file meta information (group 0002) does not parse (${error instanceof Malformed ? error.message : 'a length beyond the file'})`,
        { code: 'dicom.malformed', kind: 'invalid' },
      )
    if (!syntax || syntax === BIG_ENDIAN || syntax === DEFLATED) return undefined
    throw new TokumeiError(
      `the file does not parse (${error instanceof Malformed ? error.message : 'a length beyond the file'}; transfer syntax ${syntax})`,
      { code: 'dicom.malformed', kind: 'invalid' },
    )
  }
}

/** Encodes text for a value, padded to an even length (NUL for UIDs, space otherwise). */
export function textValue(vr: string, text: string): Uint8Array {
  const bytes = Buffer.from(text, 'latin1')
  if (bytes.length % 2 === 0) return bytes
  return Buffer.concat([bytes, Buffer.from([vr === 'UI' ? 0 : 0x20])])
}

class Writer {
  #chunks: Uint8Array[] = []
  length = 0
  push(bytes: Uint8Array) {
    this.#chunks.push(bytes)
    this.length += bytes.length
  }
  header(tag: number, vr: string, length: number, explicit: boolean) {
    const long = !explicit || LONG_VRS.has(vr)
    const out = Buffer.alloc(explicit ? (long ? 12 : 8) : 8)
    out.writeUInt16LE(tag >>> 16, 0)
    out.writeUInt16LE(tag & 0xffff, 2)
    if (!explicit) out.writeUInt32LE(length >>> 0, 4)
    else {
      out.write(vr, 4, 'latin1')
      if (long) out.writeUInt32LE(length >>> 0, 8)
      else out.writeUInt16LE(length, 6)
    }
    this.push(out)
  }
  bytes(): Uint8Array {
    return Buffer.concat(this.#chunks, this.length)
  }
}

function writeElements(writer: Writer, elements: readonly RawElement[], explicit: boolean): void {
  for (const element of [...elements].sort((a, b) => a.tag - b.tag)) {
    if (element.items) {
      // Sequences and items of undefined length: nothing to count.
      writer.header(element.tag, 'SQ', UNDEFINED, explicit)
      for (const item of element.items) {
        const head = Buffer.alloc(8)
        head.writeUInt32LE(0xe000fffe, 0)
        head.writeUInt32LE(UNDEFINED, 4)
        writer.push(head)
        writeElements(writer, item, explicit)
        const end = Buffer.alloc(8)
        end.writeUInt32LE(0xe00dfffe, 0)
        writer.push(end)
      }
      const end = Buffer.alloc(8)
      end.writeUInt32LE(0xe0ddfffe, 0)
      writer.push(end)
    } else if (element.raw) writer.push(element.raw)
    else {
      const value = element.value ?? new Uint8Array(0)
      writer.header(element.tag, element.vr, value.length, explicit)
      writer.push(value)
    }
  }
}

/** The file: preamble, the meta group with its length anew, the dataset. */
export function writePart10(file: Part10): Uint8Array {
  const meta = new Writer()
  writeElements(
    meta,
    file.meta.filter((e) => e.tag !== 0x00020000),
    true,
  )
  const group = Buffer.alloc(12)
  group.writeUInt16LE(0x0002, 0)
  group.writeUInt16LE(0x0000, 2)
  group.write('UL', 4, 'latin1')
  group.writeUInt16LE(4, 6)
  group.writeUInt32LE(meta.length, 8)
  const body = new Writer()
  writeElements(body, file.dataset, file.explicit)
  return Buffer.concat([file.preamble, group, meta.bytes(), body.bytes()])
}
