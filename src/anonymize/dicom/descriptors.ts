import type { Tokenizer } from 'kuromoji'
import { type PatientContext, scrubTextWith } from '../text/scrub.js'
import { charsetOf, decodeText, encodeText } from './charset.js'
import { asciiOf, type RawElement } from './part10.js'

/**
 * The Clean Descriptors Option (PS3.15 E.3.5) done by cleaning, not removing: a descriptor the
 * profile marks C (Study Description, Series Description, Image Comments …) goes through the
 * Japanese text scrubber, with the object's own identifiers as the patient context — every person
 * name it holds (patient, physicians, operators, in every component group), the patient's IDs,
 * address, phone and birth date, the accession number and the institution — so that 「佐藤様 術後」
 * in a description is found even where no dictionary would. A value that cannot be decoded or
 * encoded back in the object's character set, or no longer fits its VR, is removed.
 */

/** Descriptor VRs and the characters a value may hold (PS3.5 Table 6.2-1); 0: no limit. */
const TEXT_VRS: ReadonlyMap<string, number> = new Map([
  ['SH', 16],
  ['LO', 64],
  ['ST', 1024],
  ['LT', 10240],
  ['UT', 0],
  ['UC', 0],
])
/** VRs whose values a backslash separates (the others may hold one). */
const MULTI_VALUED = new Set(['SH', 'LO', 'UC'])

export const isDescriptorVr = (vr: string): boolean => TEXT_VRS.has(vr)

const ID_TAGS = new Set([0x00100020, 0x00101000, 0x00080050, 0x00101002])
const ADDRESS_TAGS = new Set([0x00101040, 0x00080081])
const PHONE_TAGS = new Set([0x00102154])
const DATE_TAGS = new Set([0x00100030])
const INSTITUTION_TAGS = new Set([0x00080080])

interface Context {
  readonly patient: PatientContext
  readonly institutions: string[]
}

function emptyContext(): {
  names: string[]
  ids: string[]
  addresses: string[]
  phones: string[]
  dates: string[]
  institutions: string[]
} {
  return { names: [], ids: [], addresses: [], phones: [], dates: [], institutions: [] }
}

/** A person name value's names: every component group, each as written (^ between components). */
const namesOf = (value: string) =>
  value
    .split('\\')
    .flatMap((v) => v.split('='))
    .map((n) => n.replace(/\^+$/, '').trim())
    .filter((n) => n.length >= 2)

function scrubValues(tokenizer: Tokenizer, context: Context, text: string, vr: string): string | undefined {
  const limit = TEXT_VRS.get(vr) ?? 0
  const values = MULTI_VALUED.has(vr) ? text.split('\\') : [text]
  const cleaned = values.map(
    (v) =>
      scrubTextWith(tokenizer, v.trim(), { patient: context.patient, institutions: context.institutions })
        .text,
  )
  if (limit > 0 && cleaned.some((v) => [...v].length > limit)) return undefined
  return cleaned.join('\\')
}

/** Cleans descriptors of an object read by our own reader: bytes in, bytes out (undefined: remove). */
export function rawDescriptorCleaner(
  tokenizer: Tokenizer,
  dataset: readonly RawElement[],
): (value: Uint8Array, vr: string) => Uint8Array | undefined {
  const charset = charsetOf(asciiOf(dataset.find((e) => e.tag === 0x00080005)?.value))
  if (!charset) return () => undefined
  let context: Context | undefined
  const build = (): Context => {
    const found = emptyContext()
    const walk = (elements: readonly RawElement[]) => {
      for (const e of elements) {
        if (e.items) {
          for (const item of e.items) walk(item)
          continue
        }
        if (!e.value) continue
        const text = decodeText(e.value, charset)?.replace(/[\0 ]+$/, '')
        if (!text) continue
        if (e.vr === 'PN') found.names.push(...namesOf(text))
        else if (ID_TAGS.has(e.tag)) found.ids.push(...text.split('\\').filter((v) => v.trim().length >= 4))
        else if (ADDRESS_TAGS.has(e.tag)) found.addresses.push(text)
        else if (PHONE_TAGS.has(e.tag)) found.phones.push(...text.split('\\'))
        else if (DATE_TAGS.has(e.tag)) found.dates.push(text)
        else if (INSTITUTION_TAGS.has(e.tag)) found.institutions.push(text.trim())
      }
    }
    walk(dataset)
    return { patient: found, institutions: found.institutions }
  }
  return (value, vr) => {
    const text = decodeText(value, charset)?.replace(/[\0 ]+$/, '')
    if (text === undefined) return undefined
    context ??= build()
    const cleaned = scrubValues(tokenizer, context, text, vr)
    return cleaned === undefined ? undefined : encodeText(cleaned, charset)
  }
}

type Dataset = Record<string, { vr: string; Value?: unknown[] }>

/** Cleans descriptors of an object dcmjs has read (text decoded; dcmjs writes it as UTF-8). */
export function textDescriptorCleaner(
  tokenizer: Tokenizer,
  dataset: Dataset,
): (values: readonly unknown[], vr: string) => unknown[] | undefined {
  const build = (): Context => {
    const found = emptyContext()
    const walk = (d: Dataset) => {
      for (const [key, e] of Object.entries(d)) {
        const tag = Number.parseInt(key, 16)
        for (const v of e.Value ?? []) {
          if (e.vr === 'SQ' && v && typeof v === 'object') walk(v as Dataset)
          else if (e.vr === 'PN' && v && typeof v === 'object')
            for (const group of Object.values(v as Record<string, string>))
              if (typeof group === 'string') found.names.push(...namesOf(group))
          if (typeof v !== 'string' || v.trim() === '') continue
          if (ID_TAGS.has(tag) && v.trim().length >= 4) found.ids.push(v.trim())
          else if (ADDRESS_TAGS.has(tag)) found.addresses.push(v)
          else if (PHONE_TAGS.has(tag)) found.phones.push(v)
          else if (DATE_TAGS.has(tag)) found.dates.push(v)
          else if (INSTITUTION_TAGS.has(tag)) found.institutions.push(v.trim())
        }
      }
    }
    walk(dataset)
    return { patient: found, institutions: found.institutions }
  }
  // Built now: the walk replaces names and IDs as it goes, and a descriptor may come after them.
  const context = build()
  return (values, vr) => {
    const out: unknown[] = []
    for (const v of values) {
      if (typeof v !== 'string') return undefined
      const cleaned = scrubValues(tokenizer, context, v, vr)
      if (cleaned === undefined) return undefined
      out.push(cleaned)
    }
    return out
  }
}
