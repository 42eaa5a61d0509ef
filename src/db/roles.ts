import { randomBytes } from 'node:crypto'
import { sql } from 'kysely'
import type { Zone } from '../config/index.js'
import { TokumeiError } from '../model/index.js'
import type { TokumeiDatabase } from './database.js'

/**
 * DESIGN §2 in the database: each zone connects as its own role and holds only these grants, so a
 * compromised gateway cannot read a clinical row whatever it sends. Table privileges are granted on
 * the schema's present tables and, through default privileges, on every table a later migration adds.
 */
type TablePrivilege = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE'

interface SchemaGrant {
  readonly schema: string
  readonly tables: readonly TablePrivilege[]
  /** Names of functions in the schema the zone may call. */
  readonly functions?: readonly string[]
  /** Single tables granted by name (not through default privileges), e.g. the gateway's key lookup. */
  readonly named?: Readonly<Record<string, readonly TablePrivilege[]>>
}

const AUDIT_WRITE = [
  'audit.append(bigint, timestamptz, text, text, text, text, jsonb, bytea, bytea)',
  'audit.head()',
]
const AUDIT_CHECKPOINT = 'audit.add_checkpoint(bigint, bytea, text, bytea)'
const ALL: readonly TablePrivilege[] = ['SELECT', 'INSERT', 'UPDATE', 'DELETE']

export const ZONE_GRANTS: Readonly<Record<Zone, readonly SchemaGrant[]>> = {
  // Gateway: receives submissions and queues them for the core; reads institution keys (granted
  // table by table by the migrations that create them); writes audit events; nothing else.
  gateway: [
    { schema: 'intake', tables: ['SELECT', 'INSERT', 'UPDATE'] },
    { schema: 'jobs', tables: ['SELECT', 'INSERT'] },
    { schema: 'keyring', tables: ['SELECT'] },
    { schema: 'audit', tables: [], functions: AUDIT_WRITE },
    // Institutions and their keys (to authenticate uploads) and the holdings an institution may see.
    {
      schema: 'governance',
      tables: [],
      named: {
        'governance.institution': ['SELECT'],
        'governance.institution_key': ['SELECT'],
        'governance.holding': ['SELECT'],
        // Blocks stop a key or an address at the gateway's door.
        'governance.block': ['SELECT'],
      },
    },
  ],
  // Core: everything but accounts (revoked below).
  core: [
    { schema: 'intake', tables: ALL },
    { schema: 'identity', tables: ALL },
    { schema: 'clinical', tables: ALL },
    { schema: 'jobs', tables: ALL },
    { schema: 'keyring', tables: ['SELECT'] },
    { schema: 'governance', tables: ['SELECT', 'INSERT', 'UPDATE'] },
    { schema: 'audit', tables: ['SELECT'], functions: [...AUDIT_WRITE, AUDIT_CHECKPOINT] },
  ],
  // Portal: governance, requests to the core through the queue, audit for the security officer.
  portal: [
    { schema: 'governance', tables: ALL },
    { schema: 'jobs', tables: ['SELECT', 'INSERT'] },
    { schema: 'keyring', tables: ['SELECT'] },
    { schema: 'audit', tables: ['SELECT'], functions: AUDIT_WRITE },
  ],
}

/** Tables a zone must not touch even though its schema grant would cover them. */
const ZONE_EXCLUSIONS: Readonly<Record<Zone, readonly string[]>> = {
  gateway: [],
  core: ['governance.account', 'governance.session'],
  portal: [],
}

/**
 * Columns of excluded tables a zone may still use. The core judges accounts by role (the monitor), and
 * checks the sessions of the linkage reviewers it serves on the closed network: it reads an account's
 * name, roles and state and a session's hashes and times — never a password hash or a TOTP secret —
 * and writes only a session's last use and revocation.
 */
const ZONE_COLUMN_GRANTS: Readonly<
  Record<Zone, Readonly<Record<string, { select: readonly string[]; update?: readonly string[] }>>>
> = {
  gateway: {},
  core: {
    'governance.account': {
      select: [
        'id',
        'username',
        'roles',
        'must_change_password',
        'totp_enabled_at',
        'locked_until',
        'disabled_at',
        'created_at',
      ],
    },
    'governance.session': {
      select: [
        'id',
        'account_id',
        'token_sha256',
        'csrf_sha256',
        'expires_at',
        'last_seen_at',
        'revoked_at',
        'created_at',
      ],
      update: ['last_seen_at', 'revoked_at', 'revoked_reason'],
    },
  },
  portal: {},
}

export const MANAGED_SCHEMAS = [
  'intake',
  'identity',
  'clinical',
  'governance',
  'audit',
  'jobs',
  'keyring',
] as const

export const zoneRole = (prefix: string, zone: Zone): string => `${prefix}_${zone}`

const ident = (name: string) => sql.id(...name.split('.'))

/** Whether the zone roles have been created (by `tokumei init --roles`). */
export async function zoneRolesExist(db: TokumeiDatabase, prefix: string): Promise<boolean> {
  if (db.dialect !== 'postgres') return false
  const { rows } = await sql<{ n: number }>`select count(*)::int as n from pg_roles where rolname = any(${[
    zoneRole(prefix, 'gateway'),
    zoneRole(prefix, 'core'),
    zoneRole(prefix, 'portal'),
  ]})`.execute(db.kysely)
  return (rows[0]?.n ?? 0) === 3
}

/**
 * Creates the zone roles if missing and sets their grants to exactly ZONE_GRANTS (revoking anything
 * else), in one transaction. Idempotent; run again after every migration.
 */
export async function applyZoneGrants(db: TokumeiDatabase, prefix: string): Promise<void> {
  if (db.dialect !== 'postgres') {
    throw new TokumeiError(
      'Zone roles need a PostgreSQL server: the embedded database has a single user. Set DATABASE_URL and run `tokumei init --roles` again.',
      { code: 'db.roles_need_server', kind: 'invalid' },
    )
  }
  await db.kysely.transaction().execute(async (trx) => {
    for (const zone of Object.keys(ZONE_GRANTS) as Zone[]) {
      const role = zoneRole(prefix, zone)
      // Roles are cluster-wide: another database on the cluster may have created this one already.
      await sql
        .raw(`do $$ begin create role ${role} nologin; exception when duplicate_object then null; end $$`)
        .execute(trx)
      const r = sql.id(role)
      for (const schema of MANAGED_SCHEMAS) {
        const s = sql.id(schema)
        await sql`revoke all on all tables in schema ${s} from ${r}`.execute(trx)
        await sql`revoke all on all sequences in schema ${s} from ${r}`.execute(trx)
        await sql`revoke all on all functions in schema ${s} from ${r}`.execute(trx)
        await sql`alter default privileges in schema ${s} revoke all on tables from ${r}`.execute(trx)
        await sql`alter default privileges in schema ${s} revoke all on sequences from ${r}`.execute(trx)
        await sql`revoke all on schema ${s} from ${r}`.execute(trx)
      }
      for (const grant of ZONE_GRANTS[zone]) {
        const s = sql.id(grant.schema)
        await sql`grant usage on schema ${s} to ${r}`.execute(trx)
        if (grant.tables.length > 0) {
          const privileges = sql.raw(grant.tables.join(', '))
          await sql`grant ${privileges} on all tables in schema ${s} to ${r}`.execute(trx)
          await sql`alter default privileges in schema ${s} grant ${privileges} on tables to ${r}`.execute(
            trx,
          )
          if (grant.tables.includes('INSERT')) {
            await sql`grant usage, select on all sequences in schema ${s} to ${r}`.execute(trx)
            await sql`alter default privileges in schema ${s} grant usage, select on sequences to ${r}`.execute(
              trx,
            )
          }
        }
        for (const [table, privileges] of Object.entries(grant.named ?? {})) {
          // A table that a later migration creates is granted when `migrate` re-applies the grants.
          const exists = await sql<{ t: string | null }>`select to_regclass(${table})::text as t`.execute(trx)
          if (exists.rows[0]?.t)
            await sql`grant ${sql.raw(privileges.join(', '))} on ${ident(table)} to ${r}`.execute(trx)
        }
        for (const fn of grant.functions ?? []) {
          await sql`grant execute on function ${sql.raw(fn)} to ${r}`.execute(trx)
        }
      }
      // Every zone checks on start that the database is at its migration.
      await sql`grant select on public.tokumei_migration to ${r}`.execute(trx)
      for (const table of ZONE_EXCLUSIONS[zone]) {
        await sql`revoke all on ${ident(table)} from ${r}`.execute(trx)
      }
      for (const [table, columns] of Object.entries(ZONE_COLUMN_GRANTS[zone])) {
        const list = (names: readonly string[]) => sql.join(names.map((c) => sql.id(c)))
        await sql`grant select (${list(columns.select)}) on ${ident(table)} to ${r}`.execute(trx)
        if (columns.update?.length)
          await sql`grant update (${list(columns.update)}) on ${ident(table)} to ${r}`.execute(trx)
      }
    }
  })
}

export interface ZoneLogin {
  readonly zone: Zone
  readonly role: string
  readonly url: string
}

/**
 * Lets each zone role log in with a new random password and returns the connection URL of each,
 * built from the administrator's URL. The passwords are shown once and stored nowhere by tokumei.
 */
export async function enableZoneLogins(
  db: TokumeiDatabase,
  prefix: string,
  adminUrl: string,
): Promise<ZoneLogin[]> {
  const logins: ZoneLogin[] = []
  for (const zone of Object.keys(ZONE_GRANTS) as Zone[]) {
    const role = zoneRole(prefix, zone)
    const password = randomBytes(24).toString('base64url')
    // ALTER ROLE takes no bind parameters; the password is base64url, so it needs no escaping.
    await sql.raw(`alter role ${role} login password '${password}'`).execute(db.kysely)
    const url = new URL(adminUrl)
    url.username = role
    url.password = password
    logins.push({ zone, role, url: url.toString() })
  }
  return logins
}
