import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { type Kysely, sql } from 'kysely'
import { generateSecret, generateURI, verifySync } from 'otplib'
import type { AuthSettings } from '../../config/index.js'
import type { Schema } from '../../db/index.js'
import { TokumeiError } from '../../model/index.js'
import type { AuditEventInput } from '../audit/index.js'
import type { Keyring } from '../crypto/index.js'
import { blockedSubjects } from '../monitor/index.js'
import { hashPassword, oneTimePassword, verifyPassword } from './passwords.js'

/**
 * Agency accounts: argon2id passwords, a TOTP second factor (RFC 6238) that every agency role must
 * have, lockout after repeated failures, resets by an admin with a one-time code, and sessions whose
 * tokens are kept only as digests. Every outcome is an audit event; no failure tells a caller which
 * of name, password or code was wrong.
 */
type Db = Kysely<Schema>

/** The agency's roles (DESIGN §4). Institutions use API keys; patients use no account. */
export const AGENCY_ROLES = [
  'admin',
  'intake_operator',
  'linkage_reviewer',
  'anonymization_engineer',
  'reviewer',
  'security_officer',
  'researcher',
] as const
export type AgencyRole = (typeof AGENCY_ROLES)[number]

export interface AuthContext {
  readonly db: Db
  readonly keyring: Keyring
  readonly settings: AuthSettings
  audit(event: AuditEventInput): Promise<unknown>
  /** The clock (tests move it; production leaves it unset). */
  readonly now?: () => Date
}

export interface Account {
  readonly id: number
  readonly username: string
  readonly roles: AgencyRole[]
  /** The owner has set a password with the one-time code. */
  readonly setUp: boolean
  /** The TOTP second factor is active (from the first sign-in with one of its codes). */
  readonly secondFactor: boolean
  readonly locked: boolean
  readonly disabled: boolean
  readonly createdAt: string
}

export interface Session {
  readonly id: number
  readonly account: Account
  readonly expiresAt: Date
}

const MIN_PASSWORD_CHARS = 12
const TOTP_ISSUER = 'tokumei'
const sha256 = (value: string) => createHash('sha256').update(value, 'utf8').digest()
const token = () => randomBytes(32).toString('base64url')
const clock = (context: AuthContext) => (context.now ?? (() => new Date()))()
const totpContext = (accountId: number) => ({
  table: 'governance.account',
  column: 'totp_secret_enc',
  row: accountId,
})

/** One answer for every failed sign-in: a caller learns nothing about which part was wrong. */
export function signInFailed(): TokumeiError {
  return new TokumeiError('The username, password or code is wrong, or the account is locked.', {
    code: 'auth.failed',
    kind: 'unauthenticated',
  })
}

export function parseUsername(raw: string): string {
  const username = raw.trim()
  if (!/^[a-z][a-z0-9._-]{1,63}$/.test(username)) {
    throw new TokumeiError(
      `The username "${username.slice(0, 64)}" is not allowed: use 2–64 lower-case letters, digits, ".", "_" or "-", starting with a letter.`,
      { code: 'account.bad_username', kind: 'invalid' },
    )
  }
  return username
}

export function parseRoles(raw: readonly string[]): AgencyRole[] {
  const roles = [...new Set(raw.map((r) => r.trim()).filter((r) => r !== ''))]
  const unknown = roles.filter((r) => !(AGENCY_ROLES as readonly string[]).includes(r))
  if (roles.length === 0 || unknown.length > 0) {
    throw new TokumeiError(
      `${unknown.length > 0 ? `Unknown role ${JSON.stringify(unknown[0])}` : 'No role given'}: use one or more of ${AGENCY_ROLES.join(', ')}.`,
      { code: 'account.bad_roles', kind: 'invalid' },
    )
  }
  return roles as AgencyRole[]
}

function checkPassword(password: string, username: string): void {
  if ([...password].length < MIN_PASSWORD_CHARS || password.toLowerCase().includes(username)) {
    throw new TokumeiError(
      `The password must have at least ${MIN_PASSWORD_CHARS} characters and must not contain the username.`,
      { code: 'account.weak_password', kind: 'invalid' },
    )
  }
}

type AccountRow = {
  id: number
  username: string
  roles: string[]
  must_change_password: boolean
  totp_enabled_at: Date | null
  locked_until: Date | null
  disabled_at: Date | null
  created_at: Date
}

const ACCOUNT_COLUMNS = [
  'id',
  'username',
  'roles',
  'must_change_password',
  'totp_enabled_at',
  'locked_until',
  'disabled_at',
  'created_at',
] as const

function toAccount(row: AccountRow, now: Date): Account {
  return {
    id: row.id,
    username: row.username,
    roles: row.roles as AgencyRole[],
    setUp: !row.must_change_password,
    secondFactor: row.totp_enabled_at !== null,
    locked: row.locked_until !== null && row.locked_until > now,
    disabled: row.disabled_at !== null,
    createdAt: row.created_at.toISOString(),
  }
}

function accountNotFound(username: string): TokumeiError {
  return new TokumeiError(`No account "${username}": see \`tokumei account list\`.`, {
    code: 'account.not_found',
    kind: 'not_found',
  })
}

/** A one-time code, its digest and expiry, for a new account or an admin reset. */
function newResetCode(context: AuthContext): { code: string; hash: Buffer; expires: Date } {
  const code = oneTimePassword(24)
  return {
    code,
    hash: sha256(code),
    expires: new Date(clock(context).getTime() + context.settings.resetCodeHours * 3_600_000),
  }
}

/**
 * Creates an account. It can do nothing until its owner sets a password and a second factor with the
 * one-time code returned here (`tokumei account setup`, or the console).
 */
export async function createAccount(
  context: AuthContext,
  input: { username: string; roles: readonly string[]; actor: string },
): Promise<{ account: Account; code: string; expiresAt: Date }> {
  const username = parseUsername(input.username)
  const roles = parseRoles(input.roles)
  const reset = newResetCode(context)
  // Unusable until setup: the password hash is of a random value nobody knows.
  const placeholder = await hashPassword(token())
  const row = await context.db
    .insertInto('governance.account')
    .values({
      username,
      password_hash: placeholder,
      roles,
      must_change_password: true,
      reset_code_hash: reset.hash,
      reset_expires_at: reset.expires,
    })
    .onConflict((oc) => oc.column('username').doNothing())
    .returning(ACCOUNT_COLUMNS)
    .executeTakeFirst()
  if (!row)
    throw new TokumeiError(`An account "${username}" exists already.`, {
      code: 'account.exists',
      kind: 'conflict',
    })
  await context.audit({
    actor: input.actor,
    action: 'account.create',
    target: `account:${row.id}`,
    detail: { roles: roles.join(',') },
  })
  return { account: toAccount(row, clock(context)), code: reset.code, expiresAt: reset.expires }
}

export async function listAccounts(context: AuthContext): Promise<Account[]> {
  const rows = await context.db
    .selectFrom('governance.account')
    .select(ACCOUNT_COLUMNS)
    .orderBy('username')
    .execute()
  const now = clock(context)
  return rows.map((row) => toAccount(row, now))
}

/**
 * An admin reset: a new one-time code; the password, the second factor and every session of the
 * account stop working at once, and a lock is lifted.
 */
export async function resetAccount(
  context: AuthContext,
  input: { username: string; actor: string },
): Promise<{ code: string; expiresAt: Date }> {
  const username = parseUsername(input.username)
  const reset = newResetCode(context)
  const placeholder = await hashPassword(token())
  const row = await context.db.transaction().execute(async (trx) => {
    const updated = await trx
      .updateTable('governance.account')
      .set({
        password_hash: placeholder,
        must_change_password: true,
        totp_secret_enc: null,
        totp_enabled_at: null,
        totp_last_step: null,
        failed_logins: 0,
        locked_until: null,
        reset_code_hash: reset.hash,
        reset_expires_at: reset.expires,
      })
      .where('username', '=', username)
      .returning('id')
      .executeTakeFirst()
    if (updated) await revokeSessions(trx, updated.id, 'account reset')
    return updated
  })
  if (!row) throw accountNotFound(username)
  await context.audit({ actor: input.actor, action: 'account.reset', target: `account:${row.id}` })
  return { code: reset.code, expiresAt: reset.expires }
}

export async function disableAccount(
  context: AuthContext,
  input: { username: string; actor: string },
): Promise<void> {
  const username = parseUsername(input.username)
  const row = await context.db.transaction().execute(async (trx) => {
    const updated = await trx
      .updateTable('governance.account')
      .set({ disabled_at: sql`coalesce(disabled_at, now())` })
      .where('username', '=', username)
      .returning('id')
      .executeTakeFirst()
    if (updated) await revokeSessions(trx, updated.id, 'account disabled')
    return updated
  })
  if (!row) throw accountNotFound(username)
  await context.audit({ actor: input.actor, action: 'account.disable', target: `account:${row.id}` })
}

/**
 * The owner's side of a new account or a reset: the one-time code (or, for the first administrator,
 * the one-time password `tokumei init` printed) and a new password give a TOTP secret. The second
 * factor is active from the first sign-in that uses a code from it.
 */
export async function setUpAccount(
  context: AuthContext,
  input: { username: string; code: string; password: string },
): Promise<{ secret: string; uri: string }> {
  const username = parseUsername(input.username)
  checkPassword(input.password, username)
  const row = await context.db
    .selectFrom('governance.account')
    .select([
      'id',
      'password_hash',
      'must_change_password',
      'reset_code_hash',
      'reset_expires_at',
      'disabled_at',
    ])
    .where('username', '=', username)
    .executeTakeFirst()
  const now = clock(context)
  const codeMatches =
    row?.reset_code_hash != null &&
    row.reset_expires_at !== null &&
    row.reset_expires_at > now &&
    timingSafeEqual(Buffer.from(row.reset_code_hash), sha256(input.code))
  const firstAdmin =
    row?.must_change_password === true &&
    row.reset_code_hash === null &&
    (await verifyPassword(row.password_hash, input.code))
  if (!row || row.disabled_at !== null || !row.must_change_password || !(codeMatches || firstAdmin)) {
    await context.audit({
      actor: `account:${username}`,
      action: 'account.setup',
      target: row ? `account:${row.id}` : null,
      outcome: 'denied',
    })
    throw new TokumeiError('The username or the one-time code is wrong, or the code has expired.', {
      code: 'account.bad_code',
      kind: 'unauthenticated',
    })
  }
  const secret = generateSecret()
  await context.db
    .updateTable('governance.account')
    .set({
      password_hash: await hashPassword(input.password),
      password_set_at: now,
      must_change_password: false,
      reset_code_hash: null,
      reset_expires_at: null,
      totp_secret_enc: context.keyring.encrypt('accounts', secret, totpContext(row.id)),
      totp_enabled_at: null,
      totp_last_step: null,
      failed_logins: 0,
      locked_until: null,
    })
    .where('id', '=', row.id)
    .execute()
  await context.audit({ actor: `account:${username}`, action: 'account.setup', target: `account:${row.id}` })
  return { secret, uri: generateURI({ issuer: TOTP_ISSUER, label: username, secret }) }
}

/**
 * Signs in with password and TOTP code; returns the session token (for the cookie) and the CSRF token
 * (for the page). A code is accepted once (replays fail) within ±30 s.
 */
export async function signIn(
  context: AuthContext,
  input: { username: string; password: string; code: string; source: string },
): Promise<{ token: string; csrf: string; session: Session }> {
  const now = clock(context)
  const { row, timeStep } = await checkCredentials(context, { ...input, action: 'auth.login' }, now)
  const sessionToken = token()
  const csrf = token()
  const expiresAt = new Date(now.getTime() + context.settings.sessionHours * 3_600_000)
  const session = await context.db.transaction().execute(async (trx) => {
    await acceptCredentials(trx, row.id, timeStep, now)
    return trx
      .insertInto('governance.session')
      .values({
        token_sha256: sha256(sessionToken),
        csrf_sha256: sha256(csrf),
        account_id: row.id,
        created_at: now,
        last_seen_at: now,
        expires_at: expiresAt,
        source: input.source.slice(0, 100),
      })
      .returning('id')
      .executeTakeFirstOrThrow()
  })
  await context.audit({
    actor: `account:${row.username}`,
    action: 'auth.login',
    target: `session:${session.id}`,
    detail: { source: input.source },
  })
  return {
    token: sessionToken,
    csrf,
    session: {
      id: session.id,
      account: { ...toAccount(row, now), secondFactor: true },
      expiresAt,
    },
  }
}

/**
 * A person proves who they are for one act that needs it (approving a two-person request): password
 * and TOTP code, or — with a live session, which had both — a fresh TOTP code alone. Failures count
 * toward the lockout like failed sign-ins and are audited as `auth.verify`. Returns the account.
 */
export async function verifyPerson(
  context: AuthContext,
  input: { username: string; password?: string; code: string; source: string; session?: Session },
): Promise<Account> {
  const now = clock(context)
  const { row, timeStep } = await checkCredentials(context, { ...input, action: 'auth.verify' }, now)
  await acceptCredentials(context.db, row.id, timeStep, now)
  await context.audit({
    actor: `account:${row.username}`,
    action: 'auth.verify',
    target: `account:${row.id}`,
    detail: { source: input.source, factors: input.session ? 'session+totp' : 'password+totp' },
  })
  return { ...toAccount(row, now), secondFactor: true }
}

async function acceptCredentials(
  db: Db,
  accountId: number,
  timeStep: number | null,
  now: Date,
): Promise<void> {
  await db
    .updateTable('governance.account')
    .set({
      failed_logins: 0,
      locked_until: null,
      totp_last_step: timeStep,
      totp_enabled_at: sql`coalesce(totp_enabled_at, ${now})`,
    })
    .where('id', '=', accountId)
    .execute()
}

/**
 * Checks a name, password (unless a live session of that account vouches for it) and TOTP code;
 * throws the one sign-in failure (audited under `action`, counted toward the lockout) otherwise.
 */
async function checkCredentials(
  context: AuthContext,
  input: {
    username: string
    password?: string
    code: string
    source: string
    session?: Session
    action: 'auth.login' | 'auth.verify'
  },
  now: Date,
) {
  const username = input.username.trim()
  const row = /^[a-z][a-z0-9._-]{1,63}$/.test(username)
    ? await context.db
        .selectFrom('governance.account')
        .select([...ACCOUNT_COLUMNS, 'password_hash', 'totp_secret_enc', 'totp_last_step', 'failed_logins'])
        .where('username', '=', username)
        .executeTakeFirst()
    : undefined
  const deny = async (reason: string) => {
    await context.audit({
      actor: `account:${row ? row.username : 'unknown'}`,
      action: input.action,
      target: row ? `account:${row.id}` : null,
      outcome: 'denied',
      detail: { reason, source: input.source },
    })
    return signInFailed()
  }
  if (!row) {
    // Spend the same time as a real check, so that response times do not tell names apart.
    await verifyPassword(await timingDummy(), input.password ?? '')
    throw await deny('unknown account')
  }
  if (row.disabled_at !== null) throw await deny('disabled')
  const blocked = await blockedSubjects(context.db, [`account:${row.username}`, `source:${input.source}`])
  if (blocked.size > 0) throw await deny(`blocked (${[...blocked].join(', ')})`)
  if (row.locked_until !== null && row.locked_until > now) throw await deny('locked')
  const passwordOk =
    input.session !== undefined
      ? input.session.account.id === row.id
      : await verifyPassword(row.password_hash, input.password ?? '')
  const secret = row.totp_secret_enc
    ? context.keyring.decryptText('accounts', row.totp_secret_enc, totpContext(row.id))
    : undefined
  const totp = secret
    ? verifySync({
        secret,
        token: input.code.trim(),
        epoch: Math.floor(now.getTime() / 1000),
        epochTolerance: 30,
        ...(row.totp_last_step !== null ? { afterTimeStep: row.totp_last_step } : {}),
      })
    : { valid: false as const }
  if (!passwordOk || !totp.valid || !secret) {
    const failures = row.failed_logins + 1
    const lock = failures >= context.settings.maxFailedLogins
    await context.db
      .updateTable('governance.account')
      .set({
        failed_logins: lock ? 0 : failures,
        locked_until: lock
          ? new Date(now.getTime() + context.settings.lockMinutes * 60_000)
          : row.locked_until,
      })
      .where('id', '=', row.id)
      .execute()
    const reason = !secret ? 'no second factor set up' : !passwordOk ? 'wrong password' : 'wrong code'
    if (lock)
      await context.audit({
        actor: `account:${row.username}`,
        action: 'auth.locked',
        target: `account:${row.id}`,
        outcome: 'denied',
        detail: { failures, minutes: context.settings.lockMinutes },
      })
    throw await deny(reason)
  }
  return { row, timeStep: 'timeStep' in totp ? totp.timeStep : null }
}

// An argon2id hash of a random value, for the time an unknown name would have cost (made once).
let dummyHash: Promise<string> | undefined
const timingDummy = () => {
  dummyHash ??= hashPassword(randomBytes(16).toString('hex'))
  return dummyHash
}

export function sessionRequired(): TokumeiError {
  return new TokumeiError('Sign in first: the session is missing, expired or ended.', {
    code: 'auth.session',
    kind: 'unauthenticated',
  })
}

/**
 * The live session of a token, or a 401: revoked, past its absolute end, idle too long, or its
 * account disabled or locked. A state-changing request must also bring the session's CSRF token.
 */
export async function authenticateSession(
  context: AuthContext,
  sessionToken: string | undefined,
  options: { csrf?: string; requireCsrf?: boolean } = {},
): Promise<Session> {
  if (!sessionToken || sessionToken.length > 100) throw sessionRequired()
  const now = clock(context)
  const row = await context.db
    .selectFrom('governance.session as s')
    .innerJoin('governance.account as a', 'a.id', 's.account_id')
    .select([
      's.id as session_id',
      's.csrf_sha256',
      's.expires_at',
      's.last_seen_at',
      's.revoked_at',
      ...ACCOUNT_COLUMNS.map((c) => `a.${c}` as const),
      // A block by the monitor ends every session it finds (one query per request, not two): a
      // session opened before a block stays dead after the lift; its owner signs in again.
      sql<boolean>`exists (select 1 from governance.block b
        where b.subject = 'account:' || a.username and (b.lifted_at is null or b.created_at >= s.created_at))`.as(
        'blocked',
      ),
    ])
    .where('s.token_sha256', '=', sha256(sessionToken))
    .executeTakeFirst()
  if (!row || row.revoked_at !== null || row.expires_at <= now || row.disabled_at !== null)
    throw sessionRequired()
  const idleLimit = context.settings.sessionIdleMinutes * 60_000
  if (now.getTime() - row.last_seen_at.getTime() > idleLimit) {
    await context.db
      .updateTable('governance.session')
      .set({ revoked_at: now, revoked_reason: 'idle' })
      .where('id', '=', row.session_id)
      .where('revoked_at', 'is', null)
      .execute()
    throw sessionRequired()
  }
  if (row.locked_until !== null && row.locked_until > now) throw sessionRequired()
  if (row.blocked) {
    await context.db
      .updateTable('governance.session')
      .set({ revoked_at: now, revoked_reason: 'blocked' })
      .where('id', '=', row.session_id)
      .where('revoked_at', 'is', null)
      .execute()
    throw sessionRequired()
  }
  if (
    options.requireCsrf &&
    (!options.csrf || !timingSafeEqual(Buffer.from(row.csrf_sha256), sha256(options.csrf)))
  ) {
    throw new TokumeiError('The request lacks the page token (CSRF): reload the page and try again.', {
      code: 'auth.csrf',
      kind: 'forbidden',
    })
  }
  await context.db
    .updateTable('governance.session')
    .set({ last_seen_at: now })
    .where('id', '=', row.session_id)
    .execute()
  return {
    id: row.session_id,
    account: toAccount({ ...row, id: row.id }, now),
    expiresAt: row.expires_at,
  }
}

export async function signOut(context: AuthContext, session: Session): Promise<void> {
  await context.db
    .updateTable('governance.session')
    .set({ revoked_at: clock(context), revoked_reason: 'signed out' })
    .where('id', '=', session.id)
    .where('revoked_at', 'is', null)
    .execute()
  await context.audit({
    actor: `account:${session.account.username}`,
    action: 'auth.logout',
    target: `session:${session.id}`,
  })
}

/** Ends every live session of an account (reset, disable, and the monitor's block). */
export async function revokeSessions(db: Db, accountId: number, reason: string): Promise<number> {
  const result = await db
    .updateTable('governance.session')
    .set({ revoked_at: sql`now()`, revoked_reason: reason })
    .where('account_id', '=', accountId)
    .where('revoked_at', 'is', null)
    .executeTakeFirst()
  return Number(result.numUpdatedRows)
}
