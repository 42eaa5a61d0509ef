import type { ClinicalItem, PatientIdentity, Sex } from '../../model/index.js'
import { isCalendarDate, TokumeiError } from '../../model/index.js'

/**
 * FHIR R4 (JP Core) resources into the canonical model: a Patient gives an identity; the clinical
 * resources give items tied to their patient by reference. Reference `display` strings (which JP Core
 * examples fill with the patient's name) and practitioner names are never read.
 */
export type FhirEntry =
  | { readonly kind: 'patient'; readonly id: string; readonly identity: PatientIdentity }
  | {
      readonly kind: 'item'
      readonly patient: string
      readonly resourceType: string
      readonly item: ClinicalItem
    }
  | { readonly kind: 'skipped'; readonly resourceType: string; readonly reason: string }

export const FHIR_SYSTEM = {
  jpPatientId: 'urn:oid:1.2.392.100495.20.3.51.1',
  icd10: 'http://hl7.org/fhir/sid/icd-10',
  medis: 'urn:oid:1.2.392.200119.4.101.6',
  hot9: 'urn:oid:1.2.392.200119.4.403.1',
  jlac10: 'urn:oid:1.2.392.200119.4.504',
  nameRepresentation: 'http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation',
} as const

export class FhirReadError extends TokumeiError {
  constructor(message: string, details: Record<string, string | number>) {
    super(message, { code: 'fhir.read', kind: 'invalid', details })
  }
}

type Json = Record<string, unknown>
const obj = (v: unknown): Json | undefined =>
  v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : undefined
const arr = (v: unknown): unknown[] => (Array.isArray(v) ? v : [])
const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined)
const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)
const date = (v: unknown): string | undefined => {
  const s = str(v)
  return s && isCalendarDate(s.slice(0, 10)) ? s.slice(0, 10) : undefined
}
const optional = <T extends object>(value: T): T =>
  Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined && v !== '')) as T

function codings(concept: unknown): Array<{ system?: string; code?: string; display?: string }> {
  return arr(obj(concept)?.coding).map((c) => ({
    system: str(obj(c)?.system),
    code: str(obj(c)?.code),
    display: str(obj(c)?.display),
  }))
}

function codeIn(concept: unknown, system: string): string | undefined {
  return codings(concept).find((c) => c.system === system)?.code
}

function conceptName(concept: unknown): string {
  return (
    str(obj(concept)?.text) ??
    codings(concept).find((c) => c.display)?.display ??
    codings(concept)[0]?.code ??
    ''
  )
}

/** `Patient/abc` or `urn:uuid:…` → the id the patient's entry is known by. */
export function patientReference(reference: unknown): string | undefined {
  const ref = str(obj(reference)?.reference)
  if (!ref) return undefined
  return ref.startsWith('Patient/') ? ref.slice('Patient/'.length) : ref
}

function identityOf(patient: Json, id: string): PatientIdentity {
  const identifiers = arr(patient.identifier)
    .map(obj)
    .filter((x): x is Json => x !== undefined)
  const local = identifiers.find((i) => str(i.system)?.startsWith(FHIR_SYSTEM.jpPatientId)) ?? identifiers[0]
  const names = arr(patient.name)
    .map(obj)
    .filter((x): x is Json => x !== undefined)
  const representation = (n: Json) =>
    str(obj(arr(n.extension).find((e) => str(obj(e)?.url) === FHIR_SYSTEM.nameRepresentation))?.valueCode)
  const kanji =
    names.find((n) => representation(n) === 'IDE') ?? names.find((n) => representation(n) !== 'SYL')
  const kana = names.find((n) => representation(n) === 'SYL')
  const address = obj(arr(patient.address)[0])
  const gender = str(patient.gender)
  const sex: Sex | undefined =
    gender === 'male'
      ? 'M'
      : gender === 'female'
        ? 'F'
        : gender === 'other'
          ? 'O'
          : gender === 'unknown'
            ? 'U'
            : undefined
  const line = arr(address?.line).filter((l): l is string => typeof l === 'string')
  return optional({
    localId: str(local?.value) ?? id,
    surname: str(kanji?.family),
    given:
      arr(kanji?.given)
        .filter((g): g is string => typeof g === 'string')
        .join(' ') || undefined,
    surnameKana: str(kana?.family),
    givenKana:
      arr(kana?.given)
        .filter((g): g is string => typeof g === 'string')
        .join(' ') || undefined,
    birthDate: date(patient.birthDate),
    sex,
    postalCode: str(address?.postalCode),
    address:
      str(address?.text) ??
      ([str(address?.state), str(address?.city), ...line].filter(Boolean).join('') || undefined),
    phones: arr(patient.telecom)
      .map(obj)
      .filter((t) => str(t?.system) === 'phone')
      .map((t) => str(t?.value))
      .filter((v): v is string => v !== undefined),
  })
}

/** Maps one resource; `where` names it in errors (file and line). */
export function mapFhirResource(value: unknown, where: string): FhirEntry {
  const resource = obj(value)
  const type = str(resource?.resourceType)
  if (!resource || !type)
    throw new FhirReadError(`${where}: not a FHIR resource (no resourceType).`, { where })
  const id = str(resource.id) ?? ''
  if (type === 'Patient') return { kind: 'patient', id, identity: identityOf(resource, id) }
  const patient = patientReference(resource.subject) ?? patientReference(resource.patient)
  if (!patient) return { kind: 'skipped', resourceType: type, reason: 'no patient reference' }
  const item = (i: ClinicalItem): FhirEntry => ({
    kind: 'item',
    patient,
    resourceType: type,
    item: optional(i),
  })
  switch (type) {
    case 'Encounter': {
      const klass = str(obj(resource.class)?.code)
      return item({
        kind: 'encounter',
        class: klass === 'IMP' || klass === 'ACUTE' ? 'inpatient' : 'outpatient',
        event: klass === 'IMP' ? 'admission' : 'visit',
        date: date(obj(resource.period)?.start) ?? '',
        department: codings(arr(resource.serviceType)[0] ?? resource.serviceType)[0]?.code,
      })
    }
    case 'Condition':
      return item({
        kind: 'condition',
        name: conceptName(resource.code),
        icd10: codeIn(resource.code, FHIR_SYSTEM.icd10),
        medisCode: codeIn(resource.code, FHIR_SYSTEM.medis),
        onset: date(resource.onsetDateTime) ?? date(obj(resource.onsetPeriod)?.start),
        recorded: date(resource.recordedDate),
        main: false,
      })
    case 'MedicationRequest':
    case 'MedicationAdministration': {
      const concept = resource.medicationCodeableConcept
      const dosage = obj(arr(resource.dosageInstruction)[0]) ?? obj(resource.dosage)
      const dose = obj(obj(arr(dosage?.doseAndRate)[0])?.doseQuantity) ?? obj(dosage?.dose)
      const route = codings(dosage?.route)[0]?.code ?? str(obj(dosage?.route)?.text)
      const usage = arr(dosage?.extension)
        .map(obj)
        .find((e) => str(e?.url)?.endsWith('UsageDuration'))
      const days =
        num(obj(obj(resource.dispenseRequest)?.expectedSupplyDuration)?.value) ??
        num(obj(usage?.valueDuration)?.value)
      return item({
        kind: 'medication',
        name: conceptName(concept),
        hot9: codeIn(concept, FHIR_SYSTEM.hot9),
        dose: num(dose?.value),
        unit: str(dose?.unit),
        route,
        days,
        usage: str(dosage?.text),
        administered: type === 'MedicationAdministration',
        injection: route === 'IV' || route === 'SC' || route === 'IM',
        date:
          date(resource.authoredOn) ??
          date(resource.effectiveDateTime) ??
          date(obj(resource.effectivePeriod)?.start),
      })
    }
    case 'Observation': {
      const quantity = obj(resource.valueQuantity)
      const range = obj(arr(resource.referenceRange)[0])
      const low = num(obj(range?.low)?.value)
      const high = num(obj(range?.high)?.value)
      const value = quantity
        ? String(num(quantity.value) ?? '')
        : (str(resource.valueString) ?? conceptName(resource.valueCodeableConcept))
      return item({
        kind: 'lab',
        name: conceptName(resource.code),
        jlac10: codeIn(resource.code, FHIR_SYSTEM.jlac10),
        value,
        numeric: num(quantity?.value),
        unit: str(quantity?.unit),
        range: low !== undefined || high !== undefined ? `${low ?? ''}-${high ?? ''}` : undefined,
        date: date(resource.effectiveDateTime),
      })
    }
    case 'AllergyIntolerance':
      return item({
        kind: 'allergy',
        name: conceptName(resource.code),
        category:
          arr(resource.category)
            .filter((c) => typeof c === 'string')
            .join(',') || undefined,
      })
    case 'Procedure':
      return item({
        kind: 'order',
        code: codings(resource.code)[0]?.code ?? '',
        name: conceptName(resource.code),
        date: date(resource.performedDateTime) ?? date(obj(resource.performedPeriod)?.start),
      })
    case 'ImagingStudy': {
      const modality = codings({ coding: arr(resource.modality) })[0]?.code ?? ''
      return item({
        kind: 'order',
        code: modality,
        name: `${modality} imaging study`,
        date: date(resource.started),
      })
    }
    case 'DocumentReference': {
      const attachment = obj(obj(arr(resource.content)[0])?.attachment)
      const data = str(attachment?.data)
      if (!data) return { kind: 'skipped', resourceType: type, reason: 'no inline content' }
      return item({
        kind: 'document',
        title: conceptName(resource.type),
        date: date(resource.date),
        contentType: str(attachment?.contentType) ?? 'application/octet-stream',
        data,
      })
    }
    default:
      return { kind: 'skipped', resourceType: type, reason: 'not a resource type tokumei reads' }
  }
}

export interface FhirLine {
  readonly line: number
  readonly entry?: FhirEntry
  readonly problem?: string
}

/** Bulk NDJSON: one resource a line; a bad line is a problem with its number, the rest proceed. */
export function* readFhirNdjson(text: string, file: string): Generator<FhirLine> {
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const raw = (lines[i] as string).trim()
    if (raw === '') continue
    let value: unknown
    try {
      value = JSON.parse(raw)
    } catch {
      yield { line: i + 1, problem: `${file} line ${i + 1}: not valid JSON` }
      continue
    }
    try {
      yield { line: i + 1, entry: mapFhirResource(value, `${file} line ${i + 1}`) }
    } catch (error) {
      if (!(error instanceof TokumeiError)) throw error
      yield { line: i + 1, problem: error.message }
    }
  }
}

/** A Bundle's entries, in order. */
export function* readFhirBundle(bundle: unknown, file: string): Generator<FhirLine> {
  const entries = arr(obj(bundle)?.entry)
  if (str(obj(bundle)?.resourceType) !== 'Bundle')
    throw new FhirReadError(`${file}: not a FHIR Bundle.`, { file })
  for (let i = 0; i < entries.length; i++) {
    const entry = obj(entries[i])
    try {
      const mapped = mapFhirResource(entry?.resource, `${file} entry ${i + 1}`)
      // Bundles may reference their patient by fullUrl (urn:uuid:…).
      yield {
        line: i + 1,
        entry: mapped.kind === 'patient' ? { ...mapped, id: str(entry?.fullUrl) ?? mapped.id } : mapped,
      }
    } catch (error) {
      if (!(error instanceof TokumeiError)) throw error
      yield { line: i + 1, problem: error.message }
    }
  }
}
