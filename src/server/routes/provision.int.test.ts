import { generateSync } from 'otplib'
import { beforeAll, expect, it } from 'vitest'
import { describeEachDialect } from '../../../test/support/database.js'
import { startTestServer, type TestServer } from '../../../test/support/server.js'
import {
  buildStatistics,
  CONTRACT_SCHEMA,
  createDelivery,
  decryptPackage,
  defaultPersonsPolicy,
  generateRecipientKeys,
  parseQuery,
  parseSpec,
  recipientKeyId,
  signContract,
  storePolicy,
} from '../../release/index.js'
import { authContext, createWorker, deliveryContext, releaseBuildContext } from '../../runtime/index.js'
import { createAccount, setUpAccount, signIn } from '../../security/index.js'

/**
 * The portal's provision routes in-process: a researcher applies, two reviewers approve with their
 * session and a fresh code, the researcher sees only their own projects, a publication check flags
 * small cells, and a delivered package is downloaded by its link until the link is used up.
 */
const APPLICATION = {
  title: '高血圧の研究',
  organisation: '架空大学',
  investigator: '研究 二郎',
  purpose: 'research',
  items: ['年齢', '病名'],
  cohort: '高血圧',
  period: { from: '2026-01-01', to: '2027-12-31' },
  security: ['閉域の解析環境'],
}

describeEachDialect('provision routes', (t) => {
  let server: TestServer
  const sessions = new Map<string, { headers: Record<string, string>; secret: string }>()

  beforeAll(async () => {
    server = await startTestServer(t)
    const context = authContext(server.runtime)
    for (const [username, role] of [
      ['rita', 'researcher'],
      ['ryo', 'researcher'],
      ['rev.a', 'reviewer'],
      ['rev.b', 'reviewer'],
      ['eng', 'anonymization_engineer'],
    ] as const) {
      const { code } = await createAccount(context, { username, roles: [role], actor: 'test' })
      const { secret } = await setUpAccount(context, { username, code, password: 'provision-password-1' })
      const { token, csrf } = await signIn(context, {
        username,
        password: 'provision-password-1',
        code: generateSync({ secret }),
        source: 'test',
      })
      sessions.set(username, {
        headers: { cookie: `tokumei_session=${token}`, 'x-csrf-token': csrf },
        secret,
      })
    }
  })

  const call = (user: string, method: 'GET' | 'POST', url: string, payload?: unknown) =>
    server.app.inject({
      method,
      url,
      headers: sessions.get(user)?.headers ?? {},
      ...(payload ? { payload: payload as object } : {}),
    })
  it('applies, reviews with two reviewers, and shows a researcher only their own projects', async () => {
    const applied = await call('rita', 'POST', '/api/portal/v1/projects', APPLICATION)
    expect(applied.statusCode).toBe(201)
    const code = applied.json().project.code as string
    const bad = await call('rita', 'POST', '/api/portal/v1/projects', { ...APPLICATION, items: [] })
    expect(bad.statusCode).toBe(400)
    expect(bad.json().error.message).toContain('items')
    expect((await call('ryo', 'GET', `/api/portal/v1/projects/${code}`)).statusCode).toBe(404)
    expect((await call('ryo', 'GET', '/api/portal/v1/projects')).json().projects).toEqual([])
    expect(
      (await call('rita', 'GET', '/api/portal/v1/projects'))
        .json()
        .projects.map((p: { code: string }) => p.code),
    ).toEqual([code])
    const wrong = await call('rev.a', 'POST', `/api/portal/v1/projects/${code}/reviews`, {
      decision: 'approve',
      code: '000000',
    })
    expect(wrong.statusCode).toBe(401)
    for (const reviewer of ['rev.a', 'rev.b']) {
      const res = await call(
        'rev.a' === reviewer ? 'rev.a' : 'rev.b',
        'POST',
        `/api/portal/v1/projects/${code}/reviews`,
        {
          decision: 'approve',
          code: generateSync({
            secret: sessions.get(reviewer)?.secret as string,
            epoch: Math.floor(Date.now() / 1000) + 30,
          }),
        },
      )
      expect(res.statusCode, res.body).toBe(200)
    }
    expect((await call('rita', 'GET', `/api/portal/v1/projects/${code}`)).json().project.state).toBe(
      'approved',
    )
  })

  it('flags the cells of a table to be published that count fewer persons than the threshold', async () => {
    const code = (await call('rita', 'GET', '/api/portal/v1/projects')).json().projects[0].code as string
    const csv = '年齢階級,男,女,計\n40-49,12,3,15\n50-59,25,31,56\n計,37,34,71\n'
    const res = await call('rita', 'POST', `/api/portal/v1/projects/${code}/publication-checks`, {
      file: 'table1.csv',
      csv,
    })
    expect(res.statusCode, res.body).toBe(200)
    expect(res.json().check).toMatchObject({
      passed: false,
      cells: 9,
      flagged: [{ row: 2, column: '女', value: 3 }],
    })
  })

  it('serves a delivered package by its link, as many times as it allows', async () => {
    const code = (await call('rita', 'GET', '/api/portal/v1/projects')).json().projects[0].code as string
    const keys = generateRecipientKeys()
    await signContract(
      { db: t.db.kysely, keyring: t.keyring, actor: 'account:admin' },
      code,
      CONTRACT_SCHEMA.parse({
        recipients: [{ name: '研究 二郎', organisation: '架空大学', publicKey: keys.publicKeyPem }],
        purposes: ['高血圧の研究'],
        sharing: '研究室内',
        starts: '2026-01-01',
        ends: '2099-12-31',
        destroyBy: '2100-01-31',
      }),
      recipientKeyId,
    )
    // A statistics package (the store is empty: one cell, 0 persons) stands for any release.
    const stats = await buildStatistics(
      await releaseBuildContext(server.runtime),
      parseQuery({ project: code, dimensions: ['sex'] }, 'q'),
    )
    const delivery = await createDelivery(deliveryContext(server.runtime), {
      release: stats.id,
      recipient: '研究 二郎',
      downloads: 1,
    })
    const first = await server.app.inject({
      method: 'GET',
      url: `/api/portal/v1/downloads/${delivery.token}`,
    })
    expect(first.statusCode).toBe(200)
    expect(first.headers['content-type']).toBe('application/octet-stream')
    expect(decryptPackage(first.rawPayload, keys.privateKeyPem).release).toBe(stats.id)
    const second = await server.app.inject({
      method: 'GET',
      url: `/api/portal/v1/downloads/${delivery.token}`,
    })
    expect(second.statusCode).toBe(403)
    expect(second.json().error.code).toBe('delivery.exhausted')
    const releases = await call('rev.a', 'GET', '/api/portal/v1/releases')
    expect(releases.json().releases.map((r: { id: string }) => r.id)).toContain(stats.id)
    expect(server.logs()).not.toContain(delivery.token as string)
  })
  it('queues release builds and statistical queries for the core, and shows how their jobs ended', async () => {
    const code = (await call('rita', 'GET', '/api/portal/v1/projects')).json().projects[0].code as string
    const releases = `/api/portal/v1/projects/${code}/releases`
    const statistics = `/api/portal/v1/projects/${code}/statistics`
    expect((await call('rita', 'POST', statistics, { query: { dimensions: ['sex'] } })).statusCode).toBe(403)
    const withPolicy = await call('eng', 'POST', releases, {
      spec: { tables: ['persons'], policy: 'p.yaml' },
    })
    expect(withPolicy.statusCode).toBe(400)
    expect(withPolicy.json().error.message).toContain('cannot name a policy file')
    const wrong = await call('eng', 'POST', releases, { spec: { tables: { persons: ['height'] } } })
    expect(wrong.statusCode).toBe(400)
    expect(wrong.json().error.message).toContain('persons has no variable height')
    const unknown = await call('eng', 'POST', '/api/portal/v1/projects/P-2026-9999/releases', {
      spec: { tables: ['persons'] },
    })
    expect(unknown.statusCode).toBe(404)

    const build = await call('eng', 'POST', releases, { spec: { tables: { persons: ['age', 'sex'] } } })
    expect(build.statusCode, build.body).toBe(202)
    const query = await call('eng', 'POST', statistics, { query: { dimensions: ['sex'] } })
    expect(query.statusCode, query.body).toBe(202)
    const queued = (await call('eng', 'GET', `/api/portal/v1/jobs/${build.json().job}`)).json().job
    expect(queued).toMatchObject({ kind: 'release.build', status: 'queued', result: null })

    await createWorker(server.runtime).run({ untilIdle: true })
    // The store is empty: the build fails with its reason, the statistic is one cell of 0 persons.
    const failed = (await call('eng', 'GET', `/api/portal/v1/jobs/${build.json().job}`)).json().job
    expect(failed).toMatchObject({ kind: 'release.build', status: 'failed' })
    expect(failed.error).toContain('release.empty_cohort')
    const done = (await call('rev.a', 'GET', `/api/portal/v1/jobs/${query.json().job}`)).json().job
    expect(done).toMatchObject({ kind: 'stats.query', status: 'done', result: { project: code, cohort: 0 } })
    const listed = (await call('rev.a', 'GET', '/api/portal/v1/releases')).json().releases
    expect(listed.find((r: { id: string }) => r.id === done.result.id)).toMatchObject({
      kind: 'statistics',
      state: 'built',
    })
    expect((await call('eng', 'GET', '/api/portal/v1/jobs/999999')).statusCode).toBe(404)
    expect((await call('rita', 'GET', `/api/portal/v1/jobs/${query.json().job}`)).statusCode).toBe(403)
  })

  it('lists the stored policies and hands the chosen one to the build; shows a release with its deliveries', async () => {
    const code = (await call('rita', 'GET', '/api/portal/v1/projects')).json().projects[0].code as string
    await storePolicy(
      { db: t.db.kysely, keyring: t.keyring, actor: 'os:tester@core' },
      { name: 'k10', text: defaultPersonsPolicy(['age', 'sex', 'area'], 10), description: 'k = 10' },
    )
    const policies = (await call('eng', 'GET', '/api/portal/v1/policies')).json().policies
    expect(policies.map((p: { name: string; k: number }) => [p.name, p.k])).toEqual([
      ['default', 5],
      ['k10', 10],
    ])
    expect((await call('rita', 'GET', '/api/portal/v1/policies')).statusCode).toBe(403)
    const releases = `/api/portal/v1/projects/${code}/releases`
    const unknown = await call('eng', 'POST', releases, { spec: { tables: ['persons'] }, policy: 'nope' })
    expect(unknown.statusCode).toBe(404)
    expect(unknown.json().error.code).toBe('policy.not_found')
    const queued = await call('eng', 'POST', releases, { spec: { tables: ['persons'] }, policy: 'k10' })
    expect(queued.statusCode, queued.body).toBe(202)
    const job = await t.db.kysely
      .selectFrom('jobs.job')
      .select('payload')
      .where('id', '=', queued.json().job)
      .executeTakeFirstOrThrow()
    const payload = job.payload as { spec: string; policy: { name: string; text: string } }
    expect(JSON.parse(payload.spec)).toMatchObject({ project: code, policy: 'k10' })
    expect(payload.policy.name).toBe('k10')
    expect(
      parseSpec(payload.spec, 'the queued spec', undefined, payload.policy).policyDocument.privacy.k,
    ).toBe(10)
    await t.db.kysely.deleteFrom('jobs.job').where('id', '=', queued.json().job).execute()

    // The statistics package of the tests above, with its one delivery; a researcher sees only theirs.
    const [delivery] = (await call('rita', 'GET', '/api/portal/v1/deliveries')).json().deliveries
    const release = { id: delivery.release as string }
    const shown = (await call('rev.a', 'GET', `/api/portal/v1/releases/${release.id}`)).json().release
    expect(shown).toMatchObject({ id: release.id, project: code, recipients: [{ name: '研究 二郎' }] })
    expect(shown.deliveries.length).toBeGreaterThan(0)
    expect(JSON.stringify(shown)).not.toContain('publicKey')
    expect((await call('rita', 'GET', '/api/portal/v1/deliveries')).json().deliveries.length).toBeGreaterThan(
      0,
    )
    expect((await call('ryo', 'GET', '/api/portal/v1/deliveries')).json().deliveries).toEqual([])
    expect((await call('eng', 'GET', '/api/portal/v1/releases/R-missing')).statusCode).toBe(404)
    const delivered = await call('eng', 'POST', `/api/portal/v1/releases/${release.id}/deliveries`, {
      recipient: '研究 二郎',
      downloads: 1,
    })
    expect(delivered.statusCode, delivered.body).toBe(201)
    const link = delivered.json().path as string
    expect(link).toMatch(/^\/api\/portal\/v1\/downloads\/[A-Za-z0-9_-]+$/)
    expect((await server.app.inject({ method: 'GET', url: link })).statusCode).toBe(200)
    const stranger = await call('eng', 'POST', `/api/portal/v1/releases/${release.id}/deliveries`, {
      recipient: 'someone else',
    })
    expect(stranger.statusCode).toBe(403)
    expect(stranger.json().error.code).toBe('delivery.not_recipient')
  })
})
