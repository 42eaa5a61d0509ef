import type { ClinicalEvent, Person, PersonAtHospital } from '../population.js'
import type { FileSink } from '../sink.js'

/**
 * FHIR R4 bulk data (NDJSON, one file per resource type) per hospital, with the JP Core identifier
 * and name conventions: the patient ID system carries the 10-digit 医療機関コード, and names come
 * twice, as IDE (kanji) and SYL (kana) representations.
 */
export const FHIR_SYSTEMS = {
  /** JP Core: patient IDs of one institution (the 10-digit code is appended). */
  patientId: 'urn:oid:1.2.392.100495.20.3.51.1',
  icd10: 'http://hl7.org/fhir/sid/icd-10',
  medis: 'urn:oid:1.2.392.200119.4.101.6',
  hot9: 'urn:oid:1.2.392.200119.4.403.1',
  yj: 'urn:oid:1.2.392.100495.20.2.74',
  jlac10: 'urn:oid:1.2.392.200119.4.504',
  nameRepresentation: 'http://hl7.org/fhir/StructureDefinition/iso21090-EN-representation',
  actCode: 'http://terminology.hl7.org/CodeSystem/v3-ActCode',
  dicom: 'http://dicom.nema.org/resources/ontology/DCM',
} as const

export interface FhirOutputs {
  /** Discharge summary texts, keyed by event. */
  readonly notes: ReadonlyMap<ClinicalEvent, string>
  /** StudyInstanceUID of each imaging event. */
  readonly studies: ReadonlyMap<ClinicalEvent, { uid: string; instances: number }>
}

export function writeFhir(
  sink: FileSink,
  person: Person,
  stay: PersonAtHospital,
  outputs: FhirOutputs,
): void {
  const dir = `${stay.hospital.code}/fhir`
  const patientId = `pt-${stay.hospital.index}-${person.index}`
  const subject = { reference: `Patient/${patientId}` }
  const out = (type: string, resource: Record<string, unknown>) =>
    sink.append(`${dir}/${type}.ndjson`, `${JSON.stringify({ resourceType: type, ...resource })}\n`)
  const id = stay.identity
  out('Patient', {
    id: patientId,
    identifier: [{ system: `${FHIR_SYSTEMS.patientId}${stay.hospital.code}`, value: stay.localId }],
    name: [
      {
        extension: [{ url: FHIR_SYSTEMS.nameRepresentation, valueCode: 'IDE' }],
        use: 'official',
        text: `${id.surname} ${id.given}`,
        family: id.surname,
        given: [id.given],
      },
      {
        extension: [{ url: FHIR_SYSTEMS.nameRepresentation, valueCode: 'SYL' }],
        use: 'official',
        text: `${id.surnameKana} ${id.givenKana}`,
        family: id.surnameKana,
        given: [id.givenKana],
      },
    ],
    telecom: [
      {
        system: 'phone',
        value: id.phone,
        use: id.phone.startsWith('0') && /^0[789]0/.test(id.phone) ? 'mobile' : 'home',
      },
    ],
    gender: id.sex === 'M' ? 'male' : 'female',
    birthDate: id.birthDate,
    address: [{ use: 'home', text: id.address, postalCode: id.postal, country: 'JP' }],
  })
  if (stay.allergy) {
    out('AllergyIntolerance', {
      id: `al-${stay.hospital.index}-${person.index}`,
      clinicalStatus: {
        coding: [
          { system: 'http://terminology.hl7.org/CodeSystem/allergyintolerance-clinical', code: 'active' },
        ],
      },
      code: { text: stay.allergy },
      patient: subject,
    })
  }
  stay.events.forEach((event, n) => {
    const encounterId = `en-${stay.hospital.index}-${person.index}-${n}`
    const encounter = { reference: `Encounter/${encounterId}` }
    out('Encounter', {
      id: encounterId,
      status: 'finished',
      class: { system: FHIR_SYSTEMS.actCode, code: event.kind === 'admission' ? 'IMP' : 'AMB' },
      subject,
      period: { start: event.date, end: event.endDate ?? event.date },
      serviceType: { coding: [{ code: event.department.code, display: event.department.name }] },
    })
    event.diagnoses.forEach((d, i) => {
      out('Condition', {
        id: `co-${stay.hospital.index}-${person.index}-${n}-${i}`,
        clinicalStatus: {
          coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }],
        },
        code: {
          coding: [
            { system: FHIR_SYSTEMS.icd10, code: d.icd10 },
            { system: FHIR_SYSTEMS.medis, code: d.medisCode, display: d.name },
          ],
          text: d.name,
        },
        subject,
        encounter,
        onsetDateTime: d.onset,
        recordedDate: event.date,
      })
    })
    event.prescriptions.forEach((p, i) => {
      out('MedicationRequest', {
        id: `mr-${stay.hospital.index}-${person.index}-${n}-${i}`,
        status: 'completed',
        intent: 'order',
        medicationCodeableConcept: {
          coding: [
            { system: FHIR_SYSTEMS.hot9, code: p.drug.hot9, display: p.drug.name },
            { system: FHIR_SYSTEMS.yj, code: p.drug.yj },
          ],
          text: p.drug.name,
        },
        subject,
        encounter,
        authoredOn: event.date,
        dosageInstruction: [
          {
            text: p.drug.usage,
            route: { text: p.drug.route },
            doseAndRate: [{ doseQuantity: { value: p.drug.dose, unit: p.drug.unit } }],
          },
        ],
        dispenseRequest: {
          expectedSupplyDuration: {
            value: p.days,
            unit: '日',
            system: 'http://unitsofmeasure.org',
            code: 'd',
          },
        },
      })
    })
    event.labs.forEach((lab, i) => {
      out('Observation', {
        id: `ob-${stay.hospital.index}-${person.index}-${n}-${i}`,
        status: 'final',
        category: [
          {
            coding: [
              { system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'laboratory' },
            ],
          },
        ],
        code: {
          coding: [{ system: FHIR_SYSTEMS.jlac10, code: lab.test.jlac10, display: lab.test.name }],
          text: lab.test.name,
        },
        subject,
        encounter,
        effectiveDateTime: event.date,
        valueQuantity: { value: lab.value, unit: lab.test.unit },
        referenceRange: [
          {
            low: { value: lab.test.low, unit: lab.test.unit },
            high: { value: lab.test.high, unit: lab.test.unit },
          },
        ],
      })
    })
    const study = outputs.studies.get(event)
    if (event.imaging && study) {
      out('Procedure', {
        id: `pr-${stay.hospital.index}-${person.index}-${n}`,
        status: 'completed',
        code: { text: `${event.imaging}撮影` },
        subject,
        encounter,
        performedDateTime: event.date,
      })
      out('ImagingStudy', {
        id: `is-${stay.hospital.index}-${person.index}-${n}`,
        identifier: [{ system: 'urn:dicom:uid', value: `urn:oid:${study.uid}` }],
        status: 'available',
        subject,
        encounter,
        started: event.date,
        modality: [{ system: FHIR_SYSTEMS.dicom, code: event.imaging }],
        numberOfSeries: 1,
        numberOfInstances: study.instances,
      })
    }
    const note = outputs.notes.get(event)
    if (note) {
      out('DocumentReference', {
        id: `dr-${stay.hospital.index}-${person.index}-${n}`,
        status: 'current',
        type: {
          coding: [{ system: 'http://loinc.org', code: '18842-5', display: 'Discharge summary' }],
          text: '退院時サマリー',
        },
        subject,
        date: `${event.endDate ?? event.date}T00:00:00+09:00`,
        content: [
          {
            attachment: {
              contentType: 'text/plain;charset=utf-8',
              language: 'ja',
              data: Buffer.from(note, 'utf8').toString('base64'),
            },
          },
        ],
        context: { encounter: [encounter] },
      })
    }
  })
}
