import { generateSync } from 'otplib'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeEachDialect } from '../../../test/support/database.js'
import { startTestServer, type TestServer } from '../../../test/support/server.js'
import { addInstitution } from '../../intake/index.js'
import { authContext, monitorContext } from '../../runtime/index.js'
import { createAccount, setUpAccount } from '../auth/index.js'
import { blockedSubjects, listAlerts, runMonitorOnce, startMonitor, voteToLift } from './index.js'

/**
 * One scenario per monitor rule, through the HTTP API as an attacker would go: the offending
 * requests, then the block — measured from the offending response to the block being in force.
 */
const PASSWORD = 'yama-kawa-umi-sora'

describeEachDialect('monitor', (t) => {
  let server: TestServer
  let monitor: { stop(): Promise<void> }
  const secrets = new Map<string, string>()
  let apiKey: string

  beforeAll(async () => {
    server = await startTestServer(t, {
      env: { TOKUMEI_MONITOR_FAILED_LOGINS: '5', TOKUMEI_ALLOWED_NETWORKS: '10.0.0.0/8,fd00::/8' },
    })
    for (const username of ['nakamura.rin', 'endo.sho']) {
      const { code } = await createAccount(authContext(server.runtime), {
        username,
        roles: ['reviewer'],
        actor: 'test',
      })
      secrets.set(
        username,
        (await setUpAccount(authContext(server.runtime), { username, code, password: PASSWORD })).secret,
      )
    }
    apiKey = (
      await addInstitution(t.db.kysely, { code: '1310000009', name: '監視病院', noticeStart: '2020-01-01' })
    ).key.apiKey
    // The first pass places the cursor at the present; the loop then watches what follows.
    await runMonitorOnce(monitorContext(server.runtime))
    monitor = startMonitor(monitorContext(server.runtime), { intervalMs: 50 })
  })
  afterAll(async () => {
    await monitor?.stop()
  })

  /**
   * Codes are accepted once and in increasing time steps, ±30 s: an account's first sign-in here uses
   * the previous period's code, the next the current one, the third the next one.
   */
  const used = new Map<string, number>()
  const login = async (username: string, remoteAddress: string) => {
    const n = used.get(username) ?? 0
    const epoch = Math.floor(Date.now() / 1000) + 30 * (n - 1)
    const res = await server.app.inject({
      method: 'POST',
      url: '/api/auth/v1/login',
      remoteAddress,
      payload: {
        username,
        password: PASSWORD,
        code: generateSync({ secret: secrets.get(username) as string, epoch }),
      },
    })
    if (res.statusCode === 200) used.set(username, n + 1)
    return res
  }

  /** Milliseconds until `subject` is blocked (fails after 3 s). */
  async function timeToBlock(subject: string): Promise<number> {
    const start = performance.now()
    while (performance.now() - start < 3000) {
      if ((await blockedSubjects(t.db.kysely, [subject])).has(subject)) return performance.now() - start
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    throw new Error(`${subject} was not blocked within 3 s`)
  }

  it('blocks an address after repeated failed sign-ins within 1 s; lifting takes two people', async () => {
    // Guessing at a name that does not exist (so no account lockout interferes): the address counts.
    for (let i = 0; i < 5; i++) {
      const guess = await server.app.inject({
        method: 'POST',
        url: '/api/auth/v1/login',
        remoteAddress: '10.9.8.7',
        payload: { username: 'ghost.user', password: 'guess', code: '123456' },
      })
      expect(guess.statusCode).toBe(401)
    }
    const ms = await timeToBlock('source:10.9.8.7')
    expect(ms).toBeLessThan(1000)
    // The right credentials from the blocked address fail; from another address they work.
    expect((await login('endo.sho', '10.9.8.7')).statusCode).toBe(401)
    expect((await login('endo.sho', '10.1.1.1')).statusCode).toBe(200)
    const [alert] = await listAlerts(t.db.kysely)
    expect(alert).toMatchObject({
      rule: 'failed-sign-ins',
      subject: 'source:10.9.8.7',
      block: { state: 'active' },
    })
    const blockId = alert?.block?.id as number
    expect(await voteToLift(t.db.kysely, t.keyring, { blockId, actor: 'os:sato@core' })).toBe(
      'lift requested',
    )
    await expect(
      voteToLift(t.db.kysely, t.keyring, { blockId, actor: 'os:sato@core' }),
    ).rejects.toMatchObject({
      code: 'block.same_person',
    })
    expect(await voteToLift(t.db.kysely, t.keyring, { blockId, actor: 'os:tanaka@core' })).toBe('lifted')
    expect((await login('endo.sho', '10.9.8.7')).statusCode).toBe(200)
  })

  it('counts failed API keys the same way, and then refuses even a valid key from that address', async () => {
    const gateway = (authorization: string, remoteAddress: string) =>
      server.app.inject({
        method: 'GET',
        url: '/api/gateway/v1/holdings',
        remoteAddress,
        headers: { authorization },
      })
    for (let i = 0; i < 5; i++) expect((await gateway('Bearer tkm_guess', '10.7.7.7')).statusCode).toBe(401)
    expect(await timeToBlock('source:10.7.7.7')).toBeLessThan(1000)
    expect((await gateway(`Bearer ${apiKey}`, '10.7.7.7')).statusCode).toBe(401)
    expect((await gateway(`Bearer ${apiKey}`, '10.7.7.8')).statusCode).toBe(200)
  })

  it('blocks an account that signs in from outside the allowed networks within 1 s, ending its session', async () => {
    const res = await login('nakamura.rin', '192.168.1.5')
    expect(res.statusCode).toBe(200)
    const cookie = String(res.headers['set-cookie']).split(';')[0] as string
    expect(await timeToBlock('account:nakamura.rin')).toBeLessThan(1000)
    const session = await server.app.inject({
      method: 'GET',
      url: '/api/auth/v1/session',
      headers: { cookie },
    })
    expect(session.statusCode).toBe(401)
    expect((await login('nakamura.rin', '10.2.2.2')).statusCode).toBe(401)
    // IPv6 inside the allowed range is fine.
    expect((await login('endo.sho', 'fd00::5')).statusCode).toBe(200)
    const alerts = await listAlerts(t.db.kysely)
    expect(alerts.map((a) => a.rule)).toContain('unknown-network')
    const blocks = await t.db.kysely
      .selectFrom('audit.event')
      .select('actor')
      .where('action', '=', 'monitor.block')
      .execute()
    expect(blocks.length).toBe(alerts.length)
  })
})
