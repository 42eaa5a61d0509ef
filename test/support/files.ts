import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { afterAll } from 'vitest'
import { generateSyntheticData, type SynthFormat, type SynthReport } from '../../src/synth/index.js'
import { defaultSharedDataDir } from '../../src/synth/names.js'

/** The public test data beside the repository (`../shared/data`), or undefined when it is not there. */
export const SHARED_DATA = defaultSharedDataDir(process.env)

/** A path below shared/data (tests guard with `existsSync`). */
export const sharedData = (...parts: string[]): string =>
  join(SHARED_DATA ?? join(import.meta.dirname, 'missing-shared-data'), ...parts)

export const exists = existsSync

/** Every file below `root`, as paths relative to it with `/` separators. */
export function listFiles(root: string, dir = root): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f)
    return statSync(p).isDirectory() ? listFiles(root, p) : [relative(root, p)]
  })
}

/** The institution code of the first hospital of a synthetic data set (from its truth/notices.csv). */
export function firstHospital(dir: string): string {
  const code = readFileSync(join(dir, 'truth', 'notices.csv'), 'utf8')
    .split('\n')[1]
    ?.split(',')[0]
  if (!code) throw new Error(`${dir}/truth/notices.csv names no hospital`)
  return code
}

/**
 * Synthetic data for one test file: `generate()` writes a data set into a temporary directory, and
 * every directory it made is removed after the file's tests.
 */
export function useSyntheticData(): (options: {
  persons: number
  hospitals: number
  seed: string
  formats: SynthFormat[]
}) => Promise<{ dir: string; report: SynthReport }> {
  const made: string[] = []
  afterAll(() => {
    for (const dir of made) rmSync(dir, { recursive: true, force: true })
  })
  return async ({ persons, hospitals, seed, formats }) => {
    const dir = mkdtempSync(join(tmpdir(), 'tk-synth-'))
    made.push(dir)
    const report = await generateSyntheticData({
      persons,
      hospitals,
      seed,
      out: dir,
      formats: new Set(formats),
      sharedDataDir: SHARED_DATA,
    })
    return { dir, report }
  }
}
