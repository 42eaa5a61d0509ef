import { sql } from 'kysely'
import { generateSync } from 'otplib'
import { beforeAll, expect, it } from 'vitest'
import { describeEachDialect } from '../../../test/support/database.js'
import type { AuthSettings } from '../../config/index.js'
import { isTokumeiError } from '../../model/index.js'
import { recordAuditEvent } from '../audit/index.js'
import {
  type AuthContext,
  authenticateSession,
  createAccount,
  disableAccount,
  hashPassword,
  resetAccount,
  setUpAccount,
  signIn,
} from './index.js'

const SETTINGS: AuthSettings = {
  maxFailedLogins: 3,
  signInsPerMinute: 10,
  lockMinutes: 15,
  sessionIdleMinutes: 15,
  sessionHours: 8,
  resetCodeHours: 24,
}
const PASSWORD = 'correct horse battery 馬'

/** The error code a promise rejects with. */
async function failure(promise: Promise<unknown>): Promise<string> {
  try {
    await promise
  } catch (error) {
    if (isTokumeiError(error)) return `${error.code}: ${error.message}`
    throw error
  }
  throw new Error('expected a failure')
}

describeEachDialect('accounts, second factor and sessions', (t) => {
  let now = new Date('2026-11-25T09:00:00Z')
  let context: AuthContext
  const at = (minutes: number) => {
    now = new Date(now.getTime() + minutes * 60_000)
  }
  const code = (secret: string) => generateSync({ secret, epoch: Math.floor(now.getTime() / 1000) })
  const source = '127.0.0.1'

  beforeAll(() => {
    context = {
      db: t.db.kysely,
      keyring: t.keyring,
      settings: SETTINGS,
      audit: (event) => recordAuditEvent(t.db.kysely, t.keyring, event),
      now: () => now,
    }
  })

  /** A new account, set up: its TOTP secret. */
  async function ready(username: string, roles = ['intake_operator']): Promise<string> {
    const created = await createAccount(context, { username, roles, actor: 'os:admin@host' })
    const { secret } = await setUpAccount(context, { username, code: created.code, password: PASSWORD })
    return secret
  }

  it('needs the one-time code and a strong password, then both factors, and accepts a code once', async () => {
    const created = await createAccount(context, {
      username: 'sato.hanako',
      roles: ['linkage_reviewer'],
      actor: 'os:admin@host',
    })
    expect(created.account).toMatchObject({ roles: ['linkage_reviewer'], secondFactor: false })
    expect(created.code).toMatch(/^[A-Za-z0-9]{24}$/)
    const signInFailed = await failure(
      signIn(context, { username: 'sato.hanako', password: PASSWORD, code: '000000', source }),
    )
    expect(signInFailed).toMatch(/^auth\.failed/)

    expect(
      await failure(setUpAccount(context, { username: 'sato.hanako', code: 'wrong', password: PASSWORD })),
    ).toMatch(/^account\.bad_code/)
    expect(
      await failure(
        setUpAccount(context, { username: 'sato.hanako', code: created.code, password: 'short' }),
      ),
    ).toMatch(/^account\.weak_password/)
    const { secret, uri } = await setUpAccount(context, {
      username: 'sato.hanako',
      code: created.code,
      password: PASSWORD,
    })
    expect(uri).toBe(`otpauth://totp/tokumei:sato.hanako?secret=${secret}&issuer=tokumei`)
    // The code is spent.
    expect(
      await failure(
        setUpAccount(context, { username: 'sato.hanako', code: created.code, password: PASSWORD }),
      ),
    ).toMatch(/^account\.bad_code/)

    expect(
      await failure(signIn(context, { username: 'sato.hanako', password: PASSWORD, code: '000000', source })),
    ).toBe(signInFailed)
    const first = code(secret)
    const session = await signIn(context, {
      username: 'sato.hanako',
      password: PASSWORD,
      code: first,
      source,
    })
    expect(session.session.account).toMatchObject({ username: 'sato.hanako', secondFactor: true })
    // The same code again (a replay within its 30 s) fails; the next period's code works.
    expect(
      await failure(signIn(context, { username: 'sato.hanako', password: PASSWORD, code: first, source })),
    ).toBe(signInFailed)
    at(1)
    await signIn(context, { username: 'sato.hanako', password: PASSWORD, code: code(secret), source })
  })

  it('locks the account after repeated failures with one answer for everything, and unlocks after the lock time', async () => {
    const secret = await ready('suzuki.ichiro')
    at(1)
    const answers = new Set<string>()
    answers.add(
      await failure(
        signIn(context, { username: 'nobody.here', password: PASSWORD, code: code(secret), source }),
      ),
    )
    for (let i = 0; i < SETTINGS.maxFailedLogins; i++) {
      answers.add(
        await failure(
          signIn(context, {
            username: 'suzuki.ichiro',
            password: 'wrong password!',
            code: code(secret),
            source,
          }),
        ),
      )
    }
    // Locked: the right password and code fail too, with the same sentence.
    answers.add(
      await failure(
        signIn(context, { username: 'suzuki.ichiro', password: PASSWORD, code: code(secret), source }),
      ),
    )
    expect(answers.size).toBe(1)
    const locked = await t.db.kysely
      .selectFrom('audit.event')
      .select(['actor', 'outcome'])
      .where('action', '=', 'auth.locked')
      .execute()
    expect(locked).toEqual([{ actor: 'account:suzuki.ichiro', outcome: 'denied' }])
    at(SETTINGS.lockMinutes + 1)
    await signIn(context, { username: 'suzuki.ichiro', password: PASSWORD, code: code(secret), source })
  })

  it('ends sessions when idle, at their absolute end, and refuses a state change without the CSRF token', async () => {
    const secret = await ready('tanaka.ken')
    at(1)
    const { token, csrf } = await signIn(context, {
      username: 'tanaka.ken',
      password: PASSWORD,
      code: code(secret),
      source,
    })
    expect((await authenticateSession(context, token)).account.username).toBe('tanaka.ken')
    expect(await failure(authenticateSession(context, token, { requireCsrf: true }))).toMatch(/^auth\.csrf/)
    expect(
      await failure(authenticateSession(context, token, { requireCsrf: true, csrf: `${csrf}x` })),
    ).toMatch(/^auth\.csrf/)
    await authenticateSession(context, token, { requireCsrf: true, csrf })
    // Active every 10 minutes: alive until the absolute end, then gone.
    for (let minutes = 10; minutes < SETTINGS.sessionHours * 60; minutes += 10) {
      at(10)
      await authenticateSession(context, token)
    }
    at(10)
    expect(await failure(authenticateSession(context, token))).toMatch(/^auth\.session/)

    at(1)
    const idle = await signIn(context, {
      username: 'tanaka.ken',
      password: PASSWORD,
      code: code(secret),
      source,
    })
    at(SETTINGS.sessionIdleMinutes + 1)
    expect(await failure(authenticateSession(context, idle.token))).toMatch(/^auth\.session/)
    at(-SETTINGS.sessionIdleMinutes)
    // Once ended for idleness it stays ended.
    expect(await failure(authenticateSession(context, idle.token))).toMatch(/^auth\.session/)
    expect(await failure(authenticateSession(context, undefined))).toMatch(/^auth\.session/)
    expect(await failure(authenticateSession(context, 'x'.repeat(43)))).toMatch(/^auth\.session/)
  })

  it('an admin reset or a disable ends the sessions and the old credentials at once', async () => {
    const secret = await ready('ito.mai')
    at(1)
    const before = await signIn(context, {
      username: 'ito.mai',
      password: PASSWORD,
      code: code(secret),
      source,
    })
    const reset = await resetAccount(context, { username: 'ito.mai', actor: 'os:admin@host' })
    expect(await failure(authenticateSession(context, before.token))).toMatch(/^auth\.session/)
    at(1)
    expect(
      await failure(signIn(context, { username: 'ito.mai', password: PASSWORD, code: code(secret), source })),
    ).toMatch(/^auth\.failed/)
    const again = await setUpAccount(context, {
      username: 'ito.mai',
      code: reset.code,
      password: `${PASSWORD}!`,
    })
    expect(again.secret).not.toBe(secret)
    at(1)
    const after = await signIn(context, {
      username: 'ito.mai',
      password: `${PASSWORD}!`,
      code: code(again.secret),
      source,
    })
    await disableAccount(context, { username: 'ito.mai', actor: 'os:admin@host' })
    expect(await failure(authenticateSession(context, after.token))).toMatch(/^auth\.session/)
    at(1)
    expect(
      await failure(
        signIn(context, { username: 'ito.mai', password: `${PASSWORD}!`, code: code(again.secret), source }),
      ),
    ).toMatch(/^auth\.failed/)
  })

  it('sets up the first administrator with the one-time password `tokumei init` printed', async () => {
    const oneTime = 'Abcdefghjkmnpqrstuvw'
    await t.db.kysely
      .insertInto('governance.account')
      .values({
        username: 'admin',
        password_hash: await hashPassword(oneTime),
        roles: ['admin'],
        must_change_password: true,
      })
      .execute()
    expect(
      await failure(signIn(context, { username: 'admin', password: oneTime, code: '123456', source })),
    ).toMatch(/^auth\.failed/)
    const { secret } = await setUpAccount(context, { username: 'admin', code: oneTime, password: PASSWORD })
    at(1)
    await signIn(context, { username: 'admin', password: PASSWORD, code: code(secret), source })
  })

  it('keeps secrets out of the database in clear and out of the audit log', async () => {
    const { rows } = await sql<{ r: string }>`select a::text as r from governance.account a`.execute(
      t.db.kysely,
    )
    const { rows: sessions } = await sql<{
      r: string
    }>`select s::text as r from governance.session s`.execute(t.db.kysely)
    const { rows: audit } = await sql<{ r: string }>`select e::text as r from audit.event e`.execute(
      t.db.kysely,
    )
    const stored = [...rows, ...sessions, ...audit].map((r) => r.r).join('\n')
    expect(stored).not.toContain(PASSWORD)
    expect(stored).not.toMatch(/[A-Z2-7]{32}/) // no TOTP secret in base32
    expect(audit.length).toBeGreaterThan(10)
  })
})
