import { hostname, userInfo } from 'node:os'
import { join } from 'node:path'
import type { Config, Zone } from '../config/index.js'
import { assertMigrated, openDatabase, type TokumeiDatabase } from '../db/index.js'
import type { Keyring, MasterKey } from '../security/index.js'
import { type AuditEvent, type AuditEventInput, openKeyring, recordAuditEvent } from '../security/index.js'

/**
 * What a running command or server holds: configuration, the database, the keyring, and who acts.
 * Built by the composition roots (cli/, server/); domain modules receive the parts they need.
 */
export interface Runtime {
  readonly config: Config
  readonly db: TokumeiDatabase
  readonly master: MasterKey
  readonly keyring: Keyring
  /** The actor named in audit events for work started here. */
  readonly actor: string
  readonly zone: Zone | undefined
  audit(event: Omit<AuditEventInput, 'actor'> & { actor?: string }): Promise<AuditEvent>
  close(): Promise<void>
}

/** On the core host a command acts as the OS account that runs it (DESIGN §4). */
export function operatorActor(): string {
  let user = 'unknown'
  try {
    user = userInfo().username
  } catch {
    // No passwd entry (some containers): keep "unknown".
  }
  return `os:${user}@${hostname()}`
}

/** The connection a zone uses: its own role's URL when configured, else the main one, else PGlite. */
export function databaseOptionsFor(
  config: Config,
  zone?: Zone,
): { url: string | undefined; pgliteDir: string } {
  const zoneUrl = zone ? config.database.zoneUrls[zone] : undefined
  return { url: zoneUrl ?? config.database.url, pgliteDir: join(config.dataDir, 'db') }
}

export interface OpenRuntimeOptions {
  readonly zone?: Zone
  readonly actor?: string
  /** An already open database (tests, `init`); it is closed with the runtime. */
  readonly db?: TokumeiDatabase
}

export async function openRuntime(config: Config, options: OpenRuntimeOptions = {}): Promise<Runtime> {
  const db = options.db ?? (await openDatabase(databaseOptionsFor(config, options.zone)))
  try {
    await assertMigrated(db)
    const { master, keyring } = await openKeyring(db, config.masterKey)
    const actor = options.actor ?? operatorActor()
    return {
      config,
      db,
      master,
      keyring,
      actor,
      zone: options.zone,
      audit: (event) => recordAuditEvent(db.kysely, keyring, { ...event, actor: event.actor ?? actor }),
      close: () => db.close(),
    }
  } catch (error) {
    await db.close()
    throw error
  }
}
