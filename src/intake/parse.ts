import type { ItemFormat } from '../db/index.js'
import { readDicomHeader } from '../formats/dicom/index.js'
import { type FhirLine, readFhirBundle, readFhirNdjson } from '../formats/fhir/index.js'
import { parseStorageFileName, readSsmix2Message } from '../formats/ssmix2/index.js'
import { readUkeBytes } from '../formats/uke/index.js'
import type { ClinicalItem, PatientIdentity, SourceRecord } from '../model/index.js'
import { isTokumeiError } from '../model/index.js'

/**
 * One spooled file → the records it holds and the problems that keep parts of it out. Pure. Problems
 * name the place (line, segment, field, record) and never quote the content; the caller swaps the
 * raw path for its masked display form before anything is stored or shown.
 */
export interface Position {
  line?: number
  segment?: string
  field?: number
  record?: string
  entry?: number
}

export interface Problem {
  readonly position: Position
  readonly code: string
  readonly reason: string
}

/** SS-MIX2 versioning: the order a message belongs to, its timestamp, and its condition flag. */
export interface SourceVersion {
  readonly key: string
  readonly version: string
  readonly flag: '0' | '1' | '2'
}

export interface ParsedRecord {
  readonly record: SourceRecord
  readonly position: Position
  readonly version?: SourceVersion
  /** FHIR: the Patient the items belong to, resolved against the submission's patients. */
  readonly fhirPatient?: string
  /** DICOM: the object itself, to be kept encrypted in the object store. */
  readonly object?: Uint8Array
}

export interface ParsedItem {
  readonly records: ParsedRecord[]
  readonly problems: Problem[]
  /** FHIR Patient resources of this file, by the id other resources use to refer to them. */
  readonly fhirPatients: Array<{
    readonly ref: string
    readonly identity: PatientIdentity
    readonly line: number
  }>
}

/** The order number SS-MIX2 writes when a message belongs to no order. */
const NO_ORDER = /^9+$/

/**
 * Data types that state the patient's whole current record (basic data with its AL1 allergies,
 * allergy information): the newest message of each replaces the earlier ones, order or none.
 */
const CURRENT_STATE = new Set(['ADT-00', 'ADT-61'])

function problemOf(error: unknown, fallback: Position, code: string): Problem {
  if (!isTokumeiError(error)) throw error
  const details = (error.details ?? {}) as Record<string, unknown>
  const position: Position = { ...fallback }
  for (const key of ['line', 'field', 'entry'] as const)
    if (typeof details[key] === 'number') position[key] = details[key] as number
  if (typeof details.segment === 'string') position.segment = details.segment
  return { position, code, reason: error.message }
}

export function parseSpoolFile(format: ItemFormat, path: string, bytes: Uint8Array): ParsedItem {
  switch (format) {
    case 'ssmix2':
      return parseSsmix2(path, bytes)
    case 'uke':
      return parseUke(bytes)
    case 'fhir':
      return parseFhir(path, bytes)
    case 'dicom':
      return parseDicom(path, bytes)
  }
}

function parseSsmix2(path: string, bytes: Uint8Array): ParsedItem {
  const empty: ParsedItem = { records: [], problems: [], fhirPatients: [] }
  try {
    const message = readSsmix2Message(path, bytes, { strict: true })
    const name = parseStorageFileName(path.split('/').at(-1) ?? '')
    const key = !name
      ? undefined
      : CURRENT_STATE.has(name.dataType)
        ? name.dataType
        : NO_ORDER.test(name.orderNo)
          ? undefined
          : `${name.dataType}:${name.orderNo}`
    const version: SourceVersion | undefined =
      name && key ? { key, version: name.timestamp, flag: name.flag } : undefined
    return { ...empty, records: [{ record: message, position: {}, version }] }
  } catch (error) {
    return { ...empty, problems: [problemOf(error, {}, 'ssmix2.unreadable')] }
  }
}

function parseUke(bytes: Uint8Array): ParsedItem {
  let file: ReturnType<typeof readUkeBytes>
  try {
    file = readUkeBytes(bytes)
  } catch (error) {
    return { records: [], problems: [problemOf(error, {}, 'uke.unreadable')], fhirPatients: [] }
  }
  return {
    records: file.receipts.map((receipt) => ({
      record: receipt,
      position: { line: receipt.line, record: 'RE' },
    })),
    problems: file.problems.map((p) => ({
      position: {
        line: p.line,
        ...(p.field !== undefined ? { field: p.field } : {}),
        ...(p.record ? { record: p.record } : {}),
      },
      code: 'uke.unreadable',
      reason: p.reason,
    })),
    fhirPatients: [],
  }
}

function parseFhir(path: string, bytes: Uint8Array): ParsedItem {
  const records: ParsedRecord[] = []
  const problems: Problem[] = []
  const fhirPatients: ParsedItem['fhirPatients'] = []
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes)
  } catch {
    return {
      records,
      problems: [{ position: {}, code: 'fhir.encoding', reason: 'the file is not UTF-8' }],
      fhirPatients,
    }
  }
  let lines: Iterable<FhirLine>
  const trimmed = text.trimStart()
  try {
    if (trimmed.startsWith('{') && !path.toLowerCase().endsWith('.ndjson')) {
      let bundle: unknown
      try {
        bundle = JSON.parse(text)
      } catch {
        return {
          records,
          problems: [{ position: {}, code: 'fhir.json', reason: 'the file is not valid JSON' }],
          fhirPatients,
        }
      }
      lines = [...readFhirBundle(bundle, 'the bundle')]
    } else {
      lines = readFhirNdjson(text, 'the file')
    }
    // Items of one patient in one file become one record, in the order they appear.
    const byPatient = new Map<string, { items: ClinicalItem[]; line: number }>()
    for (const line of lines) {
      const position =
        path.toLowerCase().endsWith('.ndjson') || !trimmed.startsWith('{')
          ? { line: line.line }
          : { entry: line.line }
      if (line.problem) {
        problems.push({ position, code: 'fhir.unreadable', reason: line.problem })
        continue
      }
      const entry = line.entry
      if (!entry || entry.kind === 'skipped') continue
      if (entry.kind === 'patient') {
        fhirPatients.push({ ref: entry.id, identity: entry.identity, line: line.line })
        continue
      }
      let group = byPatient.get(entry.patient)
      if (!group) {
        group = { items: [], line: line.line }
        byPatient.set(entry.patient, group)
      }
      group.items.push(entry.item)
    }
    for (const [ref, group] of byPatient) {
      records.push({
        record: { source: path, identity: { localId: '', phones: [] }, items: group.items },
        position: { line: group.line },
        fhirPatient: ref,
      })
    }
  } catch (error) {
    problems.push(problemOf(error, {}, 'fhir.unreadable'))
  }
  return { records, problems, fhirPatients }
}

function parseDicom(path: string, bytes: Uint8Array): ParsedItem {
  try {
    const record = readDicomHeader(path, bytes)
    return { records: [{ record, position: {}, object: bytes }], problems: [], fhirPatients: [] }
  } catch (error) {
    return { records: [], problems: [problemOf(error, {}, 'dicom.unreadable')], fhirPatients: [] }
  }
}

/** A record intake refuses to store although its reader accepted it: NUL characters, oversized text. */
export function checkRecord(record: SourceRecord, maxFieldChars: number): string | undefined {
  const check = (where: string, value: unknown): string | undefined => {
    if (typeof value === 'string') {
      if (value.includes('\u0000')) return `${where} contains a NUL character`
      if (value.length > maxFieldChars) return `${where} is longer than ${maxFieldChars} characters`
    }
    return undefined
  }
  for (const [key, value] of Object.entries(record.identity)) {
    const values = Array.isArray(value) ? value : [value]
    for (const v of values) {
      const problem = check(`identity field ${key}`, v)
      if (problem) return problem
    }
  }
  for (const [index, item] of record.items.entries()) {
    for (const [key, value] of Object.entries(item)) {
      if (item.kind === 'document' && key === 'data') continue
      const problem = check(`${item.kind} ${index + 1} field ${key}`, value)
      if (problem) return problem
    }
  }
  return undefined
}
