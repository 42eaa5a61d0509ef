import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { PGlite } from '@electric-sql/pglite'
import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import { TokumeiError } from '../model/index.js'
import { PGlitePool } from './pglite-pool.js'
import type { Schema } from './schema.js'

export type Dialect = 'pglite' | 'postgres'

export interface TokumeiDatabase {
  readonly kysely: Kysely<Schema>
  readonly dialect: Dialect
  /** Where the data lives, safe to print: a directory, or host:port/database without credentials. */
  readonly location: string
  /**
   * LISTEN on a notification channel; `onNotify` hears each NOTIFY after its transaction commits.
   * Returns the UNLISTEN. On a server, the listener holds one connection of its own.
   */
  listen(channel: string, onNotify: () => void): Promise<() => Promise<void>>
  close(): Promise<void>
}

export interface OpenDatabaseOptions {
  /** A PostgreSQL server; when absent, the embedded PGlite database. */
  readonly url?: string | undefined
  /** PGlite's data directory; `memory://` keeps it in memory (tests). */
  readonly pgliteDir?: string
  /** Connections in the pool (server only). */
  readonly poolSize?: number
  /** Create the embedded database if its directory holds none (`init`, `migrate`); otherwise refuse. */
  readonly create?: boolean
}

const INT8_OID = 20
const INT8_ARRAY_OID = 1016
/** `date` stays the ISO string it is in SQL: a JS Date would move it by the process's time zone. */
const DATE_OID = 1082
const identityText = (value: string) => value

/** Opens the store and checks that it answers. Throws a TokumeiError (`db.unavailable`) otherwise. */
export async function openDatabase(options: OpenDatabaseOptions): Promise<TokumeiDatabase> {
  return options.url
    ? openServer(options.url, options.poolSize ?? 10)
    : openEmbedded(options.pgliteDir ?? './data/db', options.create ?? false)
}

async function openServer(url: string, poolSize: number): Promise<TokumeiDatabase> {
  const location = describeUrl(url)
  // int8 as a JS number on both dialects (PGlite does the same): our int8 columns are sequence
  // numbers and counts, far below 2^53.
  const types = {
    getTypeParser(oid: number, format?: 'text' | 'binary') {
      if (oid === INT8_OID) return (value: string) => Number(value)
      if (oid === DATE_OID) return identityText
      if (oid === INT8_ARRAY_OID) {
        const parseArray = pg.types.getTypeParser(INT8_ARRAY_OID as never, 'text') as (v: string) => string[]
        return (value: string) => parseArray(value).map(Number)
      }
      return pg.types.getTypeParser(oid as never, format ?? 'text')
    },
  }
  const pool = new pg.Pool({ connectionString: url, max: poolSize, connectionTimeoutMillis: 5000, types })
  // An idle client that loses its server (restart, network) must not crash the process.
  pool.on('error', () => {})
  try {
    const client = await pool.connect()
    client.release()
  } catch (error) {
    await pool.end().catch(() => {})
    throw unreachable(location, error)
  }
  const kysely = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) })
  return {
    kysely,
    dialect: 'postgres',
    location,
    async listen(channel, onNotify) {
      const client = await pool.connect()
      const handler = (message: pg.Notification) => {
        if (message.channel === channel) onNotify()
      }
      client.on('notification', handler)
      await client.query(`listen ${pg.escapeIdentifier(channel)}`)
      let released = false
      return async () => {
        if (released) return
        released = true
        client.off('notification', handler)
        try {
          await client.query(`unlisten ${pg.escapeIdentifier(channel)}`)
          client.release()
        } catch (error) {
          // A connection that broke is dropped from the pool rather than lent again.
          client.release(error instanceof Error ? error : true)
        }
      }
    },
    close: () => kysely.destroy(),
  }
}

async function openEmbedded(dir: string, create: boolean): Promise<TokumeiDatabase> {
  const inMemory = dir.startsWith('memory://')
  let unlock = () => {}
  if (!inMemory && !create && !existsSync(join(dir, 'PG_VERSION'))) {
    throw new TokumeiError(
      `There is no tokumei database in ${dir}: run \`tokumei init\` first (or set TOKUMEI_DATA_DIR or DATABASE_URL).`,
      {
        code: 'db.not_initialised',
        kind: 'unavailable',
      },
    )
  }
  if (!inMemory) {
    mkdirSync(dir, { recursive: true })
    unlock = lockEmbedded(dir)
  }
  let pglite: PGlite
  try {
    pglite = await PGlite.create(inMemory ? undefined : dir, { parsers: { [DATE_OID]: identityText } })
  } catch (error) {
    unlock()
    throw new TokumeiError(
      `The embedded database in ${dir} could not be opened (${errorText(error)}): restore it from a backup or move it aside and run \`tokumei init\`.`,
      { code: 'db.unavailable', kind: 'unavailable', cause: error },
    )
  }
  const pool = new PGlitePool(pglite)
  const kysely = new Kysely<Schema>({ dialect: new PostgresDialect({ pool }) })
  let closed = false
  return {
    kysely,
    dialect: 'pglite',
    location: inMemory ? 'memory' : dir,
    listen: (channel, onNotify) => pool.listen(channel, onNotify),
    async close() {
      if (closed) return
      closed = true
      try {
        await kysely.destroy()
      } finally {
        unlock()
      }
    },
  }
}

/**
 * PGlite is one process's database: a second process opening the same directory would corrupt it.
 * A lock file holds the owner's pid; a lock left by a dead process is taken over.
 */
function lockEmbedded(dir: string): () => void {
  const lockFile = join(dir, '..', `${dir.split(/[\\/]/).filter(Boolean).at(-1) ?? 'db'}.lock`)
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(lockFile, 'wx', 0o600)
      writeSync(fd, String(process.pid))
      closeSync(fd)
      const release = () => rmSync(lockFile, { force: true })
      process.once('exit', release)
      return () => {
        process.removeListener('exit', release)
        release()
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
      const owner = Number(readFileSync(lockFile, 'utf8').trim())
      if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && isAlive(owner)) {
        throw new TokumeiError(
          `The embedded database in ${dir} is in use by process ${owner}: stop that process first, or use a PostgreSQL server (DATABASE_URL) to run several tokumei processes at once.`,
          { code: 'db.locked', kind: 'unavailable', details: { pid: owner } },
        )
      }
      rmSync(lockFile, { force: true })
    }
  }
  throw new TokumeiError(
    `Could not lock the embedded database in ${dir}: remove ${lockFile} if no tokumei runs.`,
    {
      code: 'db.locked',
      kind: 'unavailable',
    },
  )
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** host:port/database, without user or password. */
export function describeUrl(url: string): string {
  try {
    const parsed = new URL(url)
    const host = parsed.hostname || parsed.searchParams.get('host') || 'localhost'
    return `${host}:${parsed.port || '5432'}${parsed.pathname || '/'}`
  } catch {
    return '(unparsable URL)'
  }
}

function unreachable(location: string, error: unknown): TokumeiError {
  const code = (error as { code?: string }).code
  const reasons: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'unknown host',
    EAI_AGAIN: 'host name lookup failed',
    ETIMEDOUT: 'connection timed out',
    EHOSTUNREACH: 'host unreachable',
    ENOENT: 'no server socket there',
    '28P01': 'password authentication failed',
    '28000': 'the server refused this user',
    '3D000': 'the database does not exist',
    '53300': 'the server has too many connections',
    '57P03': 'the server is starting up or shutting down',
  }
  const reason =
    (code && reasons[code]) ?? (/timeout/i.test(errorText(error)) ? 'connection timed out' : errorText(error))
  return new TokumeiError(
    `Cannot connect to the PostgreSQL server at ${location} (${reason}): check that it is running and that DATABASE_URL is right.`,
    { code: 'db.unavailable', kind: 'unavailable', details: { location, reason }, cause: error },
  )
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Readiness probe: one round trip. */
export async function ping(db: TokumeiDatabase): Promise<void> {
  await sql`select 1`.execute(db.kysely)
}
