import dcmjs from 'dcmjs'
import type { ClinicalItem, PatientIdentity, Sex, SourceRecord } from '../../model/index.js'
import { isoFromCompactDate, TokumeiError } from '../../model/index.js'
import { decodeIso2022jp } from '../ssmix2/storage.js'

/**
 * DICOM Part 10 headers into the canonical model: the patient's identity (name in its alphabetic,
 * ideographic and phonetic groups, ID, birth date, sex, address, phones) and one `imaging` item
 * locating the instance in its study. Pixel data is not read here; the whole object is kept,
 * encrypted, for de-identification at release.
 */
export class DicomReadError extends TokumeiError {
  constructor(message: string, details: Record<string, string | number>) {
    super(message, { code: 'dicom.read', kind: 'invalid', details })
  }
}

type Dataset = Record<string, unknown>

// dcmjs logs warnings (VR fallbacks, character sets) and validation errors (an unknown VR read as UN)
// to the console; tokumei reports what matters through its own errors.
dcmjs.log.setLevel('error')
dcmjs.log.getLogger('validation.dcmjs').setLevel('silent')

// ISO 2022 escape sequences of the Japanese character sets (DICOM PS3.3 C.12.1.1.2, PS3.5 6.1.2.5.3).
const JIS_ESCAPES = ['\u001b$B', '\u001b$@', '\u001b(B', '\u001b(J', '\u001b(I', '\u001b$(D']

/**
 * dcmjs does not handle code extensions (`\ISO 2022 IR 87`): read leniently, it leaves the escape
 * sequences and JIS bytes in the string, one byte a character. Those bytes are decoded here.
 */
function decodeJis(value: string): string {
  if (!JIS_ESCAPES.some((sequence) => value.includes(sequence))) return value
  return decodeIso2022jp(Buffer.from(value, 'latin1'), { lenient: true })
}

const text = (v: unknown): string | undefined => {
  const first = Array.isArray(v) ? v[0] : v
  return typeof first === 'string' && first.trim() !== '' ? decodeJis(first.trim()) : undefined
}

function isoDate(v: unknown): string | undefined {
  const s = text(v)?.replace(/\./g, '')
  return s ? isoFromCompactDate(s) : undefined
}

function personName(v: unknown): { alphabetic?: string; ideographic?: string; phonetic?: string } {
  const first = Array.isArray(v) ? v[0] : v
  if (first && typeof first === 'object') {
    const pn = first as Record<string, unknown>
    return { alphabetic: text(pn.Alphabetic), ideographic: text(pn.Ideographic), phonetic: text(pn.Phonetic) }
  }
  const raw = text(first)
  if (!raw) return {}
  const [alphabetic, ideographic, phonetic] = raw.split('=')
  return {
    alphabetic: alphabetic || undefined,
    ideographic: ideographic || undefined,
    phonetic: phonetic || undefined,
  }
}

const optional = <T extends object>(value: T): T =>
  Object.fromEntries(Object.entries(value).filter(([, x]) => x !== undefined && x !== '')) as T

export interface DicomRecord extends SourceRecord {
  readonly transferSyntax: string | undefined
}

export function readDicomHeader(file: string, bytes: Uint8Array): DicomRecord {
  let dataset: Dataset
  let meta: Dataset
  try {
    const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer
    const read = (lenient: boolean) =>
      dcmjs.data.DicomMessage.readFile(buffer, {
        untilTag: '7FE00010',
        includeUntilTagValue: false,
        ignoreErrors: lenient,
      })
    let dict: ReturnType<typeof read>
    try {
      dict = read(false)
    } catch (error) {
      // Only the character-set refusal is retried leniently; JIS text is then decoded by `text()`.
      if (!(error instanceof Error && /character set/i.test(error.message))) throw error
      dict = read(true)
    }
    dataset = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict)
    meta = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.meta)
  } catch (error) {
    // Only the error's class: a parser's message may quote the bytes it stopped at.
    const why = error instanceof Error ? error.name : 'unreadable'
    throw new DicomReadError(`${file}: not a readable DICOM Part 10 file (${why}).`, { file })
  }
  const name = personName(dataset.PatientName)
  const [surname, given] = (name.ideographic ?? name.alphabetic ?? '').split('^')
  const [surnameKana, givenKana] = (name.phonetic ?? '').split('^')
  const sexCode = text(dataset.PatientSex)
  const identity: PatientIdentity = optional({
    localId: text(dataset.PatientID) ?? '',
    surname: surname || undefined,
    given: given || undefined,
    surnameKana: surnameKana || undefined,
    givenKana: givenKana || undefined,
    birthDate: isoDate(dataset.PatientBirthDate),
    sex: (['M', 'F', 'O'].includes(sexCode ?? '') ? sexCode : undefined) as Sex | undefined,
    address: text(dataset.PatientAddress),
    phones: [text(dataset.PatientTelephoneNumbers)].filter((p): p is string => p !== undefined),
  })
  const item: ClinicalItem = optional({
    kind: 'imaging',
    studyUid: text(dataset.StudyInstanceUID),
    seriesUid: text(dataset.SeriesInstanceUID),
    sopInstanceUid: text(dataset.SOPInstanceUID),
    sopClassUid: text(dataset.SOPClassUID),
    modality: text(dataset.Modality),
    date: isoDate(dataset.StudyDate) ?? isoDate(dataset.SeriesDate),
    bodyPart: text(dataset.BodyPartExamined),
    burnedInAnnotation:
      text(dataset.BurnedInAnnotation) === undefined ? undefined : text(dataset.BurnedInAnnotation) === 'YES',
  })
  return { source: file, identity, items: [item], transferSyntax: text(meta.TransferSyntaxUID) }
}
