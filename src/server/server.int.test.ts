import type { FastifyInstance } from 'fastify'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeEachDialect } from '../../test/support/database.js'
import { startTestServer } from '../../test/support/server.js'
import { TokumeiError } from '../model/index.js'
import type { Runtime } from '../runtime/index.js'

const CANARIES = ['山田太郎', 'ヤマダタロウ', '090-1234-5678', '東京都千代田区千代田1-1', 'P0012345']

describeEachDialect('HTTP server', (t) => {
  let app: FastifyInstance
  let runtime: Runtime
  let logs: () => string

  beforeAll(async () => {
    const server = await startTestServer(t, {
      // Routes a later issue would add, to exercise the shared error mapping.
      routes: (app) => {
        app.get('/test/forbidden', { config: { access: 'public' } }, async () => {
          throw new TokumeiError('Only reviewers may see this.', {
            code: 'auth.forbidden',
            kind: 'forbidden',
          })
        })
        app.get('/test/crash', { config: { access: 'public' } }, async () => {
          throw new Error(`unexpected ${CANARIES.join(' ')}`)
        })
        app.post(
          '/test/echo',
          {
            config: { access: 'public' },
            schema: { body: { type: 'object', required: ['n'], properties: { n: { type: 'integer' } } } },
          },
          async () => ({
            ok: true,
          }),
        )
      },
    })
    app = server.app
    runtime = server.runtime
    logs = server.logs
  })

  afterAll(async () => {
    await app?.close()
  })

  it('answers /healthz with the version and zone', async () => {
    const res = await app.inject({ method: 'GET', url: '/healthz' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({
      status: 'ok',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      zone: 'all',
    })
  })

  it('answers /readyz after a database round trip', async () => {
    const res = await app.inject({ method: 'GET', url: '/readyz' })
    expect(res.statusCode).toBe(200)
    expect(res.json()).toEqual({ status: 'ready', database: t.db.dialect })
  })

  it('sends security headers and a request id on every response', async () => {
    const res = await app.inject({ method: 'GET', url: '/healthz' })
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'")
    expect(res.headers['x-content-type-options']).toBe('nosniff')
    expect(res.headers['strict-transport-security']).toContain('max-age=')
    expect(res.headers['referrer-policy']).toBe('no-referrer')
    expect(res.headers['cache-control']).toBe('no-store')
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
    const given = await app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': 'trace-0123456789' },
    })
    expect(given.headers['x-request-id']).toBe('trace-0123456789')
    const hostile = await app.inject({
      method: 'GET',
      url: '/healthz',
      headers: { 'x-request-id': '<script>山田' },
    })
    expect(hostile.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/)
  })

  it('publishes the OpenAPI document and a docs page', async () => {
    const doc = await app.inject({ method: 'GET', url: '/openapi.json' })
    expect(doc.statusCode).toBe(200)
    expect(doc.json().openapi).toBe('3.1.0')
    expect(Object.keys(doc.json().paths)).toEqual(expect.arrayContaining(['/healthz', '/readyz']))
    const docs = await app.inject({ method: 'GET', url: '/docs/' })
    expect(docs.statusCode).toBe(200)
    expect(docs.body).toContain('swagger')
  })

  it('maps a TokumeiError to its status with one sentence', async () => {
    const res = await app.inject({ method: 'GET', url: '/test/forbidden' })
    expect(res.statusCode).toBe(403)
    expect(res.json().error).toMatchObject({
      code: 'auth.forbidden',
      message: 'Only reviewers may see this.',
    })
  })

  it('answers 400 for an invalid body and 404 as JSON for an unknown route', async () => {
    const bad = await app.inject({ method: 'POST', url: '/test/echo', payload: { n: 'x' } })
    expect(bad.statusCode).toBe(400)
    expect(bad.json().error.code).toBe('request.invalid')
    const missing = await app.inject({ method: 'GET', url: '/nowhere' })
    expect(missing.statusCode).toBe(404)
    expect(missing.json().error.code).toBe('route.not_found')
  })

  it('never lets personal data reach a response or a log line', async () => {
    const crash = await app.inject({ method: 'GET', url: '/test/crash' })
    expect(crash.statusCode).toBe(500)
    await app.inject({
      method: 'POST',
      url: `/test/echo?name=${encodeURIComponent(CANARIES[0] as string)}&phone=${CANARIES[2]}`,
      payload: { n: 1, name: CANARIES[0], kana: CANARIES[1], address: CANARIES[3], patient_id: CANARIES[4] },
      headers: { 'x-patient': encodeURIComponent(CANARIES[4] as string) },
    })
    const everything = `${crash.body}\n${logs()}`
    expect(logs()).toContain('"route":"/test/echo"')
    for (const canary of CANARIES) {
      expect(everything).not.toContain(canary)
      expect(everything).not.toContain(encodeURIComponent(canary))
    }
  })

  it('reports unavailable from /readyz once the database is gone', async () => {
    await runtime.db.close()
    const res = await app.inject({ method: 'GET', url: '/readyz' })
    expect(res.statusCode).toBe(503)
    expect(res.json().status).toBe('unavailable')
  })
})
