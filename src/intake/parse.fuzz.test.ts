import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { firstHospital, listFiles, useSyntheticData } from '../../test/support/files.js'
import type { ItemFormat } from '../db/index.js'
import { parseSpoolFile } from './parse.js'

/**
 * Fuzzing the readers as intake runs them: mutated samples of every format never throw, and every
 * problem they report is one sentence that quotes none of the file's personal data.
 */
type Mutation =
  | { op: 'truncate'; at: number }
  | { op: 'flip'; at: number; byte: number }
  | { op: 'insert'; at: number; bytes: number[] }
  | { op: 'delete'; at: number; length: number }
  | { op: 'duplicate'; at: number; length: number }

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ op: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ op: fc.constant('flip' as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    op: fc.constant('insert' as const),
    at: fc.nat(),
    // Delimiters, escapes, control and 8-bit bytes are where readers break.
    bytes: fc.array(
      fc.oneof(
        fc.constantFrom(0x00, 0x0d, 0x0a, 0x1b, 0x7c, 0x5e, 0x7e, 0x5c, 0x26, 0x2c, 0x22, 0x7b, 0x7d),
        fc.integer({ min: 0, max: 255 }),
      ),
      {
        minLength: 1,
        maxLength: 8,
      },
    ),
  }),
  fc.record({ op: fc.constant('delete' as const), at: fc.nat(), length: fc.integer({ min: 1, max: 64 }) }),
  fc.record({
    op: fc.constant('duplicate' as const),
    at: fc.nat(),
    length: fc.integer({ min: 1, max: 256 }),
  }),
)

function mutate(bytes: Buffer, mutations: readonly Mutation[]): Buffer {
  let out = Buffer.from(bytes)
  for (const m of mutations) {
    const at = out.length === 0 ? 0 : m.at % out.length
    switch (m.op) {
      case 'truncate':
        out = out.subarray(0, at)
        break
      case 'flip':
        if (out.length > 0) out[at] = m.byte
        break
      case 'insert':
        out = Buffer.concat([out.subarray(0, at), Buffer.from(m.bytes), out.subarray(at)])
        break
      case 'delete':
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + m.length)])
        break
      case 'duplicate':
        out = Buffer.concat([out.subarray(0, at + m.length), out.subarray(at)])
        break
    }
  }
  return out
}

const generate = useSyntheticData()

describe('intake readers under mutated input', () => {
  const samples: Array<{ format: ItemFormat; path: string; bytes: Buffer; personal: string[] }> = []

  beforeAll(async () => {
    const { dir } = await generate({
      // Enough persons that some have imaging studies.
      persons: 15,
      hospitals: 1,
      seed: 'fuzz',
      formats: ['ssmix2', 'uke', 'fhir', 'dicom'],
    })
    const hospital = firstHospital(dir)
    const base = join(dir, hospital)
    const files = listFiles(base)
    const pick = (format: ItemFormat, test: (path: string) => boolean, count: number) => {
      for (const path of files.filter(test).slice(0, count)) {
        const bytes = readFileSync(join(base, path))
        const parsed = parseSpoolFile(format, path, bytes)
        expect(parsed.problems, path).toEqual([])
        // What the unmutated file says of the person: no problem text may repeat it.
        const identities = [
          ...parsed.records.map((r) => r.record.identity),
          ...parsed.fhirPatients.map((p) => p.identity),
        ]
        const personal = identities.flatMap((i) =>
          [
            i.surname,
            i.given,
            i.surnameKana,
            i.givenKana,
            i.address,
            i.localId,
            i.insurerNumber,
            ...(i.phones ?? []),
          ].filter((v): v is string => typeof v === 'string' && v.length >= 2),
        )
        samples.push({ format, path, bytes, personal })
      }
    }
    // One file of each SS-MIX2 data type present, so that every segment grammar is exercised.
    const seen = new Set<string>()
    pick(
      'ssmix2',
      (p) => {
        const type = p.startsWith('ssmix2/') ? p.split('/').at(-2) : undefined
        if (!type || seen.has(type)) return false
        seen.add(type)
        return true
      },
      20,
    )
    pick('uke', (p) => p.toUpperCase().endsWith('.UKE'), 1)
    pick('fhir', (p) => p.endsWith('.ndjson'), 2)
    pick('fhir', (p) => p.endsWith('.json'), 1)
    pick('dicom', (p) => p.endsWith('.dcm'), 2)
    expect(new Set(samples.map((s) => s.format))).toEqual(new Set(['ssmix2', 'uke', 'fhir', 'dicom']))
  })

  it('never throw, and report problems by place without quoting personal data', () => {
    fc.assert(
      fc.property(fc.nat(), fc.array(mutation, { minLength: 1, maxLength: 4 }), (which, mutations) => {
        const sample = samples[which % samples.length] as (typeof samples)[number]
        const bytes = mutate(sample.bytes, mutations)
        const parsed = parseSpoolFile(sample.format, sample.path, bytes)
        // Problems name the file by its raw path, which intake masks before storing (maskPath).
        const fileName = sample.path.split('/').at(-1) as string
        for (const problem of parsed.problems) {
          const reason = problem.reason.replaceAll(sample.path, '<path>').replaceAll(fileName, '<file>')
          expect(problem.code).toMatch(/^[a-z0-9]+\.[a-z_]+$/)
          expect(problem.reason.length).toBeGreaterThan(0)
          expect(problem.reason.length).toBeLessThan(400)
          expect(problem.reason).not.toMatch(/\n/)
          for (const value of sample.personal) expect(reason).not.toContain(value)
        }
      }),
      { numRuns: 1500 },
    )
  })

  it('read a file of random bytes, and an empty one where the format needs content, as a problem', () => {
    const noise = Buffer.from(Array.from({ length: 300 }, (_, i) => (i * 131 + 7) % 256))
    for (const sample of samples) {
      expect(parseSpoolFile(sample.format, sample.path, noise).problems.length, sample.path).toBeGreaterThan(
        0,
      )
      // An empty NDJSON file is a valid file of no resources.
      if (sample.format === 'fhir') continue
      expect(
        parseSpoolFile(sample.format, sample.path, Buffer.alloc(0)).problems.length,
        sample.path,
      ).toBeGreaterThan(0)
    }
  })
})
