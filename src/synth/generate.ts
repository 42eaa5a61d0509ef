import Encoding from 'encoding-japanese'
import { toWarekiDigits } from '../formats/wareki.js'
import { loadNameTables } from './names.js'
import {
  birthDateForms,
  type ClinicalEvent,
  createPopulation,
  generatePerson,
  makeHospitals,
  type Person,
  type PersonAtHospital,
} from './population.js'
import { FileSink } from './sink.js'
import { studyPlan, writeDicomStudy } from './writers/dicom.js'
import { writeFhir } from './writers/fhir.js'
import { dischargeSummary } from './writers/notes.js'
import { writeSsmix2 } from './writers/ssmix2.js'
import { UkeWriter } from './writers/uke.js'

export const SYNTH_FORMATS = ['ssmix2', 'uke', 'fhir', 'dicom', 'notes'] as const
export type SynthFormat = (typeof SYNTH_FORMATS)[number]

export interface SynthOptions {
  readonly persons: number
  readonly hospitals: number
  readonly seed: string
  readonly out: string
  readonly formats: ReadonlySet<SynthFormat>
  /** The folder with the public name and 異体字 lists (shared/data); built-in lists without it. */
  readonly sharedDataDir: string | undefined
  readonly onProgress?: (done: number, total: number) => void
}

export interface SynthReport {
  readonly persons: number
  readonly hospitals: ReadonlyArray<{ code: string; name: string }>
  readonly personHospitalPairs: number
  readonly files: number
  readonly bytes: number
  readonly formats: SynthFormat[]
  readonly names: 'shared' | 'builtin'
}

const csvLine = (values: ReadonlyArray<string | number>) => `${values.join(',')}\n`

/**
 * Writes the synthetic hospitals' data and the ground truth. Streams person by person: memory stays
 * flat (bounded file buffers, a counter per hospital), and the output depends only on the options.
 */
export async function generateSyntheticData(options: SynthOptions): Promise<SynthReport> {
  const names = loadNameTables(options.sharedDataDir)
  const hospitals = makeHospitals(options.seed, options.hospitals)
  const population = createPopulation(options.seed, names, hospitals)
  const sink = new FileSink(options.out)
  const formats = options.formats
  const dcmjs = formats.has('dicom') ? (await import('dcmjs')).default : undefined
  const uke = formats.has('uke') ? new UkeWriter(sink) : undefined

  sink.append('truth/persons.csv', csvLine(['person_id', 'institution_code', 'local_patient_id']))
  sink.append('truth/optouts.csv', csvLine(['person_id', 'institution_code', 'refused_on']))
  sink.append('truth/notices.csv', csvLine(['institution_code', 'notice_start']))
  sink.append('truth/hospitals.csv', csvLine(['institution_code', 'name', 'municipality_code']))
  sink.append(
    'truth/adverse_events.csv',
    csvLine([
      'person_id',
      'institution_code',
      'drug',
      'event_icd10',
      'drug_start',
      'event_onset',
      'interval_days',
    ]),
  )
  for (const h of hospitals) {
    sink.append('truth/notices.csv', csvLine([h.code, h.noticeStart]))
    sink.append('truth/hospitals.csv', csvLine([h.code, h.name, h.municipality.code]))
  }

  let pairs = 0
  for (let i = 0; i < options.persons; i++) {
    const person = generatePerson(population, i)
    const canaries = new Set<string>()
    for (const stay of person.visits) {
      pairs++
      sink.append('truth/persons.csv', csvLine([person.id, stay.hospital.code, stay.localId]))
      collectCanaries(canaries, person, stay)
      const notes = new Map<ClinicalEvent, string>()
      const studies = new Map<ClinicalEvent, { uid: string; instances: number }>()
      const referrer = person.visits.find((v) => v !== stay)?.hospital
      stay.events.forEach((event, n) => {
        if (event.kind === 'admission') {
          const { text, identifiers } = dischargeSummary(person, stay, event, referrer)
          notes.set(event, text)
          if (formats.has('notes')) {
            const file = `${stay.hospital.code}/notes/discharge-${person.index}-${n}.txt`
            sink.writeFile(file, text)
            // Where each identifier stands (UTF-16 offsets, as JavaScript counts), to measure
            // the scrubber's precision as well as its recall.
            sink.append(
              'truth/note-identifiers.jsonl',
              `${JSON.stringify({ file, identifiers: identifiers.map((i) => [i.start, i.end, i.kind]) })}\n`,
            )
          }
        }
        if (event.imaging) {
          studies.set(
            event,
            dcmjs
              ? writeDicomStudy(dcmjs, sink, options.seed, person, stay, event)
              : studyPlan(options.seed, person, stay, event),
          )
        }
      })
      if (formats.has('ssmix2')) writeSsmix2(sink, options.seed, person, stay)
      uke?.write(person, stay)
      if (formats.has('fhir')) writeFhir(sink, person, stay, { notes, studies })
    }
    if (person.optOut)
      sink.append('truth/optouts.csv', csvLine([person.id, person.optOut.institution, person.optOut.on]))
    for (const ae of person.adverseEvents) {
      sink.append(
        'truth/adverse_events.csv',
        csvLine([person.id, ae.institution, ae.drug, ae.icd10, ae.start, ae.onset, ae.intervalDays]),
      )
    }
    sink.append('truth/canaries.txt', `${[...canaries].join('\n')}\n`)
    if ((i + 1) % 1000 === 0 || i + 1 === options.persons) options.onProgress?.(i + 1, options.persons)
  }
  uke?.finish()
  sink.flushAll()
  return {
    persons: options.persons,
    hospitals: hospitals.map((h) => ({ code: h.code, name: h.name })),
    personHospitalPairs: pairs,
    files: sink.filesWritten,
    bytes: sink.bytesWritten,
    formats: SYNTH_FORMATS.filter((f) => formats.has(f)),
    names: names.source,
  }
}

/** Every identifying string a hospital's records of this person contain, in every form written. */
function collectCanaries(canaries: Set<string>, person: Person, stay: PersonAtHospital): void {
  const id = stay.identity
  const add = (...values: string[]) => {
    for (const v of values) if (v) canaries.add(v)
  }
  add(
    id.surname,
    id.given,
    `${id.surname}${id.given}`,
    `${id.surname} ${id.given}`,
    `${id.surname}　${id.given}`,
  )
  const kana = [
    id.surnameKana,
    id.givenKana,
    `${id.surnameKana}${id.givenKana}`,
    `${id.surnameKana} ${id.givenKana}`,
  ]
  add(...kana)
  if (stay.hospital.halfWidthKana) add(...kana.map((k) => Encoding.toHankanaCase(k)))
  if (person.romaji) add(`${person.romaji.surname}^${person.romaji.given}`)
  add(person.relative.name, person.relative.kana)
  add(
    id.address,
    id.phone,
    stay.localId,
    id.insuredSymbol,
    id.insuredNumber,
    `${id.insuredSymbol}・${id.insuredNumber}`,
  )
  add(...birthDateForms(id.birthDate), toWarekiDigits(id.birthDate))
}
