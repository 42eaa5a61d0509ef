import { isAscii } from 'node:buffer'
import type { ClinicalItem, PatientIdentity, Sex, SourceRecord } from '../../model/index.js'
import { isoFromCompactDate, TokumeiError } from '../../model/index.js'
import { type Hl7ParsedSegment, hl7Repetitions, hl7Value, parseHl7 } from '../hl7v2/parser.js'
import { DATA_TYPES, decodeIso2022jp, parseStorageFileName, type StorageFileName } from './storage.js'

/**
 * Reads one SS-MIX2 storage file into the canonical model: identity from PID and IN1, clinical items
 * by data type. Names in NK1, ORC and PV1 (relatives, physicians) are never read into anything.
 * The bytes are decoded from ISO-2022-JP before any field is split.
 */
export interface Ssmix2Record extends SourceRecord {
  readonly file: StorageFileName
}

export class Ssmix2ReadError extends TokumeiError {
  constructor(message: string, details: Record<string, string | number>) {
    super(message, { code: 'ssmix2.read', kind: 'invalid', details })
  }
}

/** The date part of an HL7 DTM (`YYYYMMDD[HHMM…]`). */
const isoDate = (value: string): string | undefined => isoFromCompactDate(value.slice(0, 8))

const icd10 = (code: string) =>
  code.length > 3 && !code.includes('.') ? `${code.slice(0, 3)}.${code.slice(3)}` : code
const numberOr = (text: string) => (text !== '' && Number.isFinite(Number(text)) ? Number(text) : undefined)
const optional = <T extends object>(value: T): T =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined && v !== '')) as T

function identityFrom(
  pid: Hl7ParsedSegment | undefined,
  in1: Hl7ParsedSegment | undefined,
  fallbackId: string,
): PatientIdentity {
  const names = hl7Repetitions(pid, 5)
  const kanji = names.find((n) => n[7] === 'I') ?? names.find((n) => n[7] !== 'P')
  const kana = names.find((n) => n[7] === 'P')
  const address = hl7Repetitions(pid, 11)[0]
  const phones = [...hl7Repetitions(pid, 13), ...hl7Repetitions(pid, 14)]
    .map((p) => p[11] || p[0] || '')
    .filter((p) => p !== '')
  const sex = hl7Value(pid, 8)
  return optional({
    localId: hl7Value(pid, 3) || fallbackId,
    surname: kanji?.[0],
    given: kanji?.[1],
    surnameKana: kana?.[0],
    givenKana: kana?.[1],
    birthDate: isoDate(hl7Value(pid, 7)),
    sex: (['M', 'F', 'O', 'U'].includes(sex) ? sex : undefined) as Sex | undefined,
    postalCode: address?.[4],
    address: address?.[7] || address?.[0],
    phones,
    insurerNumber: hl7Value(in1, 3) || undefined,
  })
}

export interface ReadSsmix2Options {
  /**
   * Also require what intake requires: segments in the order of the data type (storage.ts), and PID-3
   * naming the patient of the file name. Off by default: the guideline's samples break the second.
   */
  readonly strict?: boolean
}

export function readSsmix2Message(
  relativePath: string,
  bytes: Uint8Array,
  options: ReadSsmix2Options = {},
): Ssmix2Record {
  const fileName = relativePath.split('/').at(-1) ?? relativePath
  const file = parseStorageFileName(fileName)
  if (!file) {
    throw new Ssmix2ReadError(`${relativePath}: the file name is not an SS-MIX2 storage name.`, {
      file: relativePath,
    })
  }
  // ISO-2022-JP is 7-bit throughout (its kanji are pairs of 7-bit bytes after an escape sequence).
  const eightBit = isAscii(bytes) ? -1 : bytes.findIndex((byte) => byte >= 0x80)
  if (eightBit >= 0) {
    throw new Ssmix2ReadError(
      `${relativePath}: byte ${eightBit} is not 7-bit, so the file is not ISO-2022-JP.`,
      { file: relativePath, byte: eightBit },
    )
  }
  let text: string
  try {
    text = decodeIso2022jp(bytes)
  } catch {
    throw new Ssmix2ReadError(`${relativePath}: an escape sequence or character is not ISO-2022-JP.`, {
      file: relativePath,
    })
  }
  let message: ReturnType<typeof parseHl7>
  try {
    message = parseHl7(text)
  } catch (error) {
    if (error instanceof TokumeiError) {
      throw new Ssmix2ReadError(`${relativePath}: ${error.message}`, {
        file: relativePath,
        ...(error.details as Record<string, string | number>),
      })
    }
    throw error
  }
  const segments = message.segments
  const type = file.dataType
  if (!DATA_TYPES[type])
    throw new Ssmix2ReadError(`${relativePath}: unknown data type ${type}.`, { file: relativePath })
  const find = (name: string) => segments.find((s) => s.name === name)
  if (options.strict) {
    const order = segments.map((s) => `${s.name} `).join('')
    if (!DATA_TYPES[type].segments.test(order)) {
      throw new Ssmix2ReadError(
        `${relativePath}: the segments (${order.trim()}) are not in the order an ${type} message has.`,
        { file: relativePath, segment: segments.map((s) => s.name).join(' ') },
      )
    }
    if (hl7Value(find('PID'), 3) !== file.patientId) {
      throw new Ssmix2ReadError(`${relativePath}: PID-3 does not name the patient of the file name.`, {
        file: relativePath,
        segment: 'PID',
        field: 3,
      })
    }
  }
  const identity = identityFrom(find('PID'), find('IN1'), file.patientId)
  const date = file.date !== '-' ? isoDate(file.date) : undefined
  const items: ClinicalItem[] = []
  const pv1 = find('PV1')
  const department = hl7Value(pv1, 3) || undefined
  const inpatient = hl7Value(pv1, 2) === 'I'

  const encounterEvents: Record<string, 'visit' | 'admission' | 'discharge' | 'transfer'> = {
    'ADT-12': 'visit',
    'ADT-22': 'admission',
    'ADT-42': 'transfer',
    'ADT-52': 'discharge',
  }
  const event = encounterEvents[type]
  if (event) {
    items.push(
      optional({
        kind: 'encounter',
        class: inpatient || event !== 'visit' ? 'inpatient' : 'outpatient',
        event,
        date: date ?? isoDate(hl7Value(find('EVN'), 2)) ?? '',
        department,
      }) as ClinicalItem,
    )
  }
  let tq1: Hl7ParsedSegment | undefined
  let rxe: Hl7ParsedSegment | undefined
  const flushPrescription = (rxr: Hl7ParsedSegment | undefined) => {
    if (!rxe) return
    items.push(
      optional({
        kind: 'medication',
        name: hl7Value(rxe, 2, 2),
        hot9: hl7Value(rxe, 2, 3) === 'HOT9' || hl7Value(rxe, 2, 3) === 'HOT' ? hl7Value(rxe, 2) : undefined,
        dose: numberOr(hl7Value(rxe, 3)),
        unit: hl7Value(rxe, 5, 2) || hl7Value(rxe, 5),
        route: hl7Value(rxr, 1) || undefined,
        days: tq1 && hl7Value(tq1, 6, 2) === 'd' ? numberOr(hl7Value(tq1, 6)) : undefined,
        usage: hl7Value(tq1, 3, 2) || undefined,
        administered: false,
        injection: type === 'OMP-02',
        date: isoDate(hl7Value(tq1, 7)) ?? date,
      }) as ClinicalItem,
    )
    rxe = undefined
    tq1 = undefined
  }
  for (const segment of segments) {
    switch (segment.name) {
      case 'PRB':
        items.push(
          optional({
            kind: 'condition',
            name: hl7Value(segment, 3, 2) || hl7Value(segment, 17),
            medisCode: hl7Value(segment, 3, 3) === 'MDCDX2' ? hl7Value(segment, 3) : undefined,
            icd10:
              hl7Value(segment, 10, 3) === 'I10' && hl7Value(segment, 10)
                ? icd10(hl7Value(segment, 10))
                : undefined,
            onset: isoDate(hl7Value(segment, 16)) ?? isoDate(hl7Value(segment, 7)),
            recorded: isoDate(hl7Value(segment, 2)),
            main: hl7Value(segment, 18) === '1',
          }) as ClinicalItem,
        )
        break
      case 'RXE':
        flushPrescription(undefined)
        rxe = segment
        break
      case 'TQ1':
        tq1 ??= segment
        break
      case 'RXR':
        flushPrescription(segment)
        break
      case 'RXA':
        items.push(
          optional({
            kind: 'medication',
            name: hl7Value(segment, 5, 2),
            hot9: hl7Value(segment, 5, 3).startsWith('HOT') ? hl7Value(segment, 5) : undefined,
            dose: numberOr(hl7Value(segment, 6)),
            unit: hl7Value(segment, 7, 2) || hl7Value(segment, 7),
            administered: true,
            injection: true,
            date: isoDate(hl7Value(segment, 3)) ?? date,
          }) as ClinicalItem,
        )
        break
      case 'OBX': {
        const value = hl7Value(segment, 5)
        if (value === '') break
        items.push(
          optional({
            kind: 'lab',
            name: hl7Value(segment, 3, 2),
            jlac10: hl7Value(segment, 3, 3) === 'JC10' ? hl7Value(segment, 3) : undefined,
            value,
            numeric: hl7Value(segment, 2) === 'NM' ? numberOr(value) : undefined,
            unit: hl7Value(segment, 6) || undefined,
            range: hl7Value(segment, 7) || undefined,
            flag: hl7Value(segment, 8) || undefined,
            date: isoDate(hl7Value(segment, 14)) ?? date,
          }) as ClinicalItem,
        )
        break
      }
      // AL1 (in ADT-00) and IAM (ADT-61) place allergen and category in the same fields.
      case 'AL1':
      case 'IAM':
        items.push(
          optional({
            kind: 'allergy',
            name: hl7Value(segment, 3, 2),
            category: hl7Value(segment, 2, 2),
          }) as ClinicalItem,
        )
        break
      case 'OBR':
        if (type.startsWith('OMG') && type !== 'OMG-13') {
          items.push(
            optional({
              kind: 'order',
              code: hl7Value(segment, 4),
              name: hl7Value(segment, 4, 2),
              date,
            }) as ClinicalItem,
          )
        }
        break
      case 'ODS':
        items.push(
          optional({
            kind: 'order',
            code: hl7Value(segment, 3),
            name: hl7Value(segment, 3, 2),
            date,
          }) as ClinicalItem,
        )
        break
      default:
        break
    }
  }
  flushPrescription(undefined)
  return { source: relativePath, identity, items, file }
}
