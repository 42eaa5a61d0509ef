import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { listFiles as files, sharedData } from '../../../test/support/files.js'
import { checkStorageFile } from './index.js'

const SAMPLES = sharedData('ssmix2', 'nhoHQ_SSMIX2DataTestingTool', 'sampleData')

// The guideline samples live in shared/data beside the repository (always there in CI).
describe.runIf(existsSync(SAMPLES))('SS-MIX2 structure check', () => {
  it('passes every guideline sample message', () => {
    const good = files(SAMPLES).filter((f) => f.startsWith('999/901/9999013/'))
    expect(good).toHaveLength(19)
    for (const file of good) {
      expect(
        checkStorageFile(file, readFileSync(join(SAMPLES, file)), { patientIdMustMatch: false }),
      ).toEqual([])
    }
    // The samples keep the guideline's example patient IDs inside; the strict check names exactly those.
    const mismatched = good.filter(
      (file) => checkStorageFile(file, readFileSync(join(SAMPLES, file))).length > 0,
    )
    expect(mismatched.map((f) => f.split('/')[4]).sort()).toEqual([
      'ADT-61',
      'OMD',
      'OMG-01',
      'OMG-02',
      'OMG-03',
      'OMG-11',
      'OMG-12',
      'OMG-13',
      'OML-11',
      'PPR-01',
    ])
  })

  it("fails each of the checking tool's deliberately broken cases, naming where", () => {
    const broken = files(SAMPLES).filter((f) => f.startsWith('000/000/0000001/'))
    expect(broken).toHaveLength(3)
    const problems = broken.map((file) => checkStorageFile(file, readFileSync(join(SAMPLES, file))))
    for (const p of problems) expect(p.length).toBeGreaterThan(0)
    const all = problems.flat().map((p) => `${p.where}: ${p.problem}`)
    expect(all).toContain('PID-3: the patient ID differs from the storage path')
    expect(all.some((p) => p.startsWith('segments: segment order does not fit OMP-11'))).toBe(true)
    expect(all).toContain('file name: the patient ID differs from its folder')
    expect(all).toContain('encoding: byte 0 is not 7-bit: the file is not ISO-2022-JP')
    for (const file of broken) {
      expect(
        checkStorageFile(file, readFileSync(join(SAMPLES, file)), { patientIdMustMatch: false }).length,
      ).toBeGreaterThan(0)
    }
  })
})
