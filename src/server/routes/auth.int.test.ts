import type { FastifyInstance } from 'fastify'
import { generateSync } from 'otplib'
import { beforeAll, expect, it } from 'vitest'
import { describeEachDialect } from '../../../test/support/database.js'
import { startTestServer, type TestServer } from '../../../test/support/server.js'
import { authContext } from '../../runtime/index.js'
import { createAccount } from '../../security/index.js'

const API = '/api/auth/v1'
const PASSWORD = 'Sakura-no-hana-2026'

describeEachDialect('sign-in API', (t) => {
  let server: TestServer
  let app: FastifyInstance
  let secret: string

  beforeAll(async () => {
    server = await startTestServer(t)
    app = server.app
    const created = await createAccount(authContext(server.runtime), {
      username: 'kobayashi.yui',
      roles: ['intake_operator'],
      actor: 'os:admin@host',
    })
    const setup = await app.inject({
      method: 'POST',
      url: `${API}/setup`,
      payload: { username: 'kobayashi.yui', code: created.code, password: PASSWORD },
    })
    expect(setup.statusCode).toBe(200)
    secret = setup.json().secret
    expect(setup.json().uri).toContain('otpauth://totp/')
  })

  const login = (code = generateSync({ secret }), extra: Record<string, string> = {}) =>
    app.inject({
      method: 'POST',
      url: `${API}/login`,
      payload: { username: 'kobayashi.yui', password: PASSWORD, code, ...extra },
    })

  it('signs in with a strict cookie and a CSRF token, and ends the session only with the token', async () => {
    const res = await login()
    expect(res.statusCode).toBe(200)
    const setCookie = String(res.headers['set-cookie'])
    expect(setCookie).toMatch(/^tokumei_session=[A-Za-z0-9_-]{43};/)
    for (const attribute of ['HttpOnly', 'Secure', 'SameSite=Strict', 'Path=/', 'Expires='])
      expect(setCookie).toContain(attribute)
    const { csrf, account } = res.json()
    expect(account).toMatchObject({ username: 'kobayashi.yui', roles: ['intake_operator'] })
    const cookie = setCookie.split(';')[0] as string

    const who = await app.inject({ method: 'GET', url: `${API}/session`, headers: { cookie } })
    expect(who.statusCode).toBe(200)
    expect(who.json().account.username).toBe('kobayashi.yui')

    const forged = await app.inject({ method: 'POST', url: `${API}/logout`, headers: { cookie } })
    expect(forged.statusCode).toBe(403)
    expect(forged.json().error.code).toBe('auth.csrf')
    const out = await app.inject({
      method: 'POST',
      url: `${API}/logout`,
      headers: { cookie, 'x-csrf-token': csrf },
    })
    expect(out.statusCode).toBe(200)
    const after = await app.inject({ method: 'GET', url: `${API}/session`, headers: { cookie } })
    expect(after.statusCode).toBe(401)
    expect(after.json().error.code).toBe('auth.session')
  })

  it('answers a wrong code with 401 and an unknown field with 400, naming neither value', async () => {
    const wrong = await login('000000')
    expect(wrong.statusCode).toBe(401)
    expect(wrong.json().error.code).toBe('auth.failed')
    const extra = await login(undefined, { role: 'admin' })
    expect(extra.statusCode).toBe(400)
    expect(extra.json().error.code).toBe('request.invalid')
    const anonymous = await app.inject({ method: 'GET', url: `${API}/session` })
    expect(anonymous.statusCode).toBe(401)
  })

  it('slows guessing: after ten attempts a minute from one address, 429 with Retry-After', async () => {
    let limited: Awaited<ReturnType<typeof login>> | undefined
    for (let attempt = 0; attempt < 11 && !limited; attempt++) {
      const res = await login('000000')
      if (res.statusCode === 429) limited = res
      else expect(res.statusCode).toBe(401)
    }
    expect(limited?.json().error.code).toBe('request.rate_limited')
    expect(Number(limited?.headers['retry-after'])).toBeGreaterThan(0)
  })

  it('never writes a password, a code or the TOTP secret to a log line', () => {
    const logs = server.logs()
    expect(logs).toContain(`${API}/login`)
    for (const value of [PASSWORD, secret]) expect(logs).not.toContain(value)
  })
})
