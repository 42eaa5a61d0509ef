import { readFileSync, rmSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import { sql } from 'kysely'
import { generateSync } from 'otplib'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeEachDialect } from '../../../test/support/database.js'
import {
  exists,
  firstHospital,
  listFiles,
  SHARED_DATA,
  useSyntheticData,
} from '../../../test/support/files.js'
import { startTestServer, type TestServer } from '../../../test/support/server.js'
import {
  addInstitution,
  openSubmission,
  processSubmission,
  receiveFiles,
  sealSubmission,
} from '../../intake/index.js'
import {
  authContext,
  coreIntakeContext,
  createWorker,
  monitorContext,
  receiveContext,
} from '../../runtime/index.js'
import { approveRequest } from '../approvals/index.js'
import { createAccount, setUpAccount, verifyPerson } from '../auth/index.js'
import { addScheduleEntry, listSchedule, localTime, removeScheduleEntry } from '../schedule/index.js'
import {
  blockedSubjects,
  deliverAlerts,
  liftBlock,
  listAlerts,
  requestLift,
  runMonitorOnce,
  startMonitor,
} from './index.js'

/**
 * One scenario per monitor rule, as an offender would go — through the HTTP API, or a script on the
 * core host — then the block, measured from the offending act to the block being in force. The
 * monitor's fallback poll is 5 s here: a block within 1 s proves that the audit log's NOTIFY woke it.
 */
const PASSWORD = 'yama-kawa-umi-sora'
const HAS_SHARED_DATA = SHARED_DATA !== undefined && exists(SHARED_DATA)
const generate = useSyntheticData()

describeEachDialect('monitor', (t, dialect) => {
  let server: TestServer
  let monitor: { stop(): Promise<void> }
  let webhook: Server
  const posted: Array<Record<string, unknown>> = []
  const secrets = new Map<string, string>()
  let apiKey: string

  beforeAll(async () => {
    webhook = createServer((request, response) => {
      let body = ''
      request.on('data', (chunk) => {
        body += chunk
      })
      request.on('end', () => {
        posted.push(JSON.parse(body) as Record<string, unknown>)
        response.end('ok')
      })
    })
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve))
    server = await startTestServer(t, {
      env: {
        TOKUMEI_MONITOR_FAILED_LOGINS: '5',
        TOKUMEI_ALLOWED_NETWORKS: '10.0.0.0/8,fd00::/8',
        TOKUMEI_MONITOR_VOLUME_MINIMUM: '12',
        TOKUMEI_MONITOR_WEBHOOK_URL: `http://127.0.0.1:${(webhook.address() as AddressInfo).port}/alerts`,
      },
    })
    for (const [username, roles] of [
      ['nakamura.rin', ['reviewer']],
      ['endo.sho', ['reviewer']],
      ['ishii.mao', ['security_officer']],
      ['mori.aki', ['security_officer']],
      ['ueda.kei', ['reviewer']],
      ['kondo.yu', ['researcher']],
    ] as const) {
      const { code } = await createAccount(authContext(server.runtime), {
        username,
        roles: [...roles],
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
    monitor = startMonitor(monitorContext(server.runtime), {
      listen: (channel, onNotify) => t.db.listen(channel, onNotify),
      intervalMs: 5000,
    })
  })
  afterAll(async () => {
    console.info(`monitor, time to block (${dialect}): ${timings.join('; ')}`)
    await monitor?.stop()
    await new Promise((resolve) => webhook?.close(resolve))
  })

  /**
   * Codes are accepted once and in increasing time steps, ±30 s: an account's first use here takes
   * the previous period's code, the next the current one, the third the next one.
   */
  const used = new Map<string, number>()
  const nextCode = (username: string) => {
    const n = used.get(username) ?? 0
    used.set(username, n + 1)
    return generateSync({
      secret: secrets.get(username) as string,
      epoch: Math.floor(Date.now() / 1000) + 30 * (n - 1),
    })
  }
  const login = async (username: string, remoteAddress: string) => {
    const n = used.get(username) ?? 0
    const res = await server.app.inject({
      method: 'POST',
      url: '/api/auth/v1/login',
      remoteAddress,
      payload: { username, password: PASSWORD, code: nextCode(username) },
    })
    if (res.statusCode !== 200) used.set(username, n)
    return res
  }

  /**
   * Milliseconds from the end of the offending act (its response, or its return) until `subject` is
   * blocked (fails after 3 s); each is printed at the end.
   */
  const timings: string[] = []
  async function timeToBlock(subject: string): Promise<number> {
    const start = performance.now()
    while (performance.now() - start < 3000) {
      if ((await blockedSubjects(t.db.kysely, [subject])).has(subject)) {
        const ms = performance.now() - start
        timings.push(`${subject} ${ms.toFixed(0)} ms`)
        return ms
      }
      await new Promise((resolve) => setTimeout(resolve, 5))
    }
    throw new Error(`${subject} was not blocked within 3 s`)
  }

  /** A person proving who they are for an approval (password + code). */
  const verified = (username: string) =>
    verifyPerson(authContext(server.runtime), {
      username,
      password: PASSWORD,
      code: nextCode(username),
      source: '10.0.0.1',
    })

  it('failed-sign-ins: blocks an address within 1 s; the lift is asked by one person and approved by another', async () => {
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
    expect(await timeToBlock('source:10.9.8.7')).toBeLessThan(1000)
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

    // ishii.mao asks on the core host.
    const asker = { db: t.db.kysely, keyring: t.keyring, actor: 'os:ishii.mao@core' }
    const request = await requestLift(asker, blockId)
    expect((await listAlerts(t.db.kysely))[0]?.block?.state).toBe('lift requested')
    await expect(requestLift({ ...asker, actor: 'os:sato@core' }, blockId)).rejects.toMatchObject({
      code: 'approval.pending',
    })
    const approve = async (username: string) =>
      approveRequest(asker, {
        id: request.id,
        approver: await verified(username),
        inTransaction: true,
        execute: (approved, db) => liftBlock(db, t.keyring, approved),
      })
    // The same person through another channel (her own account) cannot approve her request.
    await expect(approve('ishii.mao')).rejects.toMatchObject({ code: 'approval.same_person' })
    // Another person, but one whose role may not lift blocks.
    await expect(approve('endo.sho')).rejects.toMatchObject({ code: 'approval.forbidden' })
    expect((await blockedSubjects(t.db.kysely, ['source:10.9.8.7'])).size).toBe(1)

    const done = await approve('mori.aki')
    expect(done).toMatchObject({
      state: 'done',
      approvedBy: 'account:mori.aki',
      requestedBy: 'os:ishii.mao@core',
    })
    expect((await blockedSubjects(t.db.kysely, ['source:10.9.8.7'])).size).toBe(0)
    expect((await login('endo.sho', '10.9.8.7')).statusCode).toBe(200)
    const lifted = await t.db.kysely
      .selectFrom('audit.event')
      .select(['actor', 'target'])
      .where('action', '=', 'block.lifted')
      .execute()
    expect(lifted).toEqual([{ actor: 'account:mori.aki', target: `block:${blockId}` }])
  })

  it('failed-sign-ins: counts failed API keys the same way, and then refuses even a valid key from that address', async () => {
    const gateway = (authorization: string, remoteAddress: string) =>
      server.app.inject({
        method: 'GET',
        url: '/api/gateway/v1/holdings',
        remoteAddress,
        headers: { authorization },
      })
    for (let i = 0; i < 5; i++) {
      expect((await gateway('Bearer tkm_guess', '10.7.7.7')).statusCode).toBe(401)
    }
    expect(await timeToBlock('source:10.7.7.7')).toBeLessThan(1000)
    expect((await gateway(`Bearer ${apiKey}`, '10.7.7.7')).statusCode).toBe(401)
    expect((await gateway(`Bearer ${apiKey}`, '10.7.7.8')).statusCode).toBe(200)
  })

  it('unknown-network: blocks an account signing in from outside the allowed networks within 1 s, ending its session', async () => {
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
    expect((await login('ueda.kei', 'fd00::5')).statusCode).toBe(200)
    expect((await listAlerts(t.db.kysely)).map((a) => a.rule)).toContain('unknown-network')
  })

  it('volume: blocks an API key far above its baseline within 1 s; the other institutions go on', async () => {
    const { key } = await addInstitution(t.db.kysely, {
      code: '1310000010',
      name: '多量病院',
      noticeStart: '2020-01-01',
    })
    const open = () =>
      server.app.inject({
        method: 'POST',
        url: '/api/gateway/v1/submissions',
        remoteAddress: '10.3.3.3',
        headers: { authorization: `Bearer ${key.apiKey}` },
        payload: { format: 'ssmix2' },
      })
    for (let i = 0; i < 12; i++) {
      expect((await open()).statusCode).toBe(201)
    }
    const subject = `key:${key.keyId}`
    expect(await timeToBlock(subject)).toBeLessThan(1000)
    expect((await open()).statusCode).toBe(401)
    const other = await server.app.inject({
      method: 'GET',
      url: '/api/gateway/v1/holdings',
      remoteAddress: '10.3.3.4',
      headers: { authorization: `Bearer ${apiKey}` },
    })
    expect(other.statusCode).toBe(200)
    const alert = (await listAlerts(t.db.kysely)).find((a) => a.subject === subject)
    expect(alert?.rule).toBe('volume')
    expect(alert?.message).toContain('busiest window of 0')
  })

  it('volume: an API key whose busiest past window was as busy is not blocked for the same count', async () => {
    const { institution, key } = await addInstitution(t.db.kysely, {
      code: '1310000011',
      name: '繁忙病院',
      noticeStart: '2020-01-01',
    })
    const actor = `institution:${institution.code}/key:${key.keyId}`
    // An agency installed a month ago, whose schedule already stood two days ago…
    await t.db.kysely
      .updateTable('governance.schedule')
      .set({ created_at: sql<Date>`created_at - interval '30 days'` })
      .where('who', '=', 'institution:*')
      .execute()
    // …when this key opened 5 submissions in one window: a baseline of 5, a threshold of 50.
    // (Written straight through audit.append with a stand-in hash: this database's chain is not verified.)
    for (let i = 0; i < 5; i++)
      await sql`select audit.append(h.seq + 1, now() - interval '2 days', ${actor}, 'intake.opened', null, 'ok',
        '{}'::jsonb, coalesce(h.hash, '\\x0000000000000000000000000000000000000000000000000000000000000000'::bytea),
        sha256(random()::text::bytea)) from audit.head() h`.execute(t.db.kysely)
    for (let i = 0; i < 12; i++) {
      const res = await server.app.inject({
        method: 'POST',
        url: '/api/gateway/v1/submissions',
        remoteAddress: '10.3.3.5',
        headers: { authorization: `Bearer ${key.apiKey}` },
        payload: { format: 'ssmix2' },
      })
      expect(res.statusCode).toBe(201)
    }
    await runMonitorOnce(monitorContext(server.runtime))
    expect((await blockedSubjects(t.db.kysely, [`key:${key.keyId}`])).size).toBe(0)
  })

  it('outside-schedule: once the agency narrows the schedule, an account acting outside its hours is blocked within 1 s', async () => {
    const context = { db: t.db.kysely, keyring: t.keyring, actor: 'os:admin@core' }
    const timeZone = server.runtime.config.monitor.timeZone
    const minute = localTime(new Date(), timeZone).minute
    const hhmm = (m: number) => {
      const wrapped = ((m % 1440) + 1440) % 1440
      return `${String(Math.floor(wrapped / 60)).padStart(2, '0')}:${String(wrapped % 60).padStart(2, '0')}`
    }
    // Researchers: two hours from now, for an hour (not now). Security officers: around now.
    await addScheduleEntry(context, {
      who: 'role:researcher',
      from: hhmm(minute + 120),
      to: hhmm(minute + 180),
    })
    await addScheduleEntry(context, {
      who: 'role:security_officer',
      from: hhmm(minute - 60),
      to: hhmm(minute + 60),
    })
    const everyone = (await listSchedule(t.db.kysely)).find((e) => e.who === 'account:*')
    await removeScheduleEntry(context, everyone?.id as number)

    expect((await login('kondo.yu', '10.4.4.4')).statusCode).toBe(200)
    expect(await timeToBlock('account:kondo.yu')).toBeLessThan(1000)
    expect((await listAlerts(t.db.kysely))[0]).toMatchObject({
      rule: 'outside-schedule',
      subject: 'account:kondo.yu',
    })
    // Within its hours, the officer signs in and stays unblocked; API keys and the core host are untouched.
    expect((await login('ishii.mao', '10.4.4.5')).statusCode).toBe(200)
    await runMonitorOnce(monitorContext(server.runtime))
    expect((await blockedSubjects(t.db.kysely, ['account:ishii.mao'])).size).toBe(0)
    await addScheduleEntry(context, { who: 'account:*' })
  })

  it.runIf(HAS_SHARED_DATA)(
    'vault-read-outside-job: a script reading identities outside a job blocks its operator within 1 s; a job does not',
    async () => {
      const { dir } = await generate({ persons: 8, hospitals: 1, seed: 'monitor', formats: ['ssmix2'] })
      const code = firstHospital(dir)
      const { institution } = await addInstitution(t.db.kysely, {
        code,
        name: '金庫病院',
        noticeStart: '2015-04-01',
      })
      const files = listFiles(join(dir, code)).map((path) => ({
        path,
        bytes: readFileSync(join(dir, code, path)),
      }))
      const receive = receiveContext(server.runtime)
      const submit = async (part: number) => {
        const id = await openSubmission(receive, {
          institutionId: institution.id,
          declaredFormat: 'ssmix2',
          channel: 'cli',
        })
        await receiveFiles(
          receive,
          id,
          files.filter((_, i) => i % 3 === part),
        )
        await sealSubmission(receive, id)
        return id
      }
      // Through the queue: the first submission fills the vault, the second reads it — in jobs.
      await submit(0)
      await submit(1)
      await createWorker(server.runtime).run({ untilIdle: true })
      await runMonitorOnce(monitorContext(server.runtime))
      const reads = await t.db.kysely
        .selectFrom('audit.event')
        .select('detail')
        .where('action', '=', 'identity.read')
        .execute()
      expect(reads.length).toBeGreaterThan(0)
      expect(reads.every((r) => (r.detail as { kind?: string }).kind === 'intake.process')).toBe(true)
      expect((await listAlerts(t.db.kysely)).map((a) => a.rule)).not.toContain('vault-read-outside-job')

      // A script on the core host calls the same code without a job.
      const rogue = await submit(2)
      await processSubmission({ ...coreIntakeContext(server.runtime), actor: 'os:mallory@core' }, rogue)
      expect(await timeToBlock('os:mallory@core')).toBeLessThan(1000)
      expect((await listAlerts(t.db.kysely))[0]).toMatchObject({
        rule: 'vault-read-outside-job',
        subject: 'os:mallory@core',
      })
      rmSync(dir, { recursive: true, force: true })
    },
  )

  it('posts every alert to the webhook, without personal data', async () => {
    const deadline = Date.now() + 5000
    let alerts = await listAlerts(t.db.kysely)
    while (alerts.some((a) => a.delivery !== 'delivered') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20))
      alerts = await listAlerts(t.db.kysely)
    }
    expect(posted.map((p) => p.alert).sort()).toEqual(alerts.map((a) => a.id).sort())
    expect(posted.every((p) => p.source === 'tokumei' && typeof p.rule === 'string')).toBe(true)
    expect(alerts.every((a) => a.delivery === 'delivered')).toBe(true)
  })
  it('records a failed delivery and retries it later, not at once', async () => {
    await monitor.stop()
    const alert = await t.db.kysely
      .insertInto('governance.alert')
      .values({ rule: 'volume', subject: 'key:test', message: 'test', event_seq: 1 })
      .returning('id')
      .executeTakeFirstOrThrow()
    let calls = 0
    const down = (async () => {
      calls++
      throw new Error('connect ECONNREFUSED')
    }) as unknown as typeof fetch
    const context = monitorContext(server.runtime)
    expect(await deliverAlerts(context, down)).toBe(0)
    expect(await deliverAlerts(context, down)).toBe(0)
    expect(calls).toBe(1)
    const row = await t.db.kysely
      .selectFrom('governance.alert')
      .select(['delivery_attempts', 'delivery_error', 'delivered_at'])
      .where('id', '=', alert.id)
      .executeTakeFirstOrThrow()
    expect(row).toEqual({ delivery_attempts: 1, delivery_error: 'connect ECONNREFUSED', delivered_at: null })
    expect((await listAlerts(t.db.kysely)).find((a) => a.id === alert.id)?.delivery).toBe(
      'failed: connect ECONNREFUSED',
    )
  })
})
