import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli } from './support/cli.js'
import { exists, SHARED_DATA } from './support/files.js'

/** `tokumei link` as an operator runs it: hospitals submitted, linked, evaluated against the truth. */
describe.runIf(SHARED_DATA !== undefined && exists(SHARED_DATA))('tokumei link', () => {
  const cwd = mkdtempSync(join(tmpdir(), 'tk-link-'))
  const run = (...args: string[]) => runCli(args, { cwd })

  it('runs the linkage job, evaluates it, and refuses a decision on a pair not in review', async () => {
    expect((await run('init')).code).toBe(0)
    expect(
      (
        await run(
          'synth',
          '--persons',
          '60',
          '--hospitals',
          '2',
          '--seed',
          'cli',
          '--out',
          'syn',
          '--formats',
          'ssmix2',
        )
      ).code,
    ).toBe(0)
    for (const line of readFileSync(join(cwd, 'syn', 'truth', 'notices.csv'), 'utf8')
      .trim()
      .split('\n')
      .slice(1)) {
      const code = line.split(',')[0] as string
      expect(
        (
          await run(
            'institution',
            'add',
            '--code',
            code,
            '--name',
            `病院${code}`,
            '--notice-start',
            '2010-01-01',
          )
        ).code,
      ).toBe(0)
      expect((await run('submit', `syn/${code}`, '--institution', code, '--process')).code).toBe(0)
    }
    const linked = await run('link', 'run', '--json')
    expect(linked.code).toBe(0)
    const summary = JSON.parse(linked.stdout) as { records: number; persons: number; mode: string }
    expect(summary.persons).toBeLessThan(summary.records)
    expect(summary.mode).toBe('full')
    // Nothing new: the next run is incremental and links nobody.
    const again = await run('link', 'run')
    expect(again.code).toBe(0)
    expect(again.stdout).toMatch(/^Linkage run \d+ \(incremental\): 0 new or changed patient\(s\)/)
    const both = await run('link', 'run', '--full', '--incremental')
    expect(both).toMatchObject({ code: 2, stderr: 'tokumei: Choose --full or --incremental, not both.\n' })
    const evaluated = await run('link', 'evaluate', '--truth', 'syn/truth/persons.csv', '--json')
    expect(evaluated.code).toBe(0)
    const evaluation = JSON.parse(evaluated.stdout)
    expect(Object.keys(evaluation.pairwise).sort()).toEqual(['f1', 'precision', 'recall'])
    expect(evaluation.pairwise.f1).toBeGreaterThanOrEqual(0.99)
    expect(evaluation.bcubed.f1).toBeGreaterThanOrEqual(0.99)
    expect((await run('link', 'review', 'list')).code).toBe(0)
    const refused = await run('link', 'review', 'accept', '1', '2')
    expect(refused.code).toBe(2)
    expect(refused.stderr).toBe(
      'tokumei: Pair 1–2 is not waiting for review (decided already, or never proposed).\n',
    )
    const unknown = await run('link', 'review', 'show', '1', '999999')
    expect(unknown.code).not.toBe(0)
    expect(unknown.stderr).toBe('tokumei: Pair 1–999999 was never proposed for review.\n')
    const missing = await run('link', 'evaluate', '--truth', 'nope.csv')
    expect(missing.stderr).toMatch(/^tokumei: Cannot read the truth file .*nope\.csv\.\n$/)
  })
})
