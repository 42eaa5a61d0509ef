import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  ADULT_DIR as ADULT,
  ADULT_ATTRIBUTES as ATTRIBUTES,
  adultHierarchyFile,
  HAS_ADULT,
} from './support/adult.js'
import { runCli } from './support/cli.js'

/** `tokumei anonymize` and `tokumei risk` as a user runs them on ARX's Adult data. */

describe.runIf(HAS_ADULT)('tokumei anonymize and risk', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'tk-anonymize-cli-'))
  const run = (...args: string[]) => runCli(args, { cwd })

  it('anonymizes Adult with k = 5 and 2 % suppression as ARX does, and prints the summary as JSON', async () => {
    const file = join(cwd, 'adult.yaml')
    writeFileSync(
      file,
      `columns:\n${ATTRIBUTES.map((a) => `  ${a}: { role: quasi-identifying, hierarchy: ${adultHierarchyFile(a)} }`).join('\n')}\nprivacy:\n  k: 5\n  suppression: 0.02\nmetric: loss\ncsv: { delimiter: ";" }\n`,
    )
    const result = await run(
      'anonymize',
      '--policy',
      file,
      '--input',
      join(ADULT, 'adult.csv'),
      '--out',
      'out',
      '--json',
    )
    expect(result.code).toBe(0)
    const summary = JSON.parse(result.stdout)
    expect(summary).toMatchObject({
      k: 5,
      levels: {
        sex: 0,
        age: 3,
        race: 0,
        'marital-status': 2,
        education: 2,
        'native-country': 1,
        workclass: 1,
        occupation: 2,
        'salary-class': 0,
      },
      suppressed: 506,
      classes: 222,
      verified: true,
    })
    expect(summary.informationLoss).toBeCloseTo(0.3137, 4)
    const data = readFileSync(join(cwd, 'out', 'data.csv'), 'utf8')
      .trim()
      .split('\n')
    expect(data[0]).toBe(ATTRIBUTES.join(';'))
    expect(data).toHaveLength(30162 - 506 + 1)
    const report = JSON.parse(readFileSync(join(cwd, 'out', 'report.json'), 'utf8'))
    expect(report.measures).toHaveLength(5)
    expect(report.verification.ok).toBe(true)
    // The same output directory again is refused, in one sentence, exit 2.
    const again = await run(
      'anonymize',
      '--policy',
      file,
      '--input',
      join(ADULT, 'adult.csv'),
      '--out',
      'out',
    )
    expect(again.code).toBe(2)
    expect(again.stderr).toMatch(/^tokumei: .*out is not empty/m)
  }, 60_000)

  it('says where a policy is wrong and exits 2', async () => {
    const file = join(cwd, 'bad.yaml')
    writeFileSync(
      file,
      'columns:\n  age: { role: quasi-identifying, hierarchy: missing.csv }\nprivacy:\n  k: 5\n  suppresion: 0.02\n',
    )
    const result = await run(
      'anonymize',
      '--policy',
      file,
      '--input',
      join(ADULT, 'adult.csv'),
      '--out',
      'bad-out',
    )
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/bad\.yaml, line 5: privacy: unknown key suppresion/)
  })

  it('measures the risk of the raw quasi-identifiers, with a population', async () => {
    const result = await run(
      'risk',
      '--input',
      join(ADULT, 'adult.csv'),
      '--qi',
      'age,sex,race',
      '--population',
      '300000',
      '--json',
    )
    expect(result.code).toBe(0)
    const risk = JSON.parse(result.stdout)
    expect(risk.records).toBe(30162)
    expect(risk.prosecutor.highest).toBe(1)
    expect(risk.samplingFraction).toBeCloseTo(30162 / 300000, 10)
    expect(risk.populationUniqueness.model).not.toBe('none')
    const human = await run('risk', '--input', join(ADULT, 'adult.csv'), '--qi', 'age,sex,race')
    expect(human.stdout).toMatch(/30162 records in \d+ equivalence classes of age, sex, race/)
    const missing = await run('risk', '--input', join(ADULT, 'adult.csv'), '--qi', 'age,zip')
    expect(missing.code).toBe(2)
    expect(missing.stderr).toMatch(/has no column zip/)
  })
})
