import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { type Config, SETTINGS } from '../config/index.js'
import {
  applyZoneGrants,
  enableZoneLogins,
  migrateToLatest,
  openDatabase,
  type TokumeiDatabase,
  type ZoneLogin,
  zoneRolesExist,
} from '../db/index.js'
import { TokumeiError } from '../model/index.js'
import {
  ensureDataKeys,
  generateMasterKey,
  hashPassword,
  oneTimePassword,
  openKeyring,
  recordAuditEvent,
  writeCheckpoint,
  writeKeyFile,
} from '../security/index.js'
import { databaseOptionsFor, operatorActor } from './runtime.js'

export interface InitOptions {
  readonly cwd: string
  /** Create the per-zone database roles and print their connection URLs (PostgreSQL server only). */
  readonly roles?: boolean
  readonly adminUsername?: string
  readonly actor?: string
  /** Use this database instead of opening the configured one (tests). Left open. */
  readonly db?: TokumeiDatabase
}

export interface InitReport {
  readonly database: {
    readonly dialect: string
    readonly location: string
    readonly migrationsApplied: string[]
  }
  readonly configFileWritten: string | null
  readonly masterKeyCreated: string | null
  readonly dataKeysCreated: string[]
  /** The first administrator, with the one-time password shown only now. */
  readonly admin: { readonly username: string; readonly oneTimePassword: string } | null
  readonly zoneLogins: ZoneLogin[]
  /** True when everything already existed. */
  readonly alreadyInitialised: boolean
}

/**
 * `tokumei init`: configuration file, master key, database schema, data keys and the first
 * administrator. Idempotent: a second run creates only what is missing and never shows a password again.
 */
export async function initialize(config: Config, options: InitOptions): Promise<InitReport> {
  mkdirSync(config.dataDir, { recursive: true, mode: 0o700 })
  const configFileWritten = writeDefaultConfigFile(config, options.cwd)
  const db = options.db ?? (await openDatabase({ ...databaseOptionsFor(config), create: true }))
  try {
    const { applied } = await migrateToLatest(db)
    const keyCount = await db.kysely
      .selectFrom('keyring.data_key')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow()
    let masterKeyCreated: string | null = null
    if (!config.masterKey.value && !existsSync(config.masterKey.file)) {
      if (Number(keyCount.n) > 0) {
        throw new TokumeiError(
          `The master key file ${config.masterKey.file} is missing but the database at ${db.location} already has keys wrapped by a master key: restore that key file (or set TOKUMEI_MASTER_KEY); a new key cannot open them.`,
          { code: 'crypto.no_master_key', kind: 'unavailable' },
        )
      }
      writeKeyFile(config.masterKey.file, generateMasterKey())
      masterKeyCreated = config.masterKey.file
    }
    const { master } = await openKeyring(db, config.masterKey)
    const dataKeysCreated = await ensureDataKeys(db, master)
    const { keyring } = await openKeyring(db, config.masterKey)
    const actor = options.actor ?? operatorActor()

    let zoneLogins: ZoneLogin[] = []
    if (options.roles) {
      if (!config.database.url) {
        throw new TokumeiError(
          'Zone roles need a PostgreSQL server: set DATABASE_URL (as a user allowed to create roles) and run `tokumei init --roles` again.',
          { code: 'db.roles_need_server', kind: 'invalid' },
        )
      }
      await applyZoneGrants(db, config.database.rolePrefix)
      zoneLogins = await enableZoneLogins(db, config.database.rolePrefix, config.database.url)
    } else if (await zoneRolesExist(db, config.database.rolePrefix)) {
      await applyZoneGrants(db, config.database.rolePrefix)
    }

    const admin = await createFirstAdmin(db, keyring, actor, options.adminUsername ?? 'admin')
    const alreadyInitialised =
      applied.length === 0 &&
      !masterKeyCreated &&
      dataKeysCreated.length === 0 &&
      !admin &&
      zoneLogins.length === 0
    if (!alreadyInitialised) {
      await recordAuditEvent(db.kysely, keyring, {
        actor,
        action: 'system.init',
        detail: {
          migrations_applied: applied.length,
          master_key_created: masterKeyCreated !== null,
          data_keys_created: dataKeysCreated.length,
          zone_roles: zoneLogins.length > 0,
        },
      })
      await writeCheckpoint(db.kysely, keyring)
    }
    return {
      database: { dialect: db.dialect, location: db.location, migrationsApplied: applied },
      configFileWritten,
      masterKeyCreated,
      dataKeysCreated,
      admin,
      zoneLogins,
      alreadyInitialised,
    }
  } finally {
    if (!options.db) await db.close()
  }
}

async function createFirstAdmin(
  db: TokumeiDatabase,
  keyring: Parameters<typeof recordAuditEvent>[1],
  actor: string,
  username: string,
): Promise<InitReport['admin']> {
  if (!/^[a-z][a-z0-9._-]{1,63}$/.test(username)) {
    throw new TokumeiError(
      `The administrator name "${username}" is not allowed: use 2–64 lower-case letters, digits, ".", "_" or "-", starting with a letter.`,
      { code: 'init.bad_username', kind: 'invalid' },
    )
  }
  if (await db.kysely.selectFrom('governance.account').select('id').limit(1).executeTakeFirst()) return null
  const password = oneTimePassword()
  const passwordHash = await hashPassword(password)
  return db.kysely.transaction().execute(async (trx) => {
    const existing = await trx.selectFrom('governance.account').select('id').limit(1).executeTakeFirst()
    if (existing) return null
    const row = await trx
      .insertInto('governance.account')
      .values({ username, password_hash: passwordHash, roles: ['admin'], must_change_password: true })
      .returning('id')
      .executeTakeFirstOrThrow()
    await recordAuditEvent(trx, keyring, {
      actor,
      action: 'account.create',
      target: `account:${row.id}`,
      detail: { roles: 'admin', first_admin: true },
    })
    return { username, oneTimePassword: password }
  })
}

/** Writes `tokumei.yaml` with every setting commented out, unless a configuration file exists. */
function writeDefaultConfigFile(config: Config, cwd: string): string | null {
  if (config.configFile) return null
  const file = join(cwd, 'tokumei.yaml')
  if (existsSync(file)) return null
  const lines = [
    '# tokumei configuration. Every setting is optional; the environment variable named beside each',
    '# one overrides it. Secrets (DATABASE_URL, TOKUMEI_MASTER_KEY) belong in the environment, not here.',
    '',
  ]
  let section = ''
  for (const spec of SETTINGS) {
    if (spec.secret) continue
    const parts = spec.path.split('.')
    const top = parts.length > 1 ? (parts[0] as string) : ''
    if (top !== section && top) lines.push(`# ${top}:`)
    section = top
    const indent = '  '.repeat(parts.length - 1)
    const value = spec.default === undefined ? '' : ` ${spec.default}`
    lines.push(`# ${indent}${parts.at(-1)}:${value}    # ${spec.env} — ${spec.doc}`)
  }
  writeFileSync(file, `${lines.join('\n')}\n`, { flag: 'wx' })
  return file
}
