import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Encoding from 'encoding-japanese'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { anonymizeTable } from './anonymize.js'
import { parseCsv, tableToCsv } from './csv.js'
import { anonymizeFiles } from './files.js'
import { parsePolicy, policyJsonSchema } from './policy/policy.js'
import { assessRisk } from './risk/risk.js'
import { tableFromRows } from './table.js'
import { dateOffset, pseudonym, shiftDate } from './transform/transform.js'
import { verifyAnonymization } from './verify/verify.js'

const KEY = Buffer.alloc(32, 7)
const work = mkdtempSync(join(tmpdir(), 'tk-anonymize-'))
let n = 0
const write = (name: string, text: string) => {
  const path = join(work, `${n++}-${name}`)
  writeFileSync(path, text)
  return path
}

describe('the policy', () => {
  it('takes the minimal form and fills the defaults', () => {
    const policy = parsePolicy(
      'columns:\n  age: { role: quasi-identifying }\n  x: { role: sensitive }\nprivacy:\n  k: 5\n',
      'p.yaml',
    )
    expect(policy.privacy).toEqual({ k: 5, suppression: 0 })
    expect(policy.metric).toBe('loss')
    expect(policy.csv.encoding).toBe('auto')
  })

  it('points at the line of every mistake', () => {
    const bad = (text: string) => () => parsePolicy(text, 'p.yaml')
    expect(bad('columns:\n  age: { role: quasi }\n')).toThrow(
      /p\.yaml, line 2: columns\.age\.role: must be one of identifying/,
    )
    expect(bad('columns:\n  age: { role: sensitive }\nprivacy:\n  k: 0\n')).toThrow(
      /line 4: privacy\.k: must be at least 1/,
    )
    expect(bad('columns:\n  a: { role: sensitive }\nprivacy:\n  k: 2\n  colour: red\n')).toThrow(
      /line 5: privacy: unknown key colour/,
    )
    expect(bad('columns:\n  name: { role: identifying, transform: keep }\n')).toThrow(
      /line 2: columns\.name\.transform: an identifying column must be dropped/,
    )
    expect(bad('columns:\n  age:\n    role: quasi-identifying\n    top-code: 90\n')).toThrow(
      /line 4: columns\.age\.top-code: a quasi-identifier is coded through its hierarchy/,
    )
    expect(bad('columns:\n  d: { role: insensitive, transform: date-shift }\n')).toThrow(
      /line 2: .*needs `person:`/,
    )
    expect(bad('columns:\n  a: [1\n')).toThrow(/p\.yaml, line \d: not valid YAML/)
    expect(
      bad('columns:\n  a: { role: quasi-identifying, hierarchy: { builtin: age, bands: [0] } }\n'),
    ).toThrow(/line 2/)
  })

  it('is published as a JSON Schema that matches docs/policy.schema.json', () => {
    const published = JSON.parse(
      readFileSync(join(import.meta.dirname, '..', '..', 'docs', 'policy.schema.json'), 'utf8'),
    )
    expect(published).toEqual(policyJsonSchema())
  })
})

describe('transforms', () => {
  it('pseudonymizes by the key: the same value the same pseudonym, another key another', () => {
    expect(pseudonym(KEY, 'P-001')).toBe(pseudonym(KEY, 'P-001'))
    expect(pseudonym(KEY, 'P-001')).not.toBe(pseudonym(KEY, 'P-002'))
    expect(pseudonym(KEY, 'P-001')).not.toBe(pseudonym(Buffer.alloc(32, 8), 'P-001'))
    expect(pseudonym(KEY, 'P-001')).toMatch(/^[a-z2-7]{16}$/)
  })

  it('shifts every date of a person by one offset, so that intervals stay exact', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }),
        fc.integer({ min: 0, max: 20000 }),
        fc.integer({ min: 0, max: 3000 }),
        fc.integer({ min: 1, max: 3650 }),
        (person, start, gap, days) => {
          const offset = dateOffset(KEY, person, days)
          expect(offset).not.toBe(0)
          expect(Math.abs(offset)).toBeLessThanOrEqual(days)
          const iso = (d: number) =>
            new Date(Date.UTC(1980, 0, 1) + d * 86_400_000).toISOString().slice(0, 10)
          const a = shiftDate(iso(start), offset) as string
          const b = shiftDate(iso(start + gap), offset) as string
          expect((Date.parse(b) - Date.parse(a)) / 86_400_000).toBe(gap)
          expect((Date.parse(a) - Date.parse(iso(start))) / 86_400_000).toBe(offset)
        },
      ),
    )
    expect(shiftDate('20240229', 1)).toBe('20240301')
    expect(shiftDate('2024-02-30', 1)).toBeUndefined()
  })
})

describe('risk', () => {
  it('reads the three attackers and uniqueness off the class sizes', () => {
    // Classes of 1, 2, 2 and 5 records: 10 records.
    const risk = assessRisk([1, 2, 2, 5], { threshold: 0.4 })
    expect(risk.records).toBe(10)
    expect(risk.prosecutor.highest).toBe(1)
    expect(risk.prosecutor.average).toBeCloseTo(4 / 10, 12)
    expect(risk.prosecutor.recordsAtRisk).toBeCloseTo(5 / 10, 12)
    expect(risk.marketer).toBeCloseTo(4 / 10, 12)
    expect(risk.sampleUniques).toBeCloseTo(1 / 10, 12)
    expect(risk.histogram.find((b) => b.size === '2')).toEqual({ size: '2', classes: 2, records: 4 })
    // A tenth of a population of 100: a journalist's odds shrink with the sampling fraction.
    const sample = assessRisk([1, 2, 2, 5], { population: 100 })
    expect(sample.journalist.highest).toBeCloseTo(0.1, 12)
    const u = sample.populationUniqueness
    expect(u).toBeDefined()
    for (const value of Object.values(u?.models ?? {}))
      if (value !== null) expect(value).toBeGreaterThanOrEqual(0)
    // When the data are the population, its uniques are the sample's.
    const whole = assessRisk([1, 1, 3], { population: 5 })
    expect(whole.populationUniqueness?.uniques).toBe(2)
  })

  it('estimates more population uniques from more sample uniques (every model that answers)', () => {
    const fewer = assessRisk([...Array(50).fill(1), ...Array(200).fill(3)], { population: 20000 })
    const more = assessRisk([...Array(300).fill(1), ...Array(200).fill(3)], { population: 20000 })
    for (const model of ['pitman', 'zayatz', 'snb'] as const) {
      const a = fewer.populationUniqueness?.models[model]
      const b = more.populationUniqueness?.models[model]
      if (a !== null && a !== undefined && b !== null && b !== undefined) expect(b, model).toBeGreaterThan(a)
    }
    expect(more.populationUniqueness?.model).not.toBe('none')
  })
})

/** A small hospital extract with canary identities. */
function extract(rows: number, seed = 1) {
  let s = seed
  const random = () => {
    s = (s * 16807) % 2147483647
    return s / 2147483647
  }
  const header = [
    'patient_id',
    'name',
    'phone',
    'birth_year',
    'sex',
    'municipality',
    'admitted',
    'diagnosis',
    'los',
    'note',
  ]
  const body: string[][] = []
  for (let r = 0; r < rows; r++)
    body.push([
      `CANARY-ID-${String(r).padStart(5, '0')}`,
      `カナリア太郎${r}`,
      `090-9999-${String(r).padStart(4, '0')}`,
      String(1930 + Math.floor(random() * 80)),
      random() < 0.5 ? 'M' : 'F',
      ['13101', '13102', '14100', '27100', '01100', '40130'][Math.floor(random() * 6)] as string,
      `20${String(18 + Math.floor(random() * 5))}-0${1 + Math.floor(random() * 9)}-1${Math.floor(random() * 9)}`,
      ['E11', 'E119', 'I10', 'I21', 'J18', 'C50', 'K35'][Math.floor(random() * 7)] as string,
      String(Math.floor(random() * 30)),
      `カナリア太郎${r}さんは退院`,
    ])
  return { header, body }
}

const POLICY = `columns:
  patient_id:   { role: identifying, kind: linking-code, transform: pseudonymize }
  name:         { role: identifying }
  phone:        { role: identifying, kind: code }
  birth_year:   { role: quasi-identifying, hierarchy: { builtin: interval, width: 5, levels: 3 } }
  sex:          { role: quasi-identifying }
  municipality: { role: quasi-identifying, hierarchy: { builtin: municipality } }
  admitted:     { role: insensitive, transform: date-shift }
  diagnosis:    { role: sensitive, l-diversity: { l: 2 } }
  los:          { role: insensitive, top-code: 20 }
  note:         { role: insensitive, type: free-text }
person: patient_id
privacy: { k: 3, suppression: 0.05 }
metric: loss
`

describe('anonymizing a table', () => {
  it('meets the model, drops and pseudonymizes, shifts dates, and reports the five measures', async () => {
    const { header, body } = extract(400)
    const table = tableFromRows(header, body)
    const policy = parsePolicy(POLICY, join(work, 'policy.yaml'))
    const { output, report } = await anonymizeTable(table, policy, { key: KEY })
    expect(output.names).toEqual([
      'patient_id',
      'birth_year',
      'sex',
      'municipality',
      'admitted',
      'diagnosis',
      'los',
    ])
    expect(report.summary.k).toBeGreaterThanOrEqual(3)
    expect(report.summary.suppressed).toBeLessThanOrEqual(20)
    expect(report.measures.map((m) => m.id)).toEqual([1, 2, 3, 4, 5])
    expect(report.measures[0]?.columns).toEqual(['name'])
    expect(report.measures[1]?.columns).toEqual(['phone'])
    expect(report.measures[2]?.columns).toEqual(['patient_id'])
    expect(report.measures.every((m) => m.satisfied)).toBe(true)
    // Intervals between a person's dates are kept: the same person, the same offset.
    const id = output.column('patient_id')
    expect(id && output.value(id, 0)).toMatch(/^[a-z2-7]{16}$/)
    // Canaries: no identifying value anywhere in the output or the report.
    const text = tableToCsv(output, ',') + JSON.stringify(report)
    expect(text).not.toMatch(/CANARY|カナリア|090-9999/)
    const los = output.column('los')
    expect(los?.dictionary.every((v) => v === '>=20' || Number(v) < 20)).toBe(true)
    // The independent verifier agrees.
    const input = parseCsv(tableToCsv(table, ','), 'in.csv', ',')
    const written = parseCsv(tableToCsv(output, ','), 'out.csv', ',')
    expect(verifyAnonymization({ input, output: written, policy }).ok).toBe(true)
  })

  it('refuses a column the policy does not name', async () => {
    const table = tableFromRows(['a', 'b'], [['1', '2']])
    const policy = parsePolicy('columns:\n  a: { role: insensitive }\n', 'p.yaml')
    await expect(anonymizeTable(table, policy, { key: KEY })).rejects.toThrow(
      /The input's column b has no role in the policy/,
    )
  })

  it('satisfies k, ℓ and t on random tables, as the verifier recomputes them — or fails loudly', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 5, max: 150 }),
        fc.integer({ min: 1, max: 6 }),
        fc.constantFrom(0, 0.05, 0.1),
        fc.option(fc.integer({ min: 2, max: 3 }), { nil: undefined }),
        fc.option(fc.constantFrom(0.3, 0.6), { nil: undefined }),
        fc.constantFrom('equal', 'hierarchical'),
        fc.integer({ min: 1, max: 1000 }),
        async (rows, k, suppression, l, t, distance, seed) => {
          const { header, body } = extract(rows, seed)
          const table = tableFromRows(header, body)
          const privacy = [`k: ${k}`, `suppression: ${suppression}`]
          const diagnosis = [
            'role: sensitive',
            ...(l ? [`l-diversity: { l: ${l}, variant: entropy }`] : []),
            ...(t
              ? [`t-closeness: { t: ${t}, distance: ${distance} }`, 'hierarchy: { builtin: icd10 }']
              : []),
          ]
          const text = POLICY.replace(
            / {2}diagnosis: .*\n/,
            `  diagnosis: { ${diagnosis.join(', ')} }\n`,
          ).replace(/privacy: .*\n/, `privacy: { ${privacy.join(', ')} }\n`)
          const policy = parsePolicy(text, join(work, 'policy.yaml'))
          let result: Awaited<ReturnType<typeof anonymizeTable>>
          try {
            result = await anonymizeTable(table, policy, { key: KEY })
          } catch (error) {
            expect((error as { code?: string }).code).toBe('anonymize.no_solution')
            return
          }
          const input = parseCsv(tableToCsv(table, ','), 'in.csv', ',')
          const output = parseCsv(tableToCsv(result.output, ','), 'out.csv', ',')
          const verification = verifyAnonymization({ input, output, policy })
          expect(verification.checks.filter((c) => !c.ok)).toEqual([])
        },
      ),
      { numRuns: 120 },
    )
  })
})

describe('the verifier', () => {
  it('passes the engine’s output and catches every kind of tampering', async () => {
    const { header, body } = extract(200, 3)
    const table = tableFromRows(header, body)
    const policy = parsePolicy(POLICY, join(work, 'policy.yaml'))
    const { output } = await anonymizeTable(table, policy, { key: KEY })
    const input = parseCsv(tableToCsv(table, ','), 'in.csv', ',')
    const good = parseCsv(tableToCsv(output, ','), 'out.csv', ',')
    const failed = (changed: typeof good) =>
      verifyAnonymization({ input, output: changed, policy })
        .checks.filter((c) => !c.ok)
        .map((c) => c.name)
    expect(failed(good)).toEqual([])
    // A dropped column left in.
    expect(
      failed({
        ...good,
        header: [...good.header, 'name'],
        rows: good.rows.map((r, i) => [...r, body[i]?.[1] ?? '']),
      }),
    ).toContain('columns')
    // A dropped value copied into a kept column.
    const leaked = good.rows.map((r) => [...r])
    ;(leaked[3] as string[])[6] = body[0]?.[2] as string
    expect(failed({ ...good, rows: leaked })).toContain('dropped values absent')
    // A pseudonym replaced by the patient ID.
    const ids = good.rows.map((r) => [...r])
    ;(ids[0] as string[])[0] = body[5]?.[0] as string
    expect(failed({ ...good, rows: ids })).toContain('pseudonyms of patient_id')
    // More records removed than the 5 % allowed (10 of 200).
    expect(failed({ ...good, rows: good.rows.slice(0, input.rows.length - 11) })).toContain('suppression')
    const unique = good.rows.map((r) => [...r])
    ;(unique[0] as string[])[1] = 'singled out'
    expect(failed({ ...good, rows: unique })).toContain('k-anonymity')
    // A class made one-valued in its sensitive column.
    const key = (r: string[]) => [r[1], r[2], r[3]].join('|')
    const first = good.rows[0] as string[]
    const same = good.rows.map((r) => (key(r) === key(first) ? [...r.slice(0, 5), 'Z99', ...r.slice(6)] : r))
    expect(failed({ ...good, rows: same })).toContain('distinct ℓ-diversity of diagnosis')
  })
})

describe('tokumei anonymize on files', () => {
  it('writes data.csv and report.json only when the verifier passes, and refuses a non-empty directory', async () => {
    const { header, body } = extract(300, 9)
    const input = write('in.csv', [header, ...body].map((r) => r.join(',')).join('\n'))
    const policy = write('policy.yaml', POLICY)
    const out = join(work, 'out')
    const { report, files } = await anonymizeFiles({ policy, input, out, key: KEY })
    expect(readdirSync(out).sort()).toEqual(['data.csv', 'report.json'])
    expect(report.verification.ok).toBe(true)
    expect(JSON.parse(readFileSync(files.report, 'utf8')).summary.k).toBeGreaterThanOrEqual(3)
    expect(readFileSync(files.data, 'utf8')).not.toMatch(/CANARY|カナリア|090-9999/)
    await expect(anonymizeFiles({ policy, input, out, key: KEY })).rejects.toThrow(/is not empty/)
    expect(existsSync(join(out, 'verification-failed.json'))).toBe(false)
  })

  it('reads a CP932 file and names the line of a broken row', async () => {
    const policy = write(
      'p.yaml',
      'columns:\n  名前: { role: identifying }\n  年齢: { role: quasi-identifying, hierarchy: { builtin: age } }\nprivacy: { k: 1 }\n',
    )
    const text = '名前,年齢\n山田,34\n佐藤,35\n'
    const bytes = encodeCp932(text)
    const input = join(work, 'cp932.csv')
    writeFileSync(input, bytes)
    const { report } = await anonymizeFiles({ policy, input, out: join(work, 'out-cp932'), key: KEY })
    expect(report.output.columns).toEqual(['年齢'])
    const broken = write('broken.csv', '名前,年齢\n山田,34\n佐藤,35,extra\n')
    await expect(
      anonymizeFiles({ policy, input: broken, out: join(work, 'out-broken'), key: KEY }),
    ).rejects.toThrow(/broken\.csv, line 3: the row has a different number of fields from the header/)
  })
})

/** The text in CP932 (Shift_JIS), as a Japanese spreadsheet saves it. */
function encodeCp932(text: string): Uint8Array {
  return Uint8Array.from(Encoding.convert(Encoding.stringToCode(text), { to: 'SJIS', from: 'UNICODE' }))
}
