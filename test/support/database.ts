import { randomBytes } from 'node:crypto'
import pg from 'pg'
import { afterAll, beforeAll, describe, inject } from 'vitest'
import { type Dialect, migrateToLatest, openDatabase, type TokumeiDatabase } from '../../src/db/index.js'
import {
  ensureDataKeys,
  type Keyring,
  loadKeyring,
  type MasterKey,
  masterKeyId,
} from '../../src/security/index.js'

/**
 * Every SQL suite runs once per dialect: `describeEachDialect('audit', (t) => { … })` gives
 * "[pglite] audit" and "[postgres] audit". Each run gets its own fresh database.
 */
export function dialects(): Dialect[] {
  return inject('postgresUrl') ? ['pglite', 'postgres'] : ['pglite']
}

export function describeEachDialect(name: string, body: (t: TestDatabase, dialect: Dialect) => void): void {
  for (const dialect of dialects())
    describe(`[${dialect}] ${name}`, () => body(useTestDatabase(dialect), dialect))
}

/** A server database on the throwaway cluster, its URL, and a function that drops it. */
export async function createServerDatabase(): Promise<{ url: string; name: string; drop(): Promise<void> }> {
  const admin = inject('postgresUrl')
  if (!admin) throw new Error('no PostgreSQL server for this test run')
  const name = `tk_${randomBytes(6).toString('hex')}`
  const client = new pg.Client({ connectionString: admin })
  await client.connect()
  await client.query(`create database ${name}`)
  await client.end()
  const url = new URL(admin)
  url.pathname = `/${name}`
  return {
    url: url.toString(),
    name,
    async drop() {
      const c = new pg.Client({ connectionString: admin })
      await c.connect()
      await c.query(`drop database if exists ${name} with (force)`)
      await c.end()
    },
  }
}

export interface TestDatabase {
  readonly db: TokumeiDatabase
  readonly master: MasterKey
  readonly keyring: Keyring
  /** The server URL (postgres dialect only). */
  readonly url: string | undefined
}

export interface UseTestDatabaseOptions {
  /** Apply the migrations and create the data keys (default true). */
  readonly initialise?: boolean
}

/** Opens a fresh database of one dialect before the suite's tests and drops it after. */
export function useTestDatabase(dialect: Dialect, options: UseTestDatabaseOptions = {}): TestDatabase {
  let state: TestDatabase | undefined
  let drop: (() => Promise<void>) | undefined
  beforeAll(async () => {
    let db: TokumeiDatabase
    let url: string | undefined
    if (dialect === 'postgres') {
      const server = await createServerDatabase()
      drop = server.drop
      url = server.url
      db = await openDatabase({ url })
    } else {
      db = await openDatabase({ pgliteDir: 'memory://' })
    }
    const key = randomBytes(32)
    const master: MasterKey = { key, id: masterKeyId(key), source: 'env', file: undefined }
    let keyring: Keyring | undefined
    if (options.initialise !== false) {
      await migrateToLatest(db)
      await ensureDataKeys(db, master)
      keyring = await loadKeyring(db, master)
    }
    state = { db, master, keyring: keyring as Keyring, url }
  })
  afterAll(async () => {
    await state?.db.close()
    await drop?.()
  })
  const get = (): TestDatabase => {
    if (!state) throw new Error('the test database is not open yet (use it inside a test or hook)')
    return state
  }
  return {
    get db() {
      return get().db
    },
    get master() {
      return get().master
    },
    get keyring() {
      return get().keyring
    },
    get url() {
      return get().url
    },
  }
}

/** The master key as TOKUMEI_MASTER_KEY would carry it. */
export const masterKeyEnv = (master: MasterKey): string => master.key.toString('base64')
