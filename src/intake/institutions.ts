import { createHash, randomBytes, timingSafeEqual } from 'node:crypto'
import { type Kysely, sql } from 'kysely'
import type { Schema } from '../db/index.js'
import { isCalendarDate, TokumeiError } from '../model/index.js'

/**
 * Institutions (医療情報取扱事業者) that provide data, and their gateway API keys. A key is shown once;
 * only the SHA-256 of its secret part is kept. (A slow password hash is not needed: the secret is 256
 * random bits, so it cannot be guessed from its hash, and every upload request checks it.)
 */
type Db = Kysely<Schema>

export interface Institution {
  readonly id: number
  readonly code: string
  readonly name: string
  readonly noticeStart: string
  readonly createdAt: string
}

export interface IssuedKey {
  readonly keyId: string
  /** The whole key, shown once: `tkm_<key id>_<secret>`. */
  readonly apiKey: string
}

const CODE = /^\d{10}$/
const KEY = /^tkm_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/

function invalid(message: string, code = 'institution.invalid'): TokumeiError {
  return new TokumeiError(message, { code, kind: 'invalid' })
}

/** 10-digit 医療機関コード (prefecture 2 ‖ 点数表 1 ‖ code 7); full-width digits are accepted. */
export function parseInstitutionCode(raw: string): string {
  const code = raw.normalize('NFKC').trim()
  if (!CODE.test(code))
    throw invalid(
      `The institution code must be the 10-digit 医療機関コード (got ${JSON.stringify(raw.slice(0, 20))}).`,
    )
  return code
}

export function parseIsoDate(raw: string, what: string): string {
  const value = raw.normalize('NFKC').trim()
  if (!isCalendarDate(value))
    throw invalid(`${what} must be a date as YYYY-MM-DD (got ${JSON.stringify(raw.slice(0, 20))}).`)
  return value
}

function parseInstitutionName(raw: string): string {
  const name = raw.trim()
  if (name === '' || name.length > 200) throw invalid('The institution name must be 1 to 200 characters.')
  return name
}

/** The columns of an `Institution`, selected from `governance.institution as i`. */
const INSTITUTION_COLUMNS = [
  'i.id',
  'i.code',
  'i.name',
  sql<string>`i.notice_start::text`.as('notice_start'),
  'i.created_at',
] as const

const toInstitution = (row: {
  id: number
  code: string
  name: string
  notice_start: string
  created_at: Date
}): Institution => ({
  id: row.id,
  code: row.code,
  name: row.name,
  noticeStart: row.notice_start,
  createdAt: row.created_at.toISOString(),
})

async function issueKey(db: Db, institutionId: number): Promise<IssuedKey> {
  const keyId = randomBytes(6).toString('hex')
  const secret = randomBytes(32).toString('base64url')
  await db
    .insertInto('governance.institution_key')
    .values({
      institution_id: institutionId,
      key_id: keyId,
      secret_sha256: createHash('sha256').update(secret).digest(),
    })
    .execute()
  return { keyId, apiKey: `tkm_${keyId}_${secret}` }
}

export async function addInstitution(
  db: Db,
  input: { code: string; name: string; noticeStart: string },
): Promise<{ institution: Institution; key: IssuedKey }> {
  const code = parseInstitutionCode(input.code)
  const name = parseInstitutionName(input.name)
  const noticeStart = parseIsoDate(input.noticeStart, '--notice-start')
  return db.transaction().execute(async (trx) => {
    const existing = await trx
      .selectFrom('governance.institution')
      .select('id')
      .where('code', '=', code)
      .executeTakeFirst()
    if (existing)
      throw new TokumeiError(`Institution ${code} is already registered.`, {
        code: 'institution.exists',
        kind: 'conflict',
      })
    const row = await trx
      .insertInto('governance.institution')
      .values({ code, name, notice_start: noticeStart })
      .returning(['id', 'code', 'name', sql<string>`notice_start::text`.as('notice_start'), 'created_at'])
      .executeTakeFirstOrThrow()
    const key = await issueKey(trx, row.id)
    return { institution: toInstitution(row), key }
  })
}

export async function findInstitution(db: Db, rawCode: string): Promise<Institution> {
  const code = parseInstitutionCode(rawCode)
  const row = await db
    .selectFrom('governance.institution as i')
    .select(INSTITUTION_COLUMNS)
    .where('i.code', '=', code)
    .executeTakeFirst()
  if (!row)
    throw new TokumeiError(`No institution ${code} is registered: add it with \`tokumei institution add\`.`, {
      code: 'institution.not_found',
      kind: 'not_found',
    })
  return toInstitution(row)
}

export async function listInstitutions(db: Db): Promise<Array<Institution & { activeKeys: number }>> {
  const rows = await db
    .selectFrom('governance.institution as i')
    .select([
      ...INSTITUTION_COLUMNS,
      sql<number>`(select count(*)::int from governance.institution_key k where k.institution_id = i.id and k.revoked_at is null)`.as(
        'active_keys',
      ),
    ])
    .orderBy('i.code')
    .execute()
  return rows.map((r) => ({ ...toInstitution(r), activeKeys: r.active_keys }))
}

export async function updateInstitution(
  db: Db,
  rawCode: string,
  changes: { name?: string; noticeStart?: string },
): Promise<Institution> {
  const institution = await findInstitution(db, rawCode)
  const name = changes.name === undefined ? undefined : parseInstitutionName(changes.name)
  const noticeStart = changes.noticeStart ? parseIsoDate(changes.noticeStart, '--notice-start') : undefined
  if (name === undefined && noticeStart === undefined)
    throw invalid('Nothing to change: give --name or --notice-start.')
  await db
    .updateTable('governance.institution')
    .set({ ...(name !== undefined ? { name } : {}), ...(noticeStart ? { notice_start: noticeStart } : {}) })
    .where('id', '=', institution.id)
    .execute()
  return findInstitution(db, institution.code)
}

/** A new key for the institution; with `revokeOthers`, every earlier key stops working at once. */
export async function rotateInstitutionKey(
  db: Db,
  rawCode: string,
  options: { revokeOthers: boolean },
): Promise<{ institution: Institution; key: IssuedKey; revoked: number }> {
  const institution = await findInstitution(db, rawCode)
  return db.transaction().execute(async (trx) => {
    let revoked = 0
    if (options.revokeOthers) {
      const result = await trx
        .updateTable('governance.institution_key')
        .set({ revoked_at: new Date() })
        .where('institution_id', '=', institution.id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst()
      revoked = Number(result.numUpdatedRows)
    }
    return { institution, key: await issueKey(trx, institution.id), revoked }
  })
}

export async function revokeInstitutionKey(db: Db, keyId: string): Promise<{ institutionCode: string }> {
  const row = await db
    .updateTable('governance.institution_key as k')
    .from('governance.institution as i')
    .set({ revoked_at: new Date() })
    .whereRef('i.id', '=', 'k.institution_id')
    .where('k.key_id', '=', keyId.trim())
    .where('k.revoked_at', 'is', null)
    .returning('i.code')
    .executeTakeFirst()
  if (!row)
    throw new TokumeiError(
      `No active key ${JSON.stringify(keyId.slice(0, 20))}: see \`tokumei institution keys CODE\`.`,
      {
        code: 'institution.key_not_found',
        kind: 'not_found',
      },
    )
  return { institutionCode: row.code }
}

export async function listInstitutionKeys(
  db: Db,
  rawCode: string,
): Promise<Array<{ keyId: string; createdAt: string; revokedAt: string | null }>> {
  const institution = await findInstitution(db, rawCode)
  const rows = await db
    .selectFrom('governance.institution_key')
    .select(['key_id', 'created_at', 'revoked_at'])
    .where('institution_id', '=', institution.id)
    .orderBy('id')
    .execute()
  return rows.map((r) => ({
    keyId: r.key_id,
    createdAt: r.created_at.toISOString(),
    revokedAt: r.revoked_at?.toISOString() ?? null,
  }))
}

/**
 * The institution an API key belongs to, or a 401 error. The message is the same for an unknown key,
 * a wrong secret and a revoked key, so the answer does not tell an attacker which part was right.
 */
/** One answer for a missing, unknown, wrong, revoked or blocked key. */
export function apiKeyRefused(): TokumeiError {
  return new TokumeiError('The API key is missing, unknown or revoked.', {
    code: 'auth.bad_api_key',
    kind: 'unauthenticated',
  })
}

export async function authenticateInstitutionKey(
  db: Db,
  apiKey: string | undefined,
): Promise<Institution & { keyId: string }> {
  const denied = apiKeyRefused()
  const match = apiKey ? KEY.exec(apiKey.trim()) : null
  if (!match) throw denied
  const [, keyId, secret] = match as unknown as [string, string, string]
  const row = await db
    .selectFrom('governance.institution_key as k')
    .innerJoin('governance.institution as i', 'i.id', 'k.institution_id')
    .select([...INSTITUTION_COLUMNS, 'k.secret_sha256', 'k.revoked_at'])
    .where('k.key_id', '=', keyId)
    .executeTakeFirst()
  const given = createHash('sha256').update(secret).digest()
  if (!row || row.revoked_at !== null || !timingSafeEqual(Buffer.from(row.secret_sha256), given)) throw denied
  return { ...toInstitution(row), keyId }
}
