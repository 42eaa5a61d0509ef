import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { sharedData, useSyntheticData } from '../../../test/support/files.js'
import { isTokumeiError } from '../../model/index.js'
import { mapFhirResource, readFhirBundle, readFhirNdjson } from './index.js'

const FHIR = sharedData('fhir')
const JP = join(FHIR, 'jp-core-r4-1.1.1-snap_examples')
const BULK = join(FHIR, 'smart-on-fhir_sample-bulk-fhir-datasets', '10-patients')
const example = (name: string) => JSON.parse(readFileSync(join(JP, `${name}.json`), 'utf8'))

describe.runIf(existsSync(JP))('FHIR reader on the JP Core examples', () => {
  it('reads the JP Core patient: local ID by the institution system, IDE and SYL names', () => {
    expect(mapFhirResource(example('Patient-jp-patient-example-1'), 'example')).toEqual({
      kind: 'patient',
      id: 'jp-patient-example-1',
      identity: {
        localId: '00000010',
        surname: '山田',
        given: '太郎',
        surnameKana: 'ヤマダ',
        givenKana: 'タロウ',
        birthDate: '1970-01-01',
        sex: 'M',
        postalCode: '1600023',
        address: '東京都新宿区',
        phones: ['0312345678'],
      },
    })
  })

  it('reads clinical resources without the names their references display', () => {
    const condition = mapFhirResource(example('Condition-jp-condition-example-1'), 'example')
    expect(condition).toMatchObject({
      kind: 'item',
      patient: 'jp-patient-example-1',
      item: { kind: 'condition', name: 'KRAS野生型の転移性結腸直腸癌' },
    })
    expect(JSON.stringify(condition)).not.toContain('山田')
    const request = mapFhirResource(example('MedicationRequest-jp-medicationrequest-example-1'), 'example')
    expect(request).toMatchObject({
      kind: 'item',
      item: { kind: 'medication', hot9: '103835401', name: 'ムコダイン錠２５０ｍｇ', route: 'PO', days: 3 },
    })
    const lab = mapFhirResource(example('Observation-jp-observation-labresult-example-1'), 'example')
    expect(lab).toMatchObject({
      kind: 'item',
      item: { kind: 'lab', jlac10: '3C020000002327101', numeric: 3.5, unit: 'mg/dL' },
    })
    for (const file of readdirSync(JP).filter(
      (f) => /^[A-Z]\w+-.+\.json$/.test(f) && !f.startsWith('Patient-'),
    )) {
      const entry = mapFhirResource(JSON.parse(readFileSync(join(JP, file), 'utf8')), file)
      expect(JSON.stringify(entry)).not.toContain('山田 太郎')
    }
  })
})

describe.runIf(existsSync(BULK))('FHIR reader on the Synthea bulk sample', () => {
  it('reads every line of every file without a problem', () => {
    const counts = new Map<string, number>()
    for (const file of readdirSync(BULK).filter((f) => f.endsWith('.ndjson') && f !== 'log.ndjson')) {
      for (const line of readFhirNdjson(readFileSync(join(BULK, file), 'utf8'), file)) {
        expect(line.problem).toBeUndefined()
        counts.set(line.entry?.kind as string, (counts.get(line.entry?.kind as string) ?? 0) + 1)
      }
    }
    expect(counts.get('patient')).toBe(13)
    expect(counts.get('item')).toBeGreaterThan(5000)
  })
})

describe('FHIR reader on bad input', () => {
  it('reports a bad line by number and goes on', () => {
    const lines = [
      ...readFhirNdjson(
        '{"resourceType":"Patient","id":"a"}\n{broken\n[1,2]\n{"resourceType":"Condition","subject":{"reference":"Patient/a"},"code":{"text":"x"}}\n',
        'Condition.ndjson',
      ),
    ]
    expect(lines.map((l) => l.problem ?? l.entry?.kind)).toEqual([
      'patient',
      'Condition.ndjson line 2: not valid JSON',
      'Condition.ndjson line 3: not a FHIR resource (no resourceType).',
      'item',
    ])
  })

  it('throws nothing but TokumeiErrors on any JSON value', () => {
    fc.assert(
      fc.property(
        fc.jsonValue(),
        fc.constantFrom(
          'Patient',
          'Condition',
          'Observation',
          'MedicationRequest',
          'Encounter',
          'DocumentReference',
        ),
        (value, type) => {
          const shaped =
            typeof value === 'object' && value !== null && !Array.isArray(value)
              ? { ...value, resourceType: type, subject: { reference: 'Patient/p' } }
              : value
          try {
            mapFhirResource(shaped, 'fuzz')
          } catch (error) {
            expect(isTokumeiError(error)).toBe(true)
          }
        },
      ),
      { numRuns: 1000 },
    )
  })

  it('reads a Bundle, tying patients to their fullUrl', () => {
    const bundle = {
      resourceType: 'Bundle',
      entry: [{ fullUrl: 'urn:uuid:1', resource: { resourceType: 'Patient', id: 'p' } }],
    }
    expect([...readFhirBundle(bundle, 'b.json')][0]?.entry).toMatchObject({
      kind: 'patient',
      id: 'urn:uuid:1',
    })
  })
})

describe('FHIR reader on the synthetic NDJSON (round trip with the writer)', () => {
  const generate = useSyntheticData()

  it('reads every resource; every item belongs to a patient of the same file set', async () => {
    const { dir: out, report } = await generate({
      persons: 50,
      hospitals: 2,
      seed: 'fhir',
      formats: ['fhir'],
    })
    for (const h of report.hospitals) {
      const dir = join(out, h.code, 'fhir')
      const patients = new Set<string>()
      const items: string[] = []
      for (const file of readdirSync(dir)) {
        for (const line of readFhirNdjson(readFileSync(join(dir, file), 'utf8'), file)) {
          expect(line.problem).toBeUndefined()
          if (line.entry?.kind === 'patient') {
            patients.add(line.entry.id)
            expect(line.entry.identity.surnameKana).toBeTruthy()
          }
          if (line.entry?.kind === 'item') items.push(line.entry.patient)
        }
      }
      expect(items.length).toBeGreaterThan(50)
      for (const p of items) expect(patients).toContain(p)
    }
  })
})
