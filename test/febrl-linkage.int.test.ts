import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { beforeAll, expect, it } from 'vitest'
import { evaluateAgainstTruth, runLinkage, VariantTable } from '../src/identity/index.js'
import { addInstitution, openSubmission, receiveFiles, sealSubmission } from '../src/intake/index.js'
import { createWorker, receiveContext } from '../src/runtime/index.js'
import { describeEachDialect } from './support/database.js'
import { exists } from './support/files.js'
import { FEBRL_DIR, febrlAddress, febrlRow } from './support/linkage.js'
import { startTestServer, type TestServer } from './support/server.js'

/**
 * FEBRL4 end to end: the two files submitted by two institutions as FHIR Patient resources, through
 * intake into the vault, linked by the linkage job, and evaluated against the known pairs with the
 * truth file format of `tokumei link evaluate`. Python recordlinkage's tutorial pipelines reach F1
 * 0.79–0.92 on these files (../shared/peers/README.md).
 */
const FEBRL = FEBRL_DIR
const HAS_FEBRL = FEBRL !== '' && exists(FEBRL)
const CODES = { 'dataset4a.csv': '1310000101', 'dataset4b.csv': '1310000102' } as const

/** One FEBRL row as a FHIR R4 Patient (NDJSON line), and its truth row. */
function patientOf(line: string, code: string): { json: string; truth: string } {
  const r = febrlRow(line)
  const { id = '', given, surname, postcode, dob = '' } = r
  const birthDate = /^\d{8}$/.test(dob)
    ? `${dob.slice(0, 4)}-${dob.slice(4, 6)}-${dob.slice(6, 8)}`
    : undefined
  const valid = birthDate !== undefined && !Number.isNaN(Date.parse(`${birthDate}T00:00:00Z`))
  const resource = {
    resourceType: 'Patient',
    id,
    identifier: [{ system: 'urn:oid:1.2.392.100495.20.3.51.1', value: id }],
    name: [{ family: surname || undefined, given: given ? [given] : undefined }],
    ...(valid ? { birthDate } : {}),
    address: [
      {
        text: febrlAddress(r),
        postalCode: postcode || undefined,
      },
    ],
  }
  return { json: JSON.stringify(resource), truth: `${id.replace(/-(org|dup-\d+)$/, '')},${code},${id}` }
}

describeEachDialect('FEBRL4 through intake and linkage', (t) => {
  let server: TestServer
  const truth: string[] = ['person_id,institution_code,local_patient_id']

  beforeAll(async () => {
    if (!HAS_FEBRL) return
    // FEBRL's patients come without a dated visit, which the notice gate would hold for its period.
    server = await startTestServer(t, { env: { TOKUMEI_NOTICE_DAYS: '0' } })
    const receive = receiveContext(server.runtime)
    for (const [file, code] of Object.entries(CODES)) {
      const { institution } = await addInstitution(t.db.kysely, {
        code,
        name: `FEBRL ${file}`,
        noticeStart: '2000-01-01',
      })
      const lines = readFileSync(join(FEBRL, file), 'utf8').trim().split(/\r?\n/).slice(1)
      const patients = lines.map((line) => patientOf(line, code))
      truth.push(...patients.map((p) => p.truth))
      const id = await openSubmission(receive, {
        institutionId: institution.id,
        declaredFormat: 'fhir',
        channel: 'cli',
      })
      await receiveFiles(receive, id, [
        { path: 'Patient.ndjson', bytes: Buffer.from(`${patients.map((p) => p.json).join('\n')}\n`) },
      ])
      await sealSubmission(receive, id)
    }
    await createWorker(server.runtime).run({ untilIdle: true })
  }, 300_000)

  it.runIf(HAS_FEBRL)('links the two files with pairwise F1 ≥ 0.99', async () => {
    const summary = await runLinkage({
      db: t.db.kysely,
      keyring: t.keyring,
      actor: 'test',
      variants: VariantTable.builtin(),
      job: { id: 1, kind: 'link.run' },
    })
    expect(summary.records).toBe(10_000)
    const evaluation = await evaluateAgainstTruth(t.db.kysely, t.keyring, truth.join('\n'))
    console.info(
      `FEBRL4 through intake: F1 ${evaluation.pairwise.f1.toFixed(4)} (P ${evaluation.pairwise.precision.toFixed(4)}, R ${evaluation.pairwise.recall.toFixed(4)}), B-cubed F1 ${evaluation.bcubed.f1.toFixed(4)}`,
    )
    expect(evaluation).toMatchObject({ patients: 10_000, missing: 0 })
    expect(evaluation.pairwise.truePairs).toBe(5000)
    expect(evaluation.pairwise.f1).toBeGreaterThanOrEqual(0.99)
  })
})
