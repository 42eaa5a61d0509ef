import { execFileSync } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { openDatabase, type TokumeiDatabase } from '../src/db/index.js'

const root = join(import.meta.dirname, '..')

/**
 * Runs `fn` on a fresh database of a PostgreSQL server: TOKUMEI_BENCH_DATABASE_URL's, or a throwaway
 * local cluster started for the run. The database (and the cluster) are gone afterwards.
 */
export async function withBenchServer(fn: (db: TokumeiDatabase) => Promise<void>): Promise<void> {
  let url = process.env.TOKUMEI_BENCH_DATABASE_URL
  let cluster: string | undefined
  if (!url) {
    cluster = mkdtempSync(join(tmpdir(), 'tkbench-'))
    rmdirSync(cluster)
    url = execFileSync('bash', [join(root, 'scripts', 'pg-throwaway.sh'), 'start', cluster], {
      encoding: 'utf8',
    }).trim()
  }
  const admin = new pg.Client({ connectionString: url })
  await admin.connect()
  const name = `bench_${randomBytes(4).toString('hex')}`
  await admin.query(`create database ${name}`)
  const target = new URL(url)
  target.pathname = `/${name}`
  const server = await openDatabase({ url: target.toString() })
  try {
    await fn(server)
  } finally {
    await server.close()
    await admin.query(`drop database ${name}`)
    await admin.end()
    if (cluster) execFileSync('bash', [join(root, 'scripts', 'pg-throwaway.sh'), 'stop', cluster])
  }
}
