import type { ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { CLINICAL_TABLES } from '../src/clinical/index.js'
import { type Dialect, openDatabase } from '../src/db/index.js'
import { execCli, spawnCli } from './support/cli.js'
import { createServerDatabase, dialects } from './support/database.js'
import { firstHospital, useSyntheticData } from './support/files.js'

/**
 * `kill -9` of the core worker in the middle of a submission, then a restart: every record ends up
 * stored exactly once, as in a run that was never interrupted. Real processes, real databases.
 */
const TABLES = [
  'identity.patient',
  'clinical.patient',
  'clinical.source_version',
  ...CLINICAL_TABLES.map((t) => `clinical.${t}`),
  'intake.quarantine',
  'intake.held_record',
]

interface Store {
  readonly cwd: string
  readonly env: Record<string, string>
  drop(): Promise<void>
}

async function newStore(dialect: Dialect): Promise<Store> {
  const cwd = mkdtempSync(join(tmpdir(), 'tk-crash-'))
  const env = { TOKUMEI_MASTER_KEY: randomBytes(32).toString('base64') }
  if (dialect === 'pglite') return { cwd, env, drop: async () => {} }
  const server = await createServerDatabase()
  return { cwd, env: { ...env, DATABASE_URL: server.url }, drop: () => server.drop() }
}

/** Row counts per table, the content of every clinical row without its generated ids, and the counts. */
async function snapshot(store: Store, dialect: Dialect) {
  const db = await openDatabase(
    dialect === 'pglite' ? { pgliteDir: join(store.cwd, 'data', 'db') } : { url: store.env.DATABASE_URL },
  )
  try {
    const counts: Record<string, number> = {}
    for (const table of TABLES) {
      const { rows } = await sql<{ n: number }>`select count(*)::int as n from ${sql.table(table)}`.execute(
        db.kysely,
      )
      counts[table] = rows[0]?.n ?? 0
    }
    const { rows: lab } = await sql<{ r: string }>`
      select concat_ws('|', source_key, name, value, unit, date::text) as r from clinical.lab order by 1`.execute(
      db.kysely,
    )
    const submission = await db.kysely
      .selectFrom('intake.submission')
      .select(['status', 'counts'])
      .executeTakeFirstOrThrow()
    return { counts, lab: lab.map((l) => l.r), submission }
  } finally {
    await db.close()
  }
}

function watchStderr(child: ChildProcess): {
  text: () => string
  until: (p: RegExp) => Promise<RegExpMatchArray>
} {
  let text = ''
  const waiters: Array<() => void> = []
  child.stderr?.on('data', (d) => {
    text += d
    for (const wake of waiters.splice(0)) wake()
  })
  return {
    text: () => text,
    until: (pattern) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no ${pattern} on stderr: ${text}`)), 120_000)
        const check = () => {
          const match = text.match(pattern)
          if (match) {
            clearTimeout(timer)
            resolve(match)
          } else waiters.push(check)
        }
        check()
      }),
  }
}

const generate = useSyntheticData()

describe.each(dialects())('[%s] kill -9 of the core worker mid-submission', (dialect) => {
  let hospital: string
  let storage: string
  const stores: Store[] = []

  beforeAll(async () => {
    const { dir } = await generate({
      persons: 12,
      hospitals: 1,
      seed: 'crash',
      formats: ['ssmix2', 'uke', 'fhir'],
    })
    hospital = firstHospital(dir)
    storage = join(dir, hospital)
  })
  afterAll(async () => {
    for (const store of stores) await store.drop()
  })

  /** init, register the institution, submit the tree: a sealed submission waiting for the core. */
  async function prepared(): Promise<Store> {
    const store = await newStore(dialect)
    stores.push(store)
    const run = (args: string[]) => execCli(args, { cwd: store.cwd, env: store.env })
    for (const args of [
      ['init'],
      ['institution', 'add', '--code', hospital, '--name', '試験病院', '--notice-start', '2000-01-01'],
      ['submit', storage, '--institution', hospital],
    ]) {
      const result = await run(args)
      expect(result.code, result.stderr).toBe(0)
    }
    return store
  }

  it('ends with every record stored exactly once, as a run never interrupted does', async () => {
    const clean = await prepared()
    const cleanRun = await execCli(['process', '--until-idle'], { cwd: clean.cwd, env: clean.env })
    expect(cleanRun.code, cleanRun.stderr).toBe(0)
    const expected = await snapshot(clean, dialect)
    expect(expected.submission.status).toBe('processed')
    expect(expected.counts['clinical.lab']).toBeGreaterThan(0)

    const crashed = await prepared()
    // Small batches, so that the kill lands between and inside many transactions.
    const env = { ...crashed.env, TOKUMEI_INTAKE_BATCH_ITEMS: '4' }
    const worker = spawnCli(['process'], { cwd: crashed.cwd, env })
    const stderr = watchStderr(worker)
    const [, done, total] = (await stderr.until(/intake\.process\): (\d+)\/(\d+) file/)) as RegExpMatchArray
    const exited = new Promise((resolve) => worker.on('close', resolve))
    worker.kill('SIGKILL')
    await exited
    expect(Number(done)).toBeLessThan(Number(total))
    const halfway = await snapshot(crashed, dialect)
    expect(halfway.submission.status).toBe('processing')

    const restart = await execCli(['process', '--until-idle'], { cwd: crashed.cwd, env })
    expect(restart.code, restart.stderr).toBe(0)
    // The dead worker's job is taken back at once, not after its ten-minute lease.
    expect(restart.stderr).toMatch(/Resuming job\(s\) \d+ of a worker on this host/)
    const after = await snapshot(crashed, dialect)
    expect(after.counts).toEqual(expected.counts)
    expect(after.lab).toEqual(expected.lab)
    expect(after.submission).toEqual(expected.submission)
  }, 300_000)
})
