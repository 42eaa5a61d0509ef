import { execFileSync } from 'node:child_process'
import { mkdtempSync, rmdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Admin URL of a PostgreSQL server for the SQL suites, or null when none could be had. */
    postgresUrl: string | null
  }
}

const root = join(import.meta.dirname, '..', '..')
const script = join(root, 'scripts', 'pg-throwaway.sh')

/**
 * Every SQL suite runs on PGlite and on a real PostgreSQL. The server is TOKUMEI_TEST_DATABASE_URL
 * (set by .ci/run), or else a throwaway cluster started here. Under CI=true a missing server fails the run.
 */
export default function setup(project: TestProject): () => void {
  // The command-line tests run bin/tokumei.js, which loads dist/: compile it from the current sources.
  execFileSync(
    process.execPath,
    [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(root, 'tsconfig.build.json')],
    {
      stdio: 'inherit',
    },
  )
  // The console's end-to-end tests load dist/web: build it from the current sources too.
  execFileSync(
    process.execPath,
    [
      join(root, 'node_modules', 'vite', 'bin', 'vite.js'),
      'build',
      '--config',
      join(root, 'web', 'vite.config.ts'),
    ],
    // Vitest sets NODE_ENV=test, which would bundle React's development build: test what ships.
    { stdio: 'inherit', env: { ...process.env, NODE_ENV: 'production' } },
  )
  let url = process.env.TOKUMEI_TEST_DATABASE_URL || null
  let dir: string | undefined
  if (!url) {
    dir = mkdtempSync(join(tmpdir(), 'tkpg-'))
    rmdirSync(dir)
    try {
      url = execFileSync('bash', [script, 'start', dir], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }).trim()
    } catch (error) {
      const why = (error as { stderr?: string }).stderr?.trim() || String(error)
      if (process.env.CI === 'true')
        throw new Error(`CI=true but no PostgreSQL server could be started: ${why}`)
      process.stderr.write(
        `\n[tokumei tests] no PostgreSQL server (${why}); the SQL suites run on PGlite only.\n\n`,
      )
      dir = undefined
    }
  }
  project.provide('postgresUrl', url)
  return () => {
    if (dir) execFileSync('bash', [script, 'stop', dir], { stdio: 'ignore' })
  }
}
