import { createHmac } from 'node:crypto'
import type { Tokenizer } from 'kuromoji'
import { TokumeiError } from '../../model/index.js'
import { dateOffset, pseudonym } from '../transform/transform.js'
import { type Action, type DicomOption, resolveAction } from './actions.js'
import { isDescriptorVr, rawDescriptorCleaner, textDescriptorCleaner } from './descriptors.js'
import { asciiOf, loadDcmjs, type RawElement, readPart10, textValue, writePart10 } from './part10.js'
import {
  type BurnedInRule,
  blankRegions,
  type ImageIdentity,
  matchingRule,
  NATIVE_SYNTAXES,
  type PixelLayout,
} from './pixels.js'
import { creatorsOf, type PrivateAllowed, privateKeeper } from './private.js'
import { PROFILE, PROFILE_SOURCE } from './profile.js'

/**
 * DICOM de-identification by the Basic Application Level Confidentiality Profile (PS3.15 Annex E)
 * and its options, on one Part 10 object in memory. Every attribute of Table E.1-1 gets its action
 * (generated table, `profile.ts`); private attributes (odd groups) are removed; sequences are
 * processed item by item, at every depth; UIDs are replaced by 2.25 UIDs derived from the release key
 * by HMAC, so that every object of a study keeps pointing at the same study, series and instances
 * within a release, and no two releases share one; dates are shifted by the person's offset (the
 * same function as the tables' date shift) under Retain Longitudinal Temporal Information with
 * Modified Dates. Objects that may carry text burned into the pixels are withheld for review, unless
 * a configured rule says where the text is and the pixel data is native: then it is blanked there.
 */

interface Element {
  vr: string
  Value?: unknown[]
  InlineBinary?: string
}
type Dataset = Record<string, Element>

export interface DeidOptions {
  /** The release key: UIDs and date offsets derive from it (32 bytes). */
  readonly key: Uint8Array
  readonly options?: ReadonlySet<DicomOption>
  /** Date shifts span ± this many days (the policy's `date-shift.days`). */
  readonly shiftDays?: number
  /** Withhold objects that may have burned-in text (default true); false keeps them with a warning. */
  readonly withholdBurnedIn?: boolean
  /** Private attributes to keep, by creator and offset (everything else private is removed). */
  readonly privateAllowList?: readonly PrivateAllowed[]
  /** Where burned-in text is on which images: blanked there (Clean Pixel Data), not withheld. */
  readonly burnedInRules?: readonly BurnedInRule[]
  /**
   * kuromoji, loaded (`loadTokenizer`): needed by clean-descriptors, whose descriptors go through
   * the text scrubber (de-identification is synchronous; the caller waits for the dictionary once).
   */
  readonly tokenizer?: Tokenizer
  /** The file's own bytes changed in place where it can (default); false always goes through dcmjs. */
  readonly fastPath?: boolean
  /**
   * The person the object belongs to, as a release knows them: the patient ID becomes this pseudonym
   * and dates move by this offset, the same as in the release's tables (default: both derived from
   * the key and the patient ID the hospital sent).
   */
  readonly person?: { readonly pseudonym: string; readonly offset: number }
}

export type DeidOutcome =
  | {
      readonly status: 'deidentified'
      readonly bytes: Uint8Array
      readonly studyUid: string
      readonly seriesUid: string
      readonly instanceUid: string
      /** Attributes removed, emptied, replaced … (counts by action), for the report. */
      readonly actions: Readonly<Record<string, number>>
      readonly privateRemoved: number
      /** Private attributes kept by the allow-list. */
      readonly privateKept: number
      /** The regions of a burned-in rule were blanked. */
      readonly pixelsCleaned: boolean
    }
  | { readonly status: 'withheld'; readonly reason: string }

const BIG_ENDIAN = '1.2.840.10008.1.2.2'

/** CID 7050: what blanking the pixels of a rule's regions is. */
const CLEAN_PIXEL_DATA = ['113101', 'Clean Pixel Data Option'] as const

/** What to do with the pixels: nothing, blank a rule's regions, or withhold the object (and why). */
type PixelPlan =
  | { readonly kind: 'keep' }
  | { readonly kind: 'blank'; readonly rule: BurnedInRule; readonly label: string }
  | { readonly kind: 'withhold'; readonly reason: string }

function pixelPlan(
  reason: string | undefined,
  image: ImageIdentity,
  native: boolean,
  settings: DeidOptions,
): PixelPlan {
  const rule = matchingRule(settings.burnedInRules, image)
  const withhold = settings.withholdBurnedIn !== false
  if (rule) {
    const index = (settings.burnedInRules ?? []).indexOf(rule) + 1
    const label = rule.name ? `rule ${index} (${rule.name})` : `rule ${index}`
    if (native) return { kind: 'blank', rule, label }
    return withhold
      ? { kind: 'withhold', reason: `${label} applies, but compressed pixel data is not blanked` }
      : { kind: 'keep' }
  }
  return reason && withhold ? { kind: 'withhold', reason } : { kind: 'keep' }
}

/**
 * The CID 7050 codes of what was done: the basic profile, each option chosen, Retain Safe Private
 * when the allow-list kept something, Clean Pixel Data when a rule's regions were blanked.
 */
function methodCodes(
  options: ReadonlySet<DicomOption>,
  walk: { readonly privateKept: number },
  pixelsCleaned: boolean,
): ReadonlyArray<readonly [string, string, string]> {
  return [
    ...METHOD_CODES.filter(
      ([option]) =>
        option === 'basic' ||
        options.has(option) ||
        (option === 'retain-safe-private' && walk.privateKept > 0),
    ),
    ...(pixelsCleaned ? [['pixels', ...CLEAN_PIXEL_DATA] as const] : []),
  ]
}

/** Options that contradict each other (PS3.15 E.3). */
const EXCLUSIVE: ReadonlyArray<readonly [DicomOption, DicomOption]> = [
  ['retain-long-full-dates', 'retain-long-modified-dates'],
]

/** When several enabled options name an attribute, the first in this order decides. */
const PRECEDENCE: readonly DicomOption[] = [
  'retain-uids',
  'retain-long-full-dates',
  'retain-long-modified-dates',
  'retain-patient-characteristics',
  'retain-device-identity',
  'retain-institution-identity',
  'clean-structured-content',
  'clean-graphics',
  'clean-descriptors',
  'retain-safe-private',
]

/** CID 7050 De-identification Method codes (PS3.16). */
const METHOD_CODES: ReadonlyArray<readonly [DicomOption | 'basic', string, string]> = [
  ['basic', '113100', 'Basic Application Confidentiality Profile'],
  ['clean-graphics', '113103', 'Clean Graphics Option'],
  ['clean-structured-content', '113104', 'Clean Structured Content Option'],
  ['clean-descriptors', '113105', 'Clean Descriptors Option'],
  ['retain-long-full-dates', '113106', 'Retain Longitudinal Temporal Information Full Dates Option'],
  ['retain-long-modified-dates', '113107', 'Retain Longitudinal Temporal Information Modified Dates Option'],
  ['retain-patient-characteristics', '113108', 'Retain Patient Characteristics Option'],
  ['retain-device-identity', '113109', 'Retain Device Identity Option'],
  ['retain-uids', '113110', 'Retain UIDs Option'],
  ['retain-safe-private', '113111', 'Retain Safe Private Option'],
  ['retain-institution-identity', '113112', 'Retain Institution Identity Option'],
]

const EXACT = new Map(PROFILE.filter(([tag]) => /^[0-9a-f]{8}$/.test(tag)).map((row) => [row[0], row]))
const PATTERNS = PROFILE.filter(([tag]) => tag !== 'private' && !/^[0-9a-f]{8}$/.test(tag)).map((row) => ({
  row,
  matches: new RegExp(`^${row[0].replace(/x/g, '[0-9a-f]')}$`),
}))

type Row = (typeof PROFILE)[number]
/** Each tag's row once found (most tags of an object are in no row, and would try every pattern). */
const ROWS = new Map<string, Row | null>()

function profileRow(tag: string): Row | undefined {
  const known = ROWS.get(tag)
  if (known !== undefined) return known ?? undefined
  const key = tag.toLowerCase()
  const row = EXACT.get(key) ?? PATTERNS.find((p) => p.matches.test(key))?.row
  // Tags are few (the dictionary's, and an object's private ones, which never get here).
  if (ROWS.size < 100_000) ROWS.set(tag, row ?? null)
  return row
}

export function checkOptions(options: ReadonlySet<DicomOption>): void {
  for (const [a, b] of EXCLUSIVE)
    if (options.has(a) && options.has(b))
      throw new TokumeiError(`The options ${a} and ${b} exclude each other: choose one.`, {
        code: 'dicom.options',
        kind: 'invalid',
      })
}

/** Per key, the persons' pseudonyms and offsets already derived (a person has many objects). */
const PERSON_CACHE = new WeakMap<Uint8Array, Map<string, string | number>>()

function cachedPerKey<T extends string | number>(key: Uint8Array, name: string, derive: () => T): T {
  let cache = PERSON_CACHE.get(key)
  if (!cache) {
    cache = new Map()
    PERSON_CACHE.set(key, cache)
  }
  const known = cache.get(name)
  if (known !== undefined) return known as T
  const value = derive()
  if (cache.size >= UID_CACHE_SIZE) cache.clear()
  cache.set(name, value)
  return value
}

/** The person's pseudonym in this release (the tables' function, remembered). */
const personPseudonym = (key: Uint8Array, patientId: string) =>
  cachedPerKey(key, `p\u0000${patientId}`, () => pseudonym(key, patientId))

/** The person's date offset (keyed on the patient ID as the hospital sent it). */
const personOffset = (key: Uint8Array, person: string, days: number) =>
  cachedPerKey(key, `o\u0000${days}\u0000${person}`, () => dateOffset(key, `dicom\u0000${person}`, days))

/** Replacements already derived, per key: a study's UIDs recur in every one of its objects. */
const UID_CACHE = new WeakMap<Uint8Array, Map<string, string>>()
const UID_CACHE_SIZE = 50_000

/** The 2.25 UID that stands for `uid` under the key (its first 128 bits of HMAC, in decimal). */
export function replacementUid(key: Uint8Array, uid: string): string {
  const trimmed = uid.trim()
  let cache = UID_CACHE.get(key)
  if (!cache) {
    cache = new Map()
    UID_CACHE.set(key, cache)
  }
  const known = cache.get(trimmed)
  if (known) return known
  const digest = createHmac('sha256', key).update(`tokumei.dicom-uid\u0000${trimmed}`).digest()
  const replacement = `2.25.${BigInt(`0x${digest.subarray(0, 16).toString('hex')}`).toString(10)}`
  if (cache.size >= UID_CACHE_SIZE) cache.clear()
  cache.set(trimmed, replacement)
  return replacement
}

const DUMMY: Readonly<Record<string, unknown>> = {
  PN: { Alphabetic: 'ANONYMIZED' },
  DA: '19000101',
  TM: '000000',
  DT: '19000101000000',
  AS: '000Y',
  UI: '2.25.0',
  CS: 'ANONYMIZED',
  SH: 'ANONYMIZED',
  LO: 'ANONYMIZED',
  ST: 'ANONYMIZED',
  LT: 'ANONYMIZED',
  UT: 'ANONYMIZED',
  UC: 'ANONYMIZED',
  AE: 'ANONYMIZED',
  IS: '0',
  DS: '0',
  US: 0,
  SS: 0,
  UL: 0,
  SL: 0,
  FL: 0,
  FD: 0,
}

const SECONDARY_CAPTURE = '1.2.840.10008.5.1.4.1.1.7'
const ULTRASOUND = [
  '1.2.840.10008.5.1.4.1.1.6.1',
  '1.2.840.10008.5.1.4.1.1.6.2',
  '1.2.840.10008.5.1.4.1.1.3.1',
]

const first = (element: Element | undefined): unknown => element?.Value?.[0]
const textOf = (element: Element | undefined): string | undefined => {
  const value = first(element)
  return typeof value === 'string' ? value.trim() : undefined
}

/** Why an object may carry text burned into its pixels, if it may. */
export function burnedInReason(dataset: Dataset): string | undefined {
  if (textOf(dataset['00280301'])?.toUpperCase() === 'YES') return 'BurnedInAnnotation is YES'
  const sopClass = textOf(dataset['00080016']) ?? ''
  if (sopClass === SECONDARY_CAPTURE || sopClass.startsWith(`${SECONDARY_CAPTURE}.`))
    return 'a secondary capture image'
  if (ULTRASOUND.includes(sopClass) || textOf(dataset['00080060']) === 'US') return 'an ultrasound image'
  return undefined
}

/** Shifted dates already computed: an object's dates are mostly one day, a study's too. */
const SHIFTED = new Map<string, string>()

function shiftDa(value: string, offset: number): string {
  const key = `${offset}\u0000${value}`
  const known = SHIFTED.get(key)
  if (known !== undefined) return known
  const shifted = shiftDaNow(value, offset)
  if (SHIFTED.size >= 100_000) SHIFTED.clear()
  SHIFTED.set(key, shifted)
  return shifted
}

function shiftDaNow(value: string, offset: number): string {
  const v = value.trim()
  const match = /^(\d{4})(\d{2})(\d{2})$/.exec(v)
  if (!match) return ''
  const date = new Date(
    Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])) + offset * 86_400_000,
  )
  return date.toISOString().slice(0, 10).replaceAll('-', '')
}

interface Walk {
  readonly key: Uint8Array
  readonly options: ReadonlySet<DicomOption>
  readonly offset: number
  readonly pseudonym?: string
  readonly actions: Record<string, number>
  privateRemoved: number
  privateKept: number
  readonly privateAllowed?: readonly PrivateAllowed[]
  /** Clean Descriptors: a C descriptor's bytes (or dcmjs values) scrubbed; undefined: removed. */
  readonly descriptorRaw?: (value: Uint8Array, vr: string) => Uint8Array | undefined
  readonly descriptorText?: (values: readonly unknown[], vr: string) => unknown[] | undefined
}

function scrubberFor(settings: DeidOptions, options: ReadonlySet<DicomOption>): Tokenizer | undefined {
  if (!options.has('clean-descriptors')) return undefined
  if (!settings.tokenizer)
    throw new TokumeiError(
      'clean-descriptors cleans descriptors with the text scrubber: load it first (loadTokenizer) and pass it as `tokenizer`.',
      { code: 'dicom.no_scrubber', kind: 'invalid' },
    )
  return settings.tokenizer
}

/**
 * The groups a dataset's standard attributes are in (PS3.6): an even group outside them holds no
 * standard attribute, so nothing says what it holds.
 */
const STANDARD_GROUPS = new Set([
  // Not 0000 (command elements) nor 0002 (the file meta): neither belongs in a dataset.
  0x0004, 0x0008, 0x0010, 0x0012, 0x0014, 0x0018, 0x0020, 0x0022, 0x0024, 0x0028, 0x0032, 0x0034, 0x0038,
  0x003a, 0x0040, 0x0042, 0x0044, 0x0046, 0x0048, 0x0050, 0x0052, 0x0054, 0x0060, 0x0062, 0x0064, 0x0066,
  0x0068, 0x006a, 0x0070, 0x0072, 0x0074, 0x0076, 0x0078, 0x007a, 0x007c, 0x0080, 0x0082, 0x0088, 0x0100,
  0x0400, 0x1000, 0x1010, 0x2000, 0x2010, 0x2020, 0x2030, 0x2040, 0x2050, 0x2100, 0x2110, 0x2120, 0x2130,
  0x2200, 0x3002, 0x3004, 0x3006, 0x3008, 0x300a, 0x300c, 0x300e, 0x4000, 0x4008, 0x4010, 0x4ffe, 0x5200,
  0x5400, 0x5600, 0x7fe0, 0xfffa, 0xfffc,
])

/** The VRs the data dictionary gives each tag (null: it knows no such attribute), looked up once. */
const DICTIONARY_VRS = new Map<number, readonly string[] | null>()

function dictionaryVrs(tag: number): readonly string[] | null {
  const known = DICTIONARY_VRS.get(tag)
  if (known !== undefined) return known
  const hex = (n: number) => n.toString(16).toUpperCase().padStart(4, '0')
  const [group, element] = [hex(tag >>> 16), hex(tag & 0xffff)]
  const dictionary = loadDcmjs().data.DicomMetaDictionary.dictionary as Record<
    string,
    { vr?: string } | undefined
  >
  const entry = dictionary[`(${group},${element})`] ?? dictionary[`(${group.slice(0, 2)}xx,${element})`]
  const vrs = entry?.vr ? entry.vr.split(/[|\s]+/).filter(Boolean) : null
  if (DICTIONARY_VRS.size < 100_000) DICTIONARY_VRS.set(tag, vrs)
  return vrs
}

/**
 * An attribute the table does not list is kept (the profile's rule for standard attributes) —
 * unless nothing says it is one: a person's name all the same (PN), a group length (stale once
 * anything changes), a tag in no group of a dataset or unknown to the data dictionary, or a VR the
 * dictionary does not give it (a damaged tag: the fuzz test turned (0010,0020) into (0068,0020)
 * and the patient ID went through). Such an attribute is removed.
 */
function unlisted(tag: number, vr: string): boolean {
  if (vr === 'PN' || (tag & 0xffff) === 0) return true
  const group = tag >>> 16
  const repeating = (group >= 0x5000 && group <= 0x50ff) || (group >= 0x6000 && group <= 0x60ff)
  if (!STANDARD_GROUPS.has(group) && !repeating) return true
  const vrs = dictionaryVrs(tag)
  if (!vrs) return true
  if (vr === 'UN' || vrs.includes(vr)) return false
  if (vrs.includes('ox') && (vr === 'OB' || vr === 'OW')) return false
  if (vrs.includes('xs') && (vr === 'US' || vr === 'SS')) return false
  return true
}

function actionFor(tag: string, walk: Walk): Action | undefined {
  const row = profileRow(tag)
  if (!row) return undefined
  const [, , basic, options] = row
  for (const option of PRECEDENCE) {
    const action = options?.[option]
    if (action && walk.options.has(option)) return resolveAction(action)
  }
  return resolveAction(basic)
}

/** Replaces every UI value in a dataset (and its sequences) by its 2.25 stand-in. */
function replaceUids(dataset: Dataset, walk: Walk): void {
  for (const element of Object.values(dataset)) {
    if (element.vr === 'UI' && element.Value)
      element.Value = element.Value.map((v) =>
        typeof v === 'string' && v.trim() !== '' ? replacementUid(walk.key, v) : v,
      )
    else if (element.vr === 'SQ')
      for (const item of (element.Value ?? []) as Dataset[]) replaceUids(item, walk)
  }
}

function clean(element: Element, walk: Walk): 'kept' | 'removed' {
  if (element.vr === 'DA' && walk.options.has('retain-long-modified-dates')) {
    element.Value = (element.Value ?? []).map((v) => (typeof v === 'string' ? shiftDa(v, walk.offset) : v))
    return 'kept'
  }
  if (element.vr === 'DT' && walk.options.has('retain-long-modified-dates')) {
    element.Value = (element.Value ?? []).map((v) =>
      typeof v === 'string' && v.length >= 8 ? `${shiftDa(v.slice(0, 8), walk.offset)}${v.slice(8)}` : v,
    )
    return 'kept'
  }
  // A time of day keeps its value: the shift is whole days.
  if (element.vr === 'TM') return 'kept'
  // A descriptor under Clean Descriptors goes through the text scrubber; any other C text, or one
  // the scrubber cannot give back, is removed.
  if (isDescriptorVr(element.vr) && walk.descriptorText) {
    const cleaned = walk.descriptorText(element.Value ?? [], element.vr)
    if (cleaned) {
      element.Value = cleaned
      return 'kept'
    }
  }
  return 'removed'
}

function deidentifyDataset(dataset: Dataset, walk: Walk): void {
  const keepPrivate = walk.privateAllowed
    ? privateKeeper(
        walk.privateAllowed,
        creatorsOf(
          Object.entries(dataset).map(([t, e]) => [Number.parseInt(t, 16) >>> 0, textOf(e)] as const),
        ),
        Object.keys(dataset).map((t) => Number.parseInt(t, 16) >>> 0),
      )
    : () => false
  for (const tag of Object.keys(dataset)) {
    const element = dataset[tag] as Element
    const group = Number.parseInt(tag.slice(0, 4), 16)
    if (group % 2 === 1) {
      if (keepPrivate(Number.parseInt(tag, 16) >>> 0)) {
        walk.privateKept++
        if (element.vr === 'SQ')
          for (const item of (element.Value ?? []) as Dataset[]) deidentifyDataset(item, walk)
        continue
      }
      delete dataset[tag]
      walk.privateRemoved++
      continue
    }
    const action = actionFor(tag, walk)
    const count = (name: string) => {
      walk.actions[name] = (walk.actions[name] ?? 0) + 1
    }
    if (action === undefined) {
      if (unlisted(Number.parseInt(tag, 16) >>> 0, element.vr)) {
        delete dataset[tag]
        count('unlisted')
        continue
      }
      // Not in the table: kept, but its sequences' items are de-identified all the same.
      if (element.vr === 'SQ')
        for (const item of (element.Value ?? []) as Dataset[]) deidentifyDataset(item, walk)
      continue
    }
    count(action)
    switch (action) {
      case 'X':
        delete dataset[tag]
        break
      case 'Z':
        element.Value = []
        break
      case 'D':
        // The patient ID becomes the person's pseudonym in this release (one per patient, so a
        // recipient can still tell one patient's images from another's); other values a dummy.
        if (tag === '00100020' && typeof first(element) === 'string' && textOf(element) !== '')
          element.Value = [walk.pseudonym ?? personPseudonym(walk.key, textOf(element) as string)]
        else
          element.Value =
            element.vr === 'SQ' ? [] : DUMMY[element.vr] === undefined ? [] : [DUMMY[element.vr]]
        break
      case 'K':
        if (element.vr === 'SQ')
          for (const item of (element.Value ?? []) as Dataset[]) deidentifyDataset(item, walk)
        break
      case 'U':
        if (element.vr === 'SQ')
          for (const item of (element.Value ?? []) as Dataset[]) {
            deidentifyDataset(item, walk)
            replaceUids(item, walk)
          }
        else if (element.Value)
          element.Value = element.Value.map((v) =>
            typeof v === 'string' && v.trim() !== '' ? replacementUid(walk.key, v) : v,
          )
        break
      case 'C':
        if (element.vr === 'SQ')
          for (const item of (element.Value ?? []) as Dataset[]) deidentifyDataset(item, walk)
        else if (clean(element, walk) === 'removed') delete dataset[tag]
        break
    }
  }
}

/** The bytes a dataset's values take, roughly (strings by length, binary by size, items inside). */
function valueBytes(dataset: Dataset): number {
  let total = 0
  for (const element of Object.values(dataset))
    for (const value of element.Value ?? []) {
      if (value instanceof ArrayBuffer) total += value.byteLength
      else if (ArrayBuffer.isView(value)) total += value.byteLength
      else if (typeof value === 'string') total += value.length
      else if (element.vr === 'SQ' && value && typeof value === 'object')
        total += valueBytes(value as Dataset)
      else total += 8
    }
  return total
}

function codeItem(code: string, meaning: string): Dataset {
  return {
    '00080100': { vr: 'SH', Value: [code] },
    '00080102': { vr: 'SH', Value: ['DCM'] },
    '00080104': { vr: 'LO', Value: [meaning] },
  }
}

/** Dummy values as bytes (PS3.15 E.1.1: D, a value consistent with the VR). */
function dummyBytes(vr: string): Uint8Array {
  switch (vr) {
    case 'US':
    case 'SS':
      return new Uint8Array(2)
    case 'UL':
    case 'SL':
    case 'FL':
      return new Uint8Array(4)
    case 'FD':
      return new Uint8Array(8)
    case 'PN':
    case 'CS':
    case 'SH':
    case 'LO':
    case 'ST':
    case 'LT':
    case 'UT':
    case 'UC':
    case 'AE':
      return textValue(vr, 'ANONYMIZED')
    default: {
      const dummy = DUMMY[vr]
      return typeof dummy === 'string' ? textValue(vr, dummy) : new Uint8Array(0)
    }
  }
}

const hexTag = (tag: number) => tag.toString(16).padStart(8, '0')
const changed = (element: RawElement, value: Uint8Array): RawElement => ({
  tag: element.tag,
  vr: element.vr,
  value,
})

function rawUids(element: RawElement, walk: Walk): RawElement {
  const uids = asciiOf(element.value)
    .split('\\')
    .map((v) => (v.trim() === '' ? v : replacementUid(walk.key, v)))
  return changed(element, textValue('UI', uids.join('\\')))
}

function replaceRawUids(items: readonly RawElement[][], walk: Walk): RawElement[][] {
  return items.map((item) =>
    item.map((e) =>
      e.items
        ? { tag: e.tag, vr: 'SQ', items: replaceRawUids(e.items, walk) }
        : e.vr === 'UI' && e.value?.length
          ? rawUids(e, walk)
          : e,
    ),
  )
}

function cleanRaw(element: RawElement, walk: Walk): RawElement | undefined {
  if ((element.vr === 'DA' || element.vr === 'DT') && walk.options.has('retain-long-modified-dates')) {
    const values = asciiOf(element.value)
      .split('\\')
      .map((v) =>
        element.vr === 'DA'
          ? shiftDa(v, walk.offset)
          : v.length >= 8
            ? `${shiftDa(v.slice(0, 8), walk.offset)}${v.slice(8)}`
            : v,
      )
    return changed(element, textValue(element.vr, values.join('\\')))
  }
  if (element.vr === 'TM') return element
  if (isDescriptorVr(element.vr) && walk.descriptorRaw && element.value) {
    const cleaned = walk.descriptorRaw(element.value, element.vr)
    if (cleaned) return changed(element, cleaned)
  }
  return undefined
}

function deidentifyRaw(elements: readonly RawElement[], walk: Walk): RawElement[] {
  const out: RawElement[] = []
  const keepPrivate = walk.privateAllowed
    ? privateKeeper(
        walk.privateAllowed,
        creatorsOf(elements.map((e) => [e.tag, e.value ? asciiOf(e.value) : undefined] as const)),
        elements.map((e) => e.tag),
      )
    : () => false
  for (const element of elements) {
    if ((element.tag >>> 16) % 2 === 1) {
      if (keepPrivate(element.tag)) {
        walk.privateKept++
        out.push(
          element.items
            ? { tag: element.tag, vr: 'SQ', items: element.items.map((i) => deidentifyRaw(i, walk)) }
            : element,
        )
      } else walk.privateRemoved++
      continue
    }
    const action = actionFor(hexTag(element.tag), walk)
    if (action === undefined) {
      if (unlisted(element.tag, element.vr)) {
        walk.actions.unlisted = (walk.actions.unlisted ?? 0) + 1
        continue
      }
      out.push(
        element.items
          ? { tag: element.tag, vr: 'SQ', items: element.items.map((i) => deidentifyRaw(i, walk)) }
          : element,
      )
      continue
    }
    walk.actions[action] = (walk.actions[action] ?? 0) + 1
    switch (action) {
      case 'X':
        break
      case 'Z':
        out.push(
          element.items ? { tag: element.tag, vr: 'SQ', items: [] } : changed(element, new Uint8Array(0)),
        )
        break
      case 'D':
        if (element.items) out.push({ tag: element.tag, vr: 'SQ', items: [] })
        else if (element.tag === 0x00100020 && asciiOf(element.value).trim() !== '')
          out.push(
            changed(
              element,
              textValue('LO', walk.pseudonym ?? personPseudonym(walk.key, asciiOf(element.value).trim())),
            ),
          )
        else out.push(changed(element, dummyBytes(element.vr)))
        break
      case 'K':
        out.push(
          element.items
            ? { tag: element.tag, vr: 'SQ', items: element.items.map((i) => deidentifyRaw(i, walk)) }
            : element,
        )
        break
      case 'U':
        if (element.items)
          out.push({
            tag: element.tag,
            vr: 'SQ',
            items: replaceRawUids(
              element.items.map((i) => deidentifyRaw(i, walk)),
              walk,
            ),
          })
        else out.push(element.value?.length ? rawUids(element, walk) : element)
        break
      case 'C': {
        if (element.items)
          out.push({ tag: element.tag, vr: 'SQ', items: element.items.map((i) => deidentifyRaw(i, walk)) })
        else {
          const cleaned = cleanRaw(element, walk)
          if (cleaned) out.push(cleaned)
        }
        break
      }
    }
  }
  return out
}

/** What the file says of itself, from raw elements (the fast path's view of `burnedInReason`). */
function rawBurnedIn(elements: readonly RawElement[]): string | undefined {
  const text = (tag: number) => asciiOf(elements.find((e) => e.tag === tag)?.value).trim()
  const dataset: Dataset = {}
  for (const [tag, key] of [
    [0x00280301, '00280301'],
    [0x00080016, '00080016'],
    [0x00080060, '00080060'],
  ] as const)
    dataset[key] = { vr: 'CS', Value: [text(tag)] }
  return burnedInReason(dataset)
}

/** The fast path: the file's own bytes, changed only where the profile says (undefined: use dcmjs). */
function deidentifyPart10(
  bytes: Uint8Array,
  settings: DeidOptions,
  options: ReadonlySet<DicomOption>,
): DeidOutcome | undefined {
  const file = readPart10(bytes)
  if (!file) return undefined
  refuseDirectory(asciiOf(file.meta.find((e) => e.tag === 0x00020002)?.value).trim())
  const charset = asciiOf(file.dataset.find((e) => e.tag === 0x00080005)?.value)
  if (!/^[A-Z0-9_ \\-]*$/.test(charset))
    throw new TokumeiError(
      'the Specific Character Set (0008,0005) is damaged: it holds characters no defined term has',
      {
        code: 'dicom.malformed',
        kind: 'invalid',
      },
    )
  const text = (tag: number) => asciiOf(file.dataset.find((e) => e.tag === tag)?.value).trim()
  const number = (tag: number, fallback: number) => {
    const element = file.dataset.find((e) => e.tag === tag)
    const value = element?.value
    if (!value || value.length === 0) return fallback
    if (element.vr === 'US')
      return value.length >= 2 ? (value[0] as number) | ((value[1] as number) << 8) : fallback
    const parsed = Number(asciiOf(value).trim())
    return Number.isFinite(parsed) ? parsed : fallback
  }
  const image: ImageIdentity = {
    modality: text(0x00080060),
    manufacturer: text(0x00080070),
    model: text(0x00081090),
    sopClass: text(0x00080016),
    rows: number(0x00280010, 0),
    columns: number(0x00280011, 0),
  }
  const syntax = asciiOf(file.meta.find((e) => e.tag === 0x00020010)?.value).trim()
  const plan = pixelPlan(rawBurnedIn(file.dataset), image, NATIVE_SYNTAXES.has(syntax), settings)
  if (plan.kind === 'withhold') return { status: 'withheld', reason: plan.reason }
  let blanked: RawElement | undefined
  if (plan.kind === 'blank') {
    const element = file.dataset.find((e) => e.tag === 0x7fe00010)
    if (!element?.value)
      return { status: 'withheld', reason: `${plan.label} applies, but the object has no native pixel data` }
    const pixels = element.value.slice()
    const layout: PixelLayout = {
      rows: image.rows,
      columns: image.columns,
      samplesPerPixel: number(0x00280002, 1),
      bitsAllocated: number(0x00280100, 0),
      planarConfiguration: number(0x00280006, 0),
      frames: number(0x00280008, 1),
      photometric: text(0x00280004),
    }
    const why = blankRegions(pixels, layout, plan.rule.regions)
    if (why && settings.withholdBurnedIn !== false)
      return { status: 'withheld', reason: `${plan.label} applies, but ${why}` }
    if (!why) blanked = changed(element, pixels)
  }
  const person = text(0x00100020) || text(0x0020000d)
  const scrubber = scrubberFor(settings, options)
  const walk: Walk = {
    key: settings.key,
    options,
    offset: settings.person?.offset ?? personOffset(settings.key, person, settings.shiftDays ?? 365),
    pseudonym: settings.person?.pseudonym,
    actions: {},
    privateRemoved: 0,
    privateKept: 0,
    privateAllowed: settings.privateAllowList,
    descriptorRaw: scrubber ? rawDescriptorCleaner(scrubber, file.dataset) : undefined,
  }
  const dataset = deidentifyRaw(file.dataset, walk).map((e) =>
    blanked && e.tag === 0x7fe00010 ? blanked : e,
  )
  const used = methodCodes(options, walk, blanked !== undefined)
  const item = (code: string, meaning: string): RawElement[] => [
    { tag: 0x00080100, vr: 'SH', value: textValue('SH', code) },
    { tag: 0x00080102, vr: 'SH', value: textValue('SH', 'DCM') },
    { tag: 0x00080104, vr: 'LO', value: textValue('LO', meaning) },
  ]
  const added: RawElement[] = [
    { tag: 0x00120062, vr: 'CS', value: textValue('CS', 'YES') },
    { tag: 0x00120063, vr: 'LO', value: textValue('LO', `tokumei; ${PROFILE_SOURCE}`.slice(0, 64)) },
    { tag: 0x00120064, vr: 'SQ', items: used.map(([, code, meaning]) => item(code, meaning)) },
    {
      tag: 0x00280303,
      vr: 'CS',
      value: textValue(
        'CS',
        options.has('retain-long-full-dates')
          ? 'UNMODIFIED'
          : options.has('retain-long-modified-dates')
            ? 'MODIFIED'
            : 'REMOVED',
      ),
    },
    ...(blanked ? [{ tag: 0x00280301, vr: 'CS', value: textValue('CS', 'NO') }] : []),
  ]
  const addedTags = new Set(added.map((e) => e.tag))
  const finalDataset = [...dataset.filter((e) => !addedTags.has(e.tag)), ...added]
  const uid = (tag: number) => asciiOf(finalDataset.find((e) => e.tag === tag)?.value).trim()
  const instanceUid = uid(0x00080018)
  const meta = file.meta.map((e) =>
    e.tag === 0x00020003 && instanceUid ? { tag: e.tag, vr: 'UI', value: textValue('UI', instanceUid) } : e,
  )
  return {
    status: 'deidentified',
    bytes: writePart10({ ...file, meta, dataset: finalDataset }),
    studyUid: uid(0x0020000d),
    seriesUid: uid(0x0020000e),
    instanceUid,
    actions: walk.actions,
    privateRemoved: walk.privateRemoved,
    privateKept: walk.privateKept,
    pixelsCleaned: blanked !== undefined,
  }
}

/**
 * Blanks a rule's regions in pixel data dcmjs has read (its native pixel data is one buffer, or one
 * per frame): the buffers are joined, blanked, and split again as they were.
 */
function blankDcmjsPixels(
  dataset: Dataset,
  image: ImageIdentity,
  rule: BurnedInRule,
  syntax: string,
  numberOf: (tag: string, fallback: number) => number,
): string | undefined {
  const buffers = (dataset['7FE00010']?.Value ?? []).filter(
    (v): v is ArrayBuffer => v instanceof ArrayBuffer || ArrayBuffer.isView(v),
  )
  if (buffers.length === 0) return 'the object has no native pixel data'
  const views = buffers.map((b) =>
    ArrayBuffer.isView(b)
      ? new Uint8Array(
          (b as ArrayBufferView).buffer,
          (b as ArrayBufferView).byteOffset,
          (b as ArrayBufferView).byteLength,
        )
      : new Uint8Array(b),
  )
  const joined = Buffer.concat(views)
  // 8-bit samples in a big-endian OW value come in swapped pairs (dcmjs keeps the file's order): put
  // them in image order to blank, and back after. Wider samples are zeroed whole, in either order.
  const swapped =
    syntax === BIG_ENDIAN &&
    numberOf('00280100', 0) === 8 &&
    dataset['7FE00010']?.vr === 'OW' &&
    joined.length % 2 === 0
  if (swapped) joined.swap16()
  const why = blankRegions(
    joined,
    {
      rows: image.rows,
      columns: image.columns,
      samplesPerPixel: numberOf('00280002', 1),
      bitsAllocated: numberOf('00280100', 0),
      planarConfiguration: numberOf('00280006', 0),
      frames: numberOf('00280008', 1),
      photometric: textOf(dataset['00280004']) ?? '',
    },
    rule.regions,
  )
  if (why) return why
  if (swapped) joined.swap16()
  let at = 0
  ;(dataset['7FE00010'] as Element).Value = views.map((v) => {
    const part = joined.buffer.slice(joined.byteOffset + at, joined.byteOffset + at + v.byteLength)
    at += v.byteLength
    return part
  })
  return undefined
}

const MEDIA_STORAGE_DIRECTORY = '1.2.840.10008.1.3.10'

/**
 * A DICOMDIR indexes the input medium: its records hold the patients' names and IDs and point at
 * the input's own file paths by byte offsets, none of which describes the output. It is refused
 * with that reason; a new one is made for the output (dcmtk's dcmmkdir) if a medium needs one.
 */
function refuseDirectory(mediaStorageClass: string): void {
  if (mediaStorageClass === MEDIA_STORAGE_DIRECTORY)
    throw new TokumeiError(
      'a DICOMDIR (its records point at the input’s own paths and offsets): not carried over; make a new one for the output, e.g. with dcmmkdir',
      { code: 'dicom.dicomdir', kind: 'invalid' },
    )
}

/** De-identifies one Part 10 object. A file dcmjs cannot read is an error (the caller quarantines it). */
export function deidentifyDicom(bytes: Uint8Array, settings: DeidOptions): DeidOutcome {
  const options = settings.options ?? new Set<DicomOption>()
  checkOptions(options)
  if (settings.fastPath !== false) {
    const fast = deidentifyPart10(bytes, settings, options)
    if (fast) return fast
  }
  try {
    return deidentifyWithDcmjs(bytes, settings, options)
  } catch (error) {
    // A damaged file can make a lenient reader fail anywhere (a string longer than memory allows,
    // a value of the wrong type): one reason, and the tree goes on.
    if (error instanceof TokumeiError) throw error
    throw new TokumeiError(`the file could not be de-identified (${(error as Error).name})`, {
      code: 'dicom.unreadable',
      kind: 'invalid',
    })
  }
}

/** The dcmjs path: big endian, deflated, and files without a transfer syntax our reader takes. */
function deidentifyWithDcmjs(
  bytes: Uint8Array,
  settings: DeidOptions,
  options: ReadonlySet<DicomOption>,
): DeidOutcome {
  let message: { meta: Dataset; dict: Dataset; write(): ArrayBuffer }
  try {
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
    message = loadDcmjs().data.DicomMessage.readFile(buffer) as unknown as typeof message
  } catch (error) {
    throw new TokumeiError(`not a DICOM file dcmjs can read (${(error as Error).name})`, {
      code: 'dicom.unreadable',
      kind: 'invalid',
    })
  }
  const dataset = message.dict
  refuseDirectory(textOf(message.meta['00020002']) ?? '')
  // A file read leniently into nonsense (an element longer than the file) is refused, not written.
  if (valueBytes(dataset) > bytes.byteLength * 2 + 65_536)
    throw new TokumeiError('the file does not parse consistently (its elements are longer than the file)', {
      code: 'dicom.unreadable',
      kind: 'invalid',
    })
  const numberOf = (tag: string, fallback: number) => {
    const value = Number(first(dataset[tag]))
    return first(dataset[tag]) === undefined || !Number.isFinite(value) ? fallback : value
  }
  const image: ImageIdentity = {
    modality: textOf(dataset['00080060']) ?? '',
    manufacturer: textOf(dataset['00080070']) ?? '',
    model: textOf(dataset['00081090']) ?? '',
    sopClass: textOf(dataset['00080016']) ?? '',
    rows: numberOf('00280010', 0),
    columns: numberOf('00280011', 0),
  }
  const syntax = textOf(message.meta['00020010']) ?? ''
  const plan = pixelPlan(burnedInReason(dataset), image, NATIVE_SYNTAXES.has(syntax), settings)
  if (plan.kind === 'withhold') return { status: 'withheld', reason: plan.reason }
  let pixelsCleaned = false
  if (plan.kind === 'blank') {
    const why = blankDcmjsPixels(dataset, image, plan.rule, syntax, numberOf)
    if (why && settings.withholdBurnedIn !== false)
      return { status: 'withheld', reason: `${plan.label} applies, but ${why}` }
    pixelsCleaned = why === undefined
  }
  // The person's offset, from the patient ID as the hospital sent it (every object of one person
  // at one institution moves by the same days).
  const person = textOf(dataset['00100020']) ?? textOf(dataset['0020000D']) ?? ''
  const scrubber = scrubberFor(settings, options)
  const walk: Walk = {
    key: settings.key,
    options,
    offset: settings.person?.offset ?? personOffset(settings.key, person, settings.shiftDays ?? 365),
    pseudonym: settings.person?.pseudonym,
    actions: {},
    privateRemoved: 0,
    privateKept: 0,
    privateAllowed: settings.privateAllowList,
    descriptorText: scrubber ? textDescriptorCleaner(scrubber, dataset) : undefined,
  }
  deidentifyDataset(dataset, walk)
  // What was done, said in the object itself (PS3.15 E.1.1, PS3.3 C.12.1.1.1).
  dataset['00120062'] = { vr: 'CS', Value: ['YES'] }
  const used = methodCodes(options, walk, pixelsCleaned)
  if (pixelsCleaned) dataset['00280301'] = { vr: 'CS', Value: ['NO'] }
  dataset['00120063'] = {
    vr: 'LO',
    Value: [`tokumei; ${PROFILE_SOURCE}`.slice(0, 64)],
  }
  dataset['00120064'] = { vr: 'SQ', Value: used.map(([, code, meaning]) => codeItem(code, meaning)) }
  dataset['00280303'] = {
    vr: 'CS',
    Value: [
      options.has('retain-long-full-dates')
        ? 'UNMODIFIED'
        : options.has('retain-long-modified-dates')
          ? 'MODIFIED'
          : 'REMOVED',
    ],
  }
  // The file meta must name the new instance.
  const instanceUid = textOf(dataset['00080018']) ?? ''
  if (message.meta['00020003']) message.meta['00020003'] = { vr: 'UI', Value: [instanceUid] }
  let written: ArrayBuffer
  try {
    written = message.write()
  } catch (error) {
    throw new TokumeiError(`the de-identified object could not be written (${(error as Error).name})`, {
      code: 'dicom.unwritable',
      kind: 'invalid',
    })
  }
  // A damaged file read leniently can be written back as an object far larger than it was.
  if (written.byteLength > bytes.byteLength * 2 + 1_048_576)
    throw new TokumeiError(
      'the file does not parse consistently (written back, it would be far larger than it is)',
      {
        code: 'dicom.unreadable',
        kind: 'invalid',
      },
    )
  return {
    status: 'deidentified',
    bytes: new Uint8Array(written),
    studyUid: textOf(dataset['0020000D']) ?? '',
    seriesUid: textOf(dataset['0020000E']) ?? '',
    instanceUid,
    actions: walk.actions,
    privateRemoved: walk.privateRemoved,
    privateKept: walk.privateKept,
    pixelsCleaned,
  }
}
