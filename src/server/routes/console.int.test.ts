import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { generateSync } from 'otplib'
import { beforeAll, expect, it } from 'vitest'
import { describeEachDialect } from '../../../test/support/database.js'
import { firstHospital, listFiles, useSyntheticData } from '../../../test/support/files.js'
import { startTestServer, type TestServer } from '../../../test/support/server.js'
import { selectCohort } from '../../clinical/index.js'
import { localPatientHash } from '../../identity/index.js'
import {
  addInstitution,
  type IncomingFile,
  openSubmission,
  processSubmission,
  receiveFiles,
  sealSubmission,
} from '../../intake/index.js'
import { authContext, coreIntakeContext, createWorker, receiveContext } from '../../runtime/index.js'
import { createAccount, setUpAccount, signIn } from '../../security/index.js'

/**
 * The routes the web console adds, in-process on one hospital's synthetic data: the patients' page
 * (an opt-out request sealed, queued, registered by the core, followed by its receipt number), the
 * core's overview, holdings by month and registry, the live cohort count, the audit search, and the
 * console's own page. On both dialects.
 */
const generate = useSyntheticData()
const toFullWidth = (text: string) =>
  text.replace(/[0-9]/g, (d) => String.fromCharCode(d.charCodeAt(0) + 0xfee0))

describeEachDialect('console routes', (t) => {
  let server: TestServer
  let hospital: string
  let localIds: string[]
  const sessions = new Map<string, Record<string, string>>()

  /** A patient of the hospital as the store holds them: patient_ref and birth date. */
  const held = async (localId: string) =>
    t.db.kysely
      .selectFrom('identity.patient as v')
      .leftJoin('clinical.patient as c', 'c.patient_ref', 'v.patient_ref')
      .select(['v.patient_ref', 'c.birth_date'])
      .where('v.local_hash', '=', localPatientHash(t.keyring, hospital, localId))
      .executeTakeFirst()

  beforeAll(async () => {
    server = await startTestServer(t)
    const { dir } = await generate({ persons: 25, hospitals: 1, seed: 'console-routes', formats: ['ssmix2'] })
    hospital = firstHospital(dir)
    localIds = [
      ...new Set(listFiles(join(dir, hospital, 'ssmix2')).map((p) => p.split('/').at(-4) as string)),
    ]
    const { institution } = await addInstitution(t.db.kysely, {
      code: hospital,
      name: 'コンソール病院',
      noticeStart: '2010-01-01',
    })
    const receive = receiveContext(server.runtime, `institution:${hospital}`)
    const id = await openSubmission(receive, {
      institutionId: institution.id,
      declaredFormat: 'auto',
      channel: 'api',
    })
    const base = join(dir, hospital)
    const files: IncomingFile[] = listFiles(base).map((path) => ({
      path,
      bytes: readFileSync(join(base, path)),
    }))
    await receiveFiles(receive, id, files)
    await sealSubmission(receive, id)
    await processSubmission(coreIntakeContext(server.runtime), id)
    const context = authContext(server.runtime)
    for (const [username, role] of [
      ['c.operator', 'intake_operator'],
      ['c.engineer', 'anonymization_engineer'],
      ['c.officer', 'security_officer'],
      ['c.researcher', 'researcher'],
    ] as const) {
      const { code } = await createAccount(context, { username, roles: [role], actor: 'test' })
      const { secret } = await setUpAccount(context, { username, code, password: 'console-password-1' })
      const { token, csrf } = await signIn(context, {
        username,
        password: 'console-password-1',
        code: generateSync({ secret }),
        source: 'test',
      })
      sessions.set(username, { cookie: `tokumei_session=${token}`, 'x-csrf-token': csrf })
    }
  }, 180_000)

  const call = (
    user: string | undefined,
    method: 'GET' | 'POST',
    url: string,
    payload?: unknown,
    remoteAddress = '127.0.0.1',
  ) =>
    server.app.inject({
      method,
      url,
      remoteAddress,
      headers: user ? (sessions.get(user) ?? {}) : {},
      ...(payload !== undefined ? { payload: payload as object } : {}),
    })

  it("takes a patient's opt-out request sealed, has the core register it, and answers by receipt number alone", async () => {
    const localId = localIds[0] as string
    const patient = await held(localId)
    expect(patient?.birth_date).toBeTruthy()
    const listed = await call(undefined, 'GET', '/api/public/v1/institutions')
    expect(listed.json().institutions).toEqual([{ code: hospital, name: 'コンソール病院' }])

    // Typed as a patient may: full-width digits, surrounded by spaces.
    const sent = await call(undefined, 'POST', '/api/public/v1/optout-requests', {
      institution: hospital,
      patientId: ` ${toFullWidth(localId)} `,
      birthDate: patient?.birth_date,
    })
    expect(sent.statusCode, sent.body).toBe(202)
    const receipt = sent.json().request.receipt as string
    expect(receipt).toMatch(/^OR-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/)
    expect(sent.json().request.status).toBe('received')

    // Stored sealed; the job names the request only.
    const row = await t.db.kysely
      .selectFrom('governance.optout_request')
      .selectAll()
      .where('receipt', '=', receipt)
      .executeTakeFirstOrThrow()
    expect(Buffer.from(row.patient_id_enc).includes(Buffer.from(localId))).toBe(false)
    expect(Buffer.from(row.birth_date_enc).includes(Buffer.from(patient?.birth_date as string))).toBe(false)
    const job = await t.db.kysely
      .selectFrom('jobs.job')
      .select(['payload'])
      .where('kind', '=', 'optout.request')
      .executeTakeFirstOrThrow()
    expect(job.payload).toEqual({ request: row.id })

    // As a person may type the receipt: lower case, without hyphens.
    const asked = await call(
      undefined,
      'GET',
      `/api/public/v1/optout-requests/${receipt.toLowerCase().replaceAll('-', '')}`,
    )
    expect(asked.json().request).toMatchObject({ receipt, status: 'received', doneAt: null })

    await createWorker(server.runtime).run({ untilIdle: true })
    const done = await call(undefined, 'GET', `/api/public/v1/optout-requests/${receipt}`)
    expect(done.json().request).toMatchObject({ receipt, institution: hospital, status: 'registered' })
    expect(await held(localId)).toBeUndefined()
    const registry = await t.db.kysely
      .selectFrom('identity.optout')
      .select(['channel', 'registered_by'])
      .execute()
    expect(registry).toEqual([{ channel: 'portal', registered_by: `optout_request:${row.id}` }])

    // Another patient's ID with a birth date the hospital did not send: held for the institution to confirm.
    const other = localIds[1] as string
    const wrong = await call(undefined, 'POST', '/api/public/v1/optout-requests', {
      institution: hospital,
      patientId: other,
      birthDate: '1901-01-01',
    })
    await createWorker(server.runtime).run({ untilIdle: true })
    const unconfirmed = await call(
      undefined,
      'GET',
      `/api/public/v1/optout-requests/${wrong.json().request.receipt}`,
    )
    expect(unconfirmed.json().request.status).toBe('unconfirmed')
    expect(await held(other)).toBeDefined()

    // Wrong input: one clear answer each, nothing stored.
    const before = await t.db.kysely.selectFrom('governance.optout_request').select('id').execute()
    const refusals = [
      [{ institution: '9999999999', patientId: 'x1', birthDate: '2000-01-01' }, 404, 'institution'],
      [{ institution: hospital, patientId: 'a b', birthDate: '2000-01-01' }, 400, 'optout.bad_patient_id'],
      [{ institution: hospital, patientId: 'x1', birthDate: '2000-13-40' }, 400, 'date'],
      [
        { institution: hospital, patientId: 'x1', birthDate: '2000-01-01', name: '山田' },
        400,
        'request.invalid',
      ],
    ] as const
    for (const [n, [body, status, what]] of refusals.entries()) {
      // Each from its own address: requests are limited per address (below).
      const res = await call(undefined, 'POST', '/api/public/v1/optout-requests', body, `192.0.2.${n + 1}`)
      expect(res.statusCode, res.body).toBe(status)
      expect(JSON.stringify(res.json().error).toLowerCase()).toContain(what.toLowerCase().split('.')[0])
      // The answer never quotes the patient's own input back.
      expect(res.body).not.toContain(body.birthDate)
      expect(res.body).not.toContain(body.patientId)
    }
    expect(await t.db.kysely.selectFrom('governance.optout_request').select('id').execute()).toEqual(before)
    // Five requests a minute from one address, then 429.
    const flood = []
    for (let i = 0; i < 6; i++)
      flood.push(
        (await call(undefined, 'POST', '/api/public/v1/optout-requests', {}, '198.51.100.7')).statusCode,
      )
    expect(flood).toEqual([400, 400, 400, 400, 400, 429])
    const unknown = await call(undefined, 'GET', '/api/public/v1/optout-requests/OR-0000-0000-0000')
    expect(unknown.statusCode).toBe(404)
    expect(unknown.json().error.code).toBe('optout.request_not_found')

    // The patient's ID reached no log line and no audit event.
    const audit = JSON.stringify(await t.db.kysely.selectFrom('audit.event').selectAll().execute())
    for (const text of [server.logs(), audit]) {
      expect(text).not.toContain(localId)
      expect(text).not.toContain(toFullWidth(localId))
    }
  })

  it("shows the core's overview, holdings by month, receipts and the registry with each refusal's reach", async () => {
    const overview = (await call('c.operator', 'GET', '/api/core/v1/overview')).json()
    expect(overview.today).toMatchObject({ submissions: 1, processed: 1 })
    expect(overview.today.files).toBeGreaterThan(20)
    expect(overview.linkage).toEqual({ toReview: 0 })
    expect(overview.jobs).toMatchObject({ queued: 0, running: 0, failed: 0, active: [] })
    expect((await call('c.researcher', 'GET', '/api/core/v1/overview')).statusCode).toBe(403)

    const [institution] = (await call('c.operator', 'GET', '/api/core/v1/institutions')).json().institutions
    expect(institution).toMatchObject({ institution: hospital, submissions: 1 })
    const months = institution.monthly as Array<{ month: string; patients: number; records: number }>
    expect(months.length).toBeGreaterThan(0)
    expect(months.length).toBeLessThanOrEqual(24)
    expect(months.map((m) => m.month)).toEqual([...months.map((m) => m.month)].sort())
    const dated = (institution.categories as Array<{ category: string; records: number }>)
      .filter((c) => c.category !== 'patients' && c.category !== 'allergy')
      .reduce((sum, c) => sum + c.records, 0)
    const charted = months.reduce((sum, m) => sum + m.records, 0)
    expect(charted).toBeGreaterThan(0)
    expect(charted).toBeLessThanOrEqual(dated)
    for (const m of months) expect(m.patients).toBeLessThanOrEqual(25)

    const submissions = (
      await call('c.operator', 'GET', `/api/core/v1/submissions?institution=${hospital}`)
    ).json()
    expect(submissions.submissions).toHaveLength(1)
    expect(submissions.submissions[0].counts.stored).toBeGreaterThan(0)
    expect((await call('c.engineer', 'GET', '/api/core/v1/submissions')).statusCode).toBe(403)

    const registry = (await call('c.officer', 'GET', '/api/core/v1/optouts')).json()
    expect(registry.optouts).toHaveLength(1)
    expect(registry.optouts[0]).toMatchObject({
      channel: 'portal',
      deletedPatients: 1,
      propagation: { intakeStopped: true, storeDeleted: true, releasesBefore: 0, releasesAfter: 0 },
    })
    expect(registry.optouts[0].deletedRecords).toBeGreaterThan(0)
    expect(registry.requests.map((r: { status: string }) => r.status).sort()).toEqual([
      'registered',
      'unconfirmed',
    ])

    // The institution confirms the person of the unconfirmed request: an intake operator registers it.
    const waiting = (registry.requests as Array<{ receipt: string; status: string }>).find(
      (r) => r.status === 'unconfirmed',
    ) as { receipt: string }
    const confirmUrl = `/api/core/v1/optout-requests/${waiting.receipt}/confirm`
    expect((await call('c.engineer', 'POST', confirmUrl)).statusCode).toBe(403)
    const confirmed = await call('c.operator', 'POST', confirmUrl)
    expect(confirmed.statusCode, confirmed.body).toBe(200)
    expect(confirmed.json().request.status).toBe('registered')
    expect(await held(localIds[1] as string)).toBeUndefined()
    expect((await call('c.operator', 'POST', confirmUrl)).json().error.code).toBe('optout.not_unconfirmed')
    const events = await t.db.kysely
      .selectFrom('audit.event')
      .select(['actor', 'action'])
      .where('action', 'in', ['optout.request_registered', 'optout.registered'])
      .where('actor', '=', 'account:c.operator')
      .orderBy('seq')
      .execute()
    expect(events.map((e) => e.action)).toEqual(['optout.registered', 'optout.request_registered'])
    const after = (await call('c.officer', 'GET', '/api/core/v1/optouts')).json()
    expect(after.optouts).toHaveLength(2)
    expect(after.requests.map((r: { status: string }) => r.status)).toEqual(['registered', 'registered'])
  })

  it('counts a cohort for the release builder as the build would, and audits the count', async () => {
    const res = await call('c.engineer', 'POST', '/api/core/v1/cohort-count', { cohort: { sex: ['F'] } })
    expect(res.statusCode, res.body).toBe(200)
    // Patients are persons only once linked: none are yet, so the cohort is empty — as a build's would be.
    const expected = await selectCohort(t.db.kysely, { sex: ['F'] })
    expect(res.json().persons).toBe(expected.persons.size)
    const bad = await call('c.engineer', 'POST', '/api/core/v1/cohort-count', { cohort: { sex: ['X'] } })
    expect(bad.statusCode).toBe(400)
    expect(bad.json().error.message).toContain('sex')
    expect((await call('c.operator', 'POST', '/api/core/v1/cohort-count', { cohort: {} })).statusCode).toBe(
      403,
    )
    const counted = await t.db.kysely
      .selectFrom('audit.event')
      .select(['actor'])
      .where('action', '=', 'cohort.counted')
      .execute()
    expect(counted).toEqual([{ actor: 'account:c.engineer' }])
  })

  it('searches the audit log by prefix and outcome, newest first, and audits the search', async () => {
    const res = await call('c.officer', 'GET', '/api/portal/v1/audit?action=optout.&limit=50')
    expect(res.statusCode, res.body).toBe(200)
    const events = res.json().events as Array<{ seq: number; action: string }>
    expect(events.length).toBeGreaterThanOrEqual(3)
    for (const e of events) expect(e.action.startsWith('optout.')).toBe(true)
    expect(events.map((e) => e.seq)).toEqual([...events.map((e) => e.seq)].sort((a, b) => b - a))
    // A LIKE wildcard in the search is a plain character.
    expect((await call('c.officer', 'GET', '/api/portal/v1/audit?action=%25')).json().events).toEqual([])
    const denied = (await call('c.officer', 'GET', '/api/portal/v1/audit?outcome=denied')).json().events
    for (const e of denied) expect(e.outcome).toBe('denied')
    expect((await call('c.engineer', 'GET', '/api/portal/v1/audit')).statusCode).toBe(403)
    const searched = await t.db.kysely
      .selectFrom('audit.event')
      .select(['actor', 'detail'])
      .where('action', '=', 'audit.searched')
      .orderBy('seq')
      .executeTakeFirstOrThrow()
    expect(searched).toEqual({ actor: 'account:c.officer', detail: { action: 'optout.' } })
  })

  it("serves the console's page and its files, and nothing else under /assets", async () => {
    const page = await server.app.inject({ method: 'GET', url: '/' })
    expect(page.statusCode).toBe(200)
    expect(page.headers['content-type']).toContain('text/html')
    expect(page.body).toContain('<div id="root"></div>')
    // No inline script or style may run on the console's page.
    const csp = String(page.headers['content-security-policy'])
    expect(csp).toContain("script-src 'self'")
    expect(csp).not.toContain('unsafe-inline')
    expect(csp).toContain("frame-ancestors 'none'")
    const script = /src="(\/assets\/[^"]+\.js)"/.exec(page.body)?.[1] as string
    const asset = await server.app.inject({ method: 'GET', url: script })
    expect(asset.statusCode).toBe(200)
    expect(asset.headers['cache-control']).toContain('immutable')
    for (const url of ['/assets/..%2Fpackage.json', '/assets/missing.js', '/assets/'])
      expect((await server.app.inject({ method: 'GET', url })).statusCode, url).toBe(404)
  })

  it('lets an officer block an account at once: its sessions end; the same subject twice, oneself or a bad one is refused', async () => {
    expect((await call('c.researcher', 'GET', '/api/portal/v1/projects')).statusCode).toBe(200)
    const blocked = await call('c.officer', 'POST', '/api/portal/v1/blocks', {
      subject: 'account:c.researcher',
      reason: 'unusual downloads at night',
    })
    expect(blocked.statusCode, blocked.body).toBe(201)
    const after = await call('c.researcher', 'GET', '/api/portal/v1/projects')
    expect(after.statusCode).toBe(401)
    const alerts = (await call('c.officer', 'GET', '/api/portal/v1/alerts')).json().alerts
    expect(alerts[0]).toMatchObject({
      rule: 'manual',
      subject: 'account:c.researcher',
      block: { id: blocked.json().block.id, state: 'active' },
    })
    expect(alerts[0].message).toContain('account:c.officer')
    const again = await call('c.officer', 'POST', '/api/portal/v1/blocks', {
      subject: 'account:c.researcher',
      reason: 'x',
    })
    expect(again.json().error.code).toBe('block.exists')
    const self = await call('c.officer', 'POST', '/api/portal/v1/blocks', {
      subject: 'account:c.officer',
      reason: 'x',
    })
    expect(self.json().error.code).toBe('block.self')
    for (const subject of ['c.researcher', 'source:not-an-ip', 'role:admin'])
      expect(
        (await call('c.officer', 'POST', '/api/portal/v1/blocks', { subject, reason: 'x' })).json().error
          .code,
      ).toBe('block.bad_subject')
    const audited = await t.db.kysely
      .selectFrom('audit.event')
      .select(['actor', 'target'])
      .where('action', '=', 'block.manual')
      .execute()
    expect(audited).toEqual([{ actor: 'account:c.officer', target: 'account:c.researcher' }])
  })
})
