import { type Migration, type MigrationResultSet, Migrator, sql } from 'kysely'
import { TokumeiError } from '../model/index.js'
import type { TokumeiDatabase } from './database.js'
import * as m0001 from './migrations/0001-foundation.js'
import * as m0002 from './migrations/0002-intake.js'
import * as m0003 from './migrations/0003-accounts.js'
import * as m0004 from './migrations/0004-monitor.js'
import * as m0005 from './migrations/0005-schedule.js'
import * as m0006 from './migrations/0006-linkage.js'
import * as m0007 from './migrations/0007-link-tokens.js'
import * as m0008 from './migrations/0008-provision.js'
import * as m0009 from './migrations/0009-console.js'

/** Every migration, in order. Names are permanent: a released migration is never edited, only followed. */
const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001-foundation': m0001,
  '0002-intake': m0002,
  '0003-accounts': m0003,
  '0004-monitor': m0004,
  '0005-schedule': m0005,
  '0006-linkage': m0006,
  '0007-link-tokens': m0007,
  '0008-provision': m0008,
  '0009-console': m0009,
}

export const LATEST_MIGRATION = Object.keys(MIGRATIONS).at(-1) ?? ''

export interface MigrationReport {
  readonly applied: string[]
  readonly current: string | undefined
}

function migratorFor(db: TokumeiDatabase): Migrator {
  return new Migrator({
    // biome-ignore lint/suspicious/noExplicitAny: the migrator works on the untyped database.
    db: db.kysely as any,
    provider: { getMigrations: async () => MIGRATIONS },
    migrationTableSchema: 'public',
    migrationTableName: 'tokumei_migration',
    migrationLockTableName: 'tokumei_migration_lock',
  })
}

/** Applies pending migrations, all in one transaction: a failure leaves the database as it was. */
export async function migrateToLatest(db: TokumeiDatabase): Promise<MigrationReport> {
  const result: MigrationResultSet = await migratorFor(db).migrateToLatest()
  if (result.error) {
    const failed = result.results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown'
    const message = result.error instanceof Error ? result.error.message : String(result.error)
    throw new TokumeiError(`Migration ${failed} failed and nothing was applied: ${message}`, {
      code: 'db.migration_failed',
      kind: 'internal',
      details: { migration: failed },
      cause: result.error,
    })
  }
  const applied = (result.results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName)
  return { applied, current: await currentMigration(db) }
}

/** The newest applied migration, or undefined on an empty database. Reads only (zone roles may run it). */
export async function currentMigration(db: TokumeiDatabase): Promise<string | undefined> {
  const exists = await sql<{
    t: string | null
  }>`select to_regclass('public.tokumei_migration')::text as t`.execute(db.kysely)
  if (!exists.rows[0]?.t) return undefined
  const { rows } = await sql<{
    name: string
  }>`select name from public.tokumei_migration order by name desc limit 1`.execute(db.kysely)
  return rows[0]?.name
}

/** Refuses to run against a database that has not been migrated to this version of tokumei. */
export async function assertMigrated(db: TokumeiDatabase): Promise<void> {
  const current = await currentMigration(db)
  if (current !== LATEST_MIGRATION) {
    throw new TokumeiError(
      current === undefined
        ? `The database at ${db.location} is not initialised: run \`tokumei init\` first.`
        : `The database at ${db.location} is at migration ${current} but this tokumei needs ${LATEST_MIGRATION}: run \`tokumei migrate\`.`,
      { code: 'db.not_migrated', kind: 'unavailable', details: { current: current ?? null } },
    )
  }
}
