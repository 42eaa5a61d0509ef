import { execFileSync, spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import dcmjs from 'dcmjs'
import Encoding from 'encoding-japanese'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkStorageFile, parseStorageFileName } from '../formats/ssmix2/index.js'
import { fromWarekiDigits } from '../formats/wareki.js'
import { generateSyntheticData, SYNTH_FORMATS, type SynthReport } from './generate.js'
import { defaultSharedDataDir, loadNameTables } from './names.js'
import { checkDigit, createPopulation, generatePerson, makeHospitals, type Person } from './population.js'
import { RARE_ICD10 } from './reference.js'

const shared = defaultSharedDataDir(process.env)

function files(root: string, dir = root): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f)
    return statSync(p).isDirectory() ? files(root, p) : [relative(root, p)]
  })
}

function treeDigest(root: string): Map<string, string> {
  return new Map(
    files(root).map((f) => [
      f,
      createHash('sha256')
        .update(readFileSync(join(root, f)))
        .digest('hex'),
    ]),
  )
}

const made: string[] = []
afterAll(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true })
})

async function generate(seed: string, persons = 150): Promise<{ dir: string; report: SynthReport }> {
  const dir = mkdtempSync(join(tmpdir(), 'tk-synth-'))
  made.push(dir)
  const report = await generateSyntheticData({
    persons,
    hospitals: 4,
    seed,
    out: dir,
    formats: new Set(SYNTH_FORMATS),
    sharedDataDir: shared,
  })
  return { dir, report }
}

const hasDcmdump = spawnSync('dcmdump', ['--version']).status === 0

describe('tokumei synth output', () => {
  let dir: string
  let report: SynthReport
  let all: string[]

  beforeAll(async () => {
    ;({ dir, report } = await generate('alpha'))
    all = files(dir)
  })

  it('writes every format for every hospital, with 10-digit institution codes', () => {
    expect(report.hospitals).toHaveLength(4)
    for (const h of report.hospitals) {
      expect(h.code).toMatch(/^\d{10}$/)
      expect(h.code.slice(2, 3)).toBe('1')
      expect(checkDigit(h.code.slice(3, 9))).toBe(h.code.slice(9))
      for (const format of ['ssmix2', 'uke', 'fhir'])
        expect(all.some((f) => f.startsWith(`${h.code}/${format}/`))).toBe(true)
    }
    expect(all.some((f) => f.endsWith('.dcm'))).toBe(true)
    expect(all.some((f) => /\/notes\/.+\.txt$/.test(f))).toBe(true)
  })

  it('writes SS-MIX2 trees that pass the structure check, with every required data type and condition flag', () => {
    const ssmix = all.filter((f) => f.includes('/ssmix2/'))
    const types = new Set<string>()
    const flags = new Set<string>()
    for (const file of ssmix) {
      const rel = file.slice(file.indexOf('/ssmix2/') + '/ssmix2/'.length)
      expect(checkStorageFile(rel, readFileSync(join(dir, file)))).toEqual([])
      const name = parseStorageFileName(rel.split('/').at(-1) as string)
      types.add(name?.dataType as string)
      flags.add(name?.flag as string)
    }
    for (const type of [
      'ADT-00',
      'ADT-12',
      'ADT-22',
      'ADT-52',
      'ADT-61',
      'PPR-01',
      'OMP-01',
      'OMP-02',
      'OML-11',
    ])
      expect(types).toContain(type)
    expect([...flags].sort()).toEqual(['0', '1', '2'])
  })

  it('writes .UKE claims that are CP932 with CRLF, known record ids, IR first and GO last', () => {
    const uke = all.filter((f) => f.endsWith('RECEIPTC.UKE'))
    expect(uke.length).toBeGreaterThan(10)
    const known = new Set(['IR', 'RE', 'HO', 'KO', 'SN', 'SY', 'SI', 'IY', 'TO', 'CO', 'SJ', 'GO'])
    const seen = new Set<string>()
    let wareki = 0
    let western = 0
    for (const file of uke) {
      const bytes = readFileSync(join(dir, file))
      const text = Encoding.codeToString(Encoding.convert(Array.from(bytes), { to: 'UNICODE', from: 'SJIS' }))
      expect(
        Buffer.from(Encoding.convert(Encoding.stringToCode(text), { to: 'SJIS', from: 'UNICODE' })),
      ).toEqual(bytes)
      expect(text.endsWith('\r\n')).toBe(true)
      const lines = text.slice(0, -2).split('\r\n')
      for (const line of lines) {
        expect(line).not.toContain('\n')
        const id = line.slice(0, 2)
        expect(known).toContain(id)
        seen.add(id)
      }
      expect(lines[0]?.startsWith('IR,')).toBe(true)
      const go = (lines.at(-1) as string).split(',')
      expect(go[0]).toBe('GO')
      expect(Number(go[1])).toBe(lines.filter((l) => l.startsWith('RE,')).length)
      for (const re of lines.filter((l) => l.startsWith('RE,'))) {
        const birth = re.split(',')[6] as string
        if (/^\d{7}$/.test(birth)) {
          wareki++
          expect(fromWarekiDigits(birth)).toBeDefined()
        } else {
          western++
          expect(birth).toMatch(/^\d{8}$/)
        }
      }
    }
    for (const id of ['IR', 'RE', 'HO', 'SY', 'SI', 'IY', 'TO', 'CO', 'GO']) expect(seen).toContain(id)
    expect(wareki).toBeGreaterThan(0)
    expect(western).toBeGreaterThan(0)
  })

  it('writes FHIR NDJSON whose every line parses as its resource type, with JP Core identifiers and names', () => {
    const ndjson = all.filter((f) => f.endsWith('.ndjson'))
    const types = new Set(ndjson.map((f) => (f.split('/').at(-1) as string).replace('.ndjson', '')))
    for (const type of [
      'Patient',
      'Encounter',
      'Condition',
      'MedicationRequest',
      'Observation',
      'Procedure',
      'ImagingStudy',
      'DocumentReference',
      'AllergyIntolerance',
    ]) {
      expect(types).toContain(type)
    }
    for (const file of ndjson) {
      const type = (file.split('/').at(-1) as string).replace('.ndjson', '')
      const code = file.split('/')[0] as string
      for (const line of readFileSync(join(dir, file), 'utf8').trim().split('\n')) {
        const resource = JSON.parse(line)
        expect(resource.resourceType).toBe(type)
        expect(typeof resource.id).toBe('string')
        if (type === 'Patient') {
          expect(resource.identifier[0].system).toBe(`urn:oid:1.2.392.100495.20.3.51.1${code}`)
          expect(
            resource.name.map((n: { extension: Array<{ valueCode: string }> }) => n.extension[0]?.valueCode),
          ).toEqual(['IDE', 'SYL'])
        }
      }
    }
  })

  it('writes DICOM that dcmjs reads back, with identities in the headers, private tags and burned-in images', () => {
    const dicom = all.filter((f) => f.endsWith('.dcm'))
    let privateTags = 0
    let burnedIn = 0
    for (const file of dicom) {
      const bytes = readFileSync(join(dir, file))
      const dict = dcmjs.data.DicomMessage.readFile(
        bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length),
      )
      const ds = dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict)
      expect(ds.PatientID).toMatch(/^\d{8,10}$/)
      expect(ds.PatientBirthDate).toMatch(/^\d{8}$/)
      expect(String(ds.StudyInstanceUID)).toMatch(/^2\.25\.\d+$/)
      if (dict.dict['00291010']) privateTags++
      if (ds.BurnedInAnnotation === 'YES') burnedIn++
    }
    expect(privateTags).toBeGreaterThan(0)
    expect(burnedIn).toBeGreaterThan(0)
  })

  it.runIf(hasDcmdump || process.env.CI === 'true')(
    'writes DICOM that dcmtk dcmdump reads without error',
    () => {
      const dicom = all.filter((f) => f.endsWith('.dcm')).map((f) => join(dir, f))
      const output = execFileSync('dcmdump', ['-q', ...dicom], {
        encoding: 'utf8',
        maxBuffer: 64 * 1024 * 1024,
      })
      expect(output).toContain('PatientName')
      expect(output).not.toMatch(/^E: /m)
    },
  )

  it('writes the ground truth: persons, canaries, opt-outs, notices, adverse events', () => {
    const persons = readFileSync(join(dir, 'truth/persons.csv'), 'utf8').trim().split('\n')
    expect(persons[0]).toBe('person_id,institution_code,local_patient_id')
    expect(persons).toHaveLength(report.personHospitalPairs + 1)
    const ssmixIds = new Set(
      all.filter((f) => f.includes('/ssmix2/')).map((f) => `${f.split('/')[0]}/${f.split('/')[4]}`),
    )
    for (const row of persons.slice(1)) {
      const [, code, local] = row.split(',')
      expect(ssmixIds).toContain(`${code}/${local}`)
    }
    expect(readFileSync(join(dir, 'truth/optouts.csv'), 'utf8').split('\n')[0]).toBe(
      'person_id,institution_code,refused_on',
    )
    expect(readFileSync(join(dir, 'truth/notices.csv'), 'utf8').trim().split('\n')).toHaveLength(5)
    const canaries = readFileSync(join(dir, 'truth/canaries.txt'), 'utf8').trim().split('\n')
    expect(canaries.every((c) => c.length > 0)).toBe(true)
    // Every patient ID and phone number written in a hospital's FHIR data is a canary.
    const canarySet = new Set(canaries)
    for (const file of all.filter((f) => f.endsWith('Patient.ndjson'))) {
      for (const line of readFileSync(join(dir, file), 'utf8').trim().split('\n')) {
        const patient = JSON.parse(line)
        expect(canarySet).toContain(patient.identifier[0].value)
        expect(canarySet).toContain(patient.telecom[0].value)
        expect(canarySet).toContain(patient.name[0].text)
        expect(canarySet).toContain(patient.address[0].text)
        expect(canarySet).toContain(patient.birthDate)
      }
    }
  })

  it('gives byte-identical output for the same seed and different output for another', async () => {
    const again = await generate('alpha')
    const other = await generate('beta')
    const a = treeDigest(dir)
    expect(treeDigest(again.dir)).toEqual(a)
    const b = treeDigest(other.dir)
    expect(b).not.toEqual(a)
    expect(readFileSync(join(other.dir, 'truth/persons.csv'), 'utf8')).not.toBe(
      readFileSync(join(dir, 'truth/persons.csv'), 'utf8'),
    )
  })
})

describe('the synthetic population is realistic where linkage and anonymization depend on it', () => {
  const names = loadNameTables(shared)
  const hospitals = makeHospitals('realism', 8)
  const population = createPopulation('realism', names, hospitals)
  const persons: Person[] = Array.from({ length: 4000 }, (_, i) => generatePerson(population, i))

  it('has common surnames common and rare ones rare', () => {
    const counts = new Map<string, number>()
    for (const p of persons) {
      const s = p.visits[0]?.identity.surname as string
      counts.set(s, (counts.get(s) ?? 0) + 1)
    }
    const ranked = [...counts.entries()].sort((a, b) => b[1] - a[1])
    expect(ranked.slice(0, 5).map(([s]) => s)).toEqual(expect.arrayContaining(['佐藤', '鈴木']))
    // 佐藤 holds ≈ 1.5 % of Japan; a list of 500 surnames puts more on each, but not a tenth.
    const top = (ranked[0]?.[1] ?? 0) / persons.length
    expect(top).toBeGreaterThan(0.01)
    expect(top).toBeLessThan(0.05)
    // The rare tail needs the full public list (500 surnames); the built-in fallback is short.
    if (names.source === 'shared') expect(ranked.filter(([, n]) => n <= 2).length).toBeGreaterThan(40)
  })

  it('sends people to 1–4 hospitals, a third of them to more than one', () => {
    const sizes = persons.map((p) => p.visits.length)
    expect(Math.min(...sizes)).toBe(1)
    expect(Math.max(...sizes)).toBe(4)
    const multi = sizes.filter((n) => n > 1).length / sizes.length
    expect(multi).toBeGreaterThan(0.3)
    expect(multi).toBeLessThan(0.6)
    expect(persons.every((p) => new Set(p.visits.map((v) => v.hospital.code)).size === p.visits.length)).toBe(
      true,
    )
  })

  it('records one person differently at different hospitals, as real records do', () => {
    const pairs = persons.flatMap((p) =>
      p.visits.slice(1).map((v) => [p.visits[0]?.identity, v.identity] as const),
    )
    const share = (test: (a: NonNullable<(typeof pairs)[0][0]>, b: (typeof pairs)[0][1]) => boolean) =>
      pairs.filter(([a, b]) => a && test(a, b)).length
    expect(share((a, b) => a.surname !== b.surname && a.surnameKana === b.surnameKana)).toBeGreaterThan(5) // 異体字
    expect(share((a, b) => a.surnameKana !== b.surnameKana && a.surname !== b.surname)).toBeGreaterThan(5) // marriage
    expect(share((a, b) => a.birthDate !== b.birthDate)).toBeGreaterThan(3) // typo or day/month swap
    expect(share((a, b) => a.municipalityCode !== b.municipalityCode)).toBeGreaterThan(10) // moved
    expect(share((a, b) => a.insurerNumber !== b.insurerNumber)).toBeGreaterThan(10)
    expect(share((a, b) => a.givenKana !== b.givenKana && a.given === b.given)).toBeGreaterThan(3) // small kana, typos
  })

  it('has different persons sharing a full name (Zipf-distributed names)', () => {
    const keys = persons.map((p) => `${p.visits[0]?.identity.surname}${p.visits[0]?.identity.given}`)
    expect(new Set(keys).size).toBeLessThan(keys.length)
  })

  it('has mild diabetics, rare diseases, imaging, admissions and drug-event pairs at a fixed interval', () => {
    const events = persons.flatMap((p) => p.visits.flatMap((v) => v.events))
    expect(events.some((e) => e.diagnoses.some((d) => d.icd10 === 'E11.9'))).toBe(true)
    expect([...RARE_ICD10].sort()).toEqual([
      'D86.9',
      'E22.0',
      'G12.2',
      'G70.0',
      'I67.5',
      'M31.4',
      'M32.9',
      'M35.2',
    ])
    expect(events.some((e) => e.diagnoses.some((d) => RARE_ICD10.has(d.icd10)))).toBe(true)
    expect(events.filter((e) => e.imaging).length).toBeGreaterThan(20)
    expect(events.filter((e) => e.kind === 'admission').length).toBeGreaterThan(20)
    const adverse = persons.flatMap((p) => p.adverseEvents)
    expect(adverse.length).toBeGreaterThan(5)
    for (const ae of adverse) {
      expect((Date.parse(ae.onset) - Date.parse(ae.start)) / 86_400_000).toBe(ae.intervalDays)
    }
  })
})
