import { generateSync } from 'otplib'
import { beforeAll, expect, it } from 'vitest'
import { addInstitution } from '../src/intake/index.js'
import { authContext } from '../src/runtime/index.js'
import { AGENCY_ROLES, createAccount, setUpAccount, signIn } from '../src/security/index.js'
import { describeEachDialect } from './support/database.js'
import { startTestServer, type TestServer } from './support/server.js'

/**
 * Every route of the OpenAPI document × every kind of caller: no credential, an institution's API
 * key, and a session of each agency role. The expected cells are written out here, independently of
 * the routes' own declarations; a route missing from this table fails the test.
 */
type Principal = 'anonymous' | 'institution' | (typeof AGENCY_ROLES)[number]
const STAFF = AGENCY_ROLES
const EVERYONE: readonly Principal[] = ['anonymous', 'institution', ...STAFF]
const OFFICERS: readonly Principal[] = ['admin', 'security_officer']
/** The agency's own people: every role but the researcher's. */
const AGENCY: readonly Principal[] = STAFF.filter((r) => r !== 'researcher')
const INTAKE: readonly Principal[] = ['admin', 'intake_operator', 'security_officer']
const BUILDERS: readonly Principal[] = ['admin', 'anonymization_engineer']

const EXPECTED: Readonly<Record<string, readonly Principal[]>> = {
  'GET /healthz': EVERYONE,
  'GET /readyz': EVERYONE,
  'POST /api/gateway/v1/submissions': ['institution'],
  'PUT /api/gateway/v1/submissions/{id}/files': ['institution'],
  'GET /api/gateway/v1/submissions/{id}/files': ['institution'],
  'PUT /api/gateway/v1/submissions/{id}/archive': ['institution'],
  'POST /api/gateway/v1/submissions/{id}/seal': ['institution'],
  'GET /api/gateway/v1/submissions': ['institution'],
  'GET /api/gateway/v1/submissions/{id}': ['institution'],
  'GET /api/gateway/v1/holdings': ['institution'],
  'POST /api/auth/v1/login': EVERYONE,
  'POST /api/auth/v1/setup': EVERYONE,
  'GET /api/auth/v1/session': STAFF,
  'POST /api/auth/v1/logout': STAFF,
  'GET /api/portal/v1/alerts': OFFICERS,
  'GET /api/portal/v1/audit': OFFICERS,
  'GET /api/portal/v1/blocks': OFFICERS,
  'POST /api/portal/v1/blocks': OFFICERS,
  'POST /api/portal/v1/blocks/{id}/lift': OFFICERS,
  'GET /api/portal/v1/approvals': OFFICERS,
  'POST /api/portal/v1/approvals/{id}/approve': OFFICERS,
  'POST /api/portal/v1/approvals/{id}/cancel': OFFICERS,
  'GET /api/portal/v1/projects': ['admin', 'reviewer', 'anonymization_engineer', 'researcher'],
  'POST /api/portal/v1/projects': ['admin', 'researcher'],
  'GET /api/portal/v1/projects/{code}': ['admin', 'reviewer', 'anonymization_engineer', 'researcher'],
  'POST /api/portal/v1/projects/{code}/contract': ['admin'],
  'POST /api/portal/v1/projects/{code}/reviews': ['reviewer'],
  'POST /api/portal/v1/projects/{code}/publication-checks': ['admin', 'reviewer', 'researcher'],
  'POST /api/portal/v1/projects/{code}/releases': ['admin', 'anonymization_engineer'],
  'POST /api/portal/v1/projects/{code}/statistics': ['admin', 'anonymization_engineer'],
  'GET /api/portal/v1/jobs/{id}': ['admin', 'anonymization_engineer', 'reviewer'],
  'GET /api/portal/v1/releases': ['admin', 'anonymization_engineer', 'reviewer'],
  'GET /api/portal/v1/releases/{id}': ['admin', 'anonymization_engineer', 'reviewer'],
  'POST /api/portal/v1/releases/{id}/deliveries': BUILDERS,
  'GET /api/portal/v1/deliveries': ['admin', 'anonymization_engineer', 'researcher'],
  'GET /api/portal/v1/policies': BUILDERS,
  'GET /api/public/v1/institutions': EVERYONE,
  'POST /api/public/v1/optout-requests': EVERYONE,
  'GET /api/public/v1/optout-requests/{receipt}': EVERYONE,
  'GET /api/portal/v1/downloads/{token}': EVERYONE,
  'GET /api/core/v1/link/pairs': ['linkage_reviewer'],
  'GET /api/core/v1/link/pairs/{a}/{b}': ['linkage_reviewer'],
  'POST /api/core/v1/link/pairs/{a}/{b}/accept': ['linkage_reviewer'],
  'POST /api/core/v1/link/pairs/{a}/{b}/reject': ['linkage_reviewer'],
  'GET /api/core/v1/overview': AGENCY,
  'GET /api/core/v1/institutions': AGENCY,
  'GET /api/core/v1/submissions': INTAKE,
  'GET /api/core/v1/optouts': INTAKE,
  'POST /api/core/v1/optout-requests/{receipt}/confirm': ['admin', 'intake_operator'],
  'POST /api/core/v1/cohort-count': BUILDERS,
}

/** The answers of the access checks (a handler's own 401, e.g. a wrong password, is not one). */
const DENIALS = ['auth.session', 'auth.forbidden', 'auth.csrf', 'auth.bad_api_key']

/** A request that is well-formed enough to reach the handler when the caller is allowed. */
function requestFor(method: string, path: string, submission: number) {
  const url = path
    .replace('{id}', String(submission))
    .replace('{a}', '1')
    .replace('{b}', '2')
    .replace('{code}', 'P-2026-0001')
    .replace('{token}', 'not-a-delivery')
    .replace('{receipt}', 'OR-0000-0000-0000')
  if (path.endsWith('/files'))
    return {
      url: `${url}?path=ssmix2%2Fnote.txt`,
      headers: { 'content-type': 'application/octet-stream' },
      payload: method === 'PUT' ? Buffer.from('x') : undefined,
    }
  if (path.endsWith('/archive'))
    return { url, headers: { 'content-type': 'application/x-tar' }, payload: Buffer.alloc(1024) }
  if (path.endsWith('/login') || path.endsWith('/setup'))
    return { url, payload: { username: 'nobody.here', password: 'x', code: '123456' } }
  if (method === 'POST' && path.endsWith('/submissions')) return { url, payload: {} }
  if (path.endsWith('/approve')) return { url, payload: { code: '123456' } }
  return { url, payload: undefined }
}

describeEachDialect('authorization matrix', (t) => {
  let server: TestServer
  const credentials = new Map<Principal, Record<string, string>>()
  let submission = 0

  beforeAll(async () => {
    server = await startTestServer(t, {
      // A route for one role only, hidden from the API description (so not in the matrix above).
      routes: (app) =>
        app.get(
          '/test/officers-only',
          { config: { access: { roles: ['security_officer'] } }, schema: { hide: true } },
          async () => ({ ok: true }),
        ),
    })
    const { key } = await addInstitution(t.db.kysely, {
      code: '1310000001',
      name: '行列病院',
      noticeStart: '2020-01-01',
    })
    credentials.set('anonymous', {})
    credentials.set('institution', { authorization: `Bearer ${key.apiKey}` })
    const opened = await server.app.inject({
      method: 'POST',
      url: '/api/gateway/v1/submissions',
      headers: { authorization: `Bearer ${key.apiKey}` },
      payload: {},
    })
    submission = opened.json().id
    const context = authContext(server.runtime)
    for (const role of STAFF) {
      const username = `m.${role.replaceAll('_', '-')}`
      const { code } = await createAccount(context, { username, roles: [role], actor: 'test' })
      const { secret } = await setUpAccount(context, { username, code, password: 'matrix-password-1' })
      const { token, csrf } = await signIn(context, {
        username,
        password: 'matrix-password-1',
        code: generateSync({ secret }),
        source: 'test',
      })
      credentials.set(role, { cookie: `tokumei_session=${token}`, 'x-csrf-token': csrf })
    }
  })

  it('covers every route of the OpenAPI document', async () => {
    const doc = (await server.app.inject({ method: 'GET', url: '/openapi.json' })).json() as {
      paths: Record<string, Record<string, unknown>>
    }
    const routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
      Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`),
    )
    expect(routes.sort()).toEqual(Object.keys(EXPECTED).sort())
  })

  it('refuses a role the route does not name with 403, and records the refusal', async () => {
    const get = (principal: Principal) =>
      server.app.inject({ method: 'GET', url: '/test/officers-only', headers: credentials.get(principal) })
    expect((await get('security_officer')).statusCode).toBe(200)
    const refused = await get('intake_operator')
    expect(refused.statusCode).toBe(403)
    expect(refused.json().error.code).toBe('auth.forbidden')
    expect((await get('anonymous')).statusCode).toBe(401)
    const denied = await t.db.kysely
      .selectFrom('audit.event')
      .select(['actor', 'target', 'outcome'])
      .where('action', '=', 'access.denied')
      .execute()
    expect(denied).toEqual([
      { actor: 'account:m.intake-operator', target: '/test/officers-only', outcome: 'denied' },
    ])
  })

  it('allows and denies each cell as expected', async () => {
    const cells: string[] = []
    // Sign-out last: it ends the session the later cells would use.
    const routes = Object.keys(EXPECTED).sort(
      (a, b) => Number(a.endsWith('/logout')) - Number(b.endsWith('/logout')),
    )
    for (const route of routes) {
      const [method, path] = route.split(' ') as [string, string]
      for (const principal of EVERYONE) {
        const request = requestFor(method, path, submission)
        const res = await server.app.inject({
          method: method as 'GET',
          url: request.url,
          headers: { ...request.headers, ...credentials.get(principal) },
          ...(request.payload !== undefined ? { payload: request.payload } : {}),
        })
        const allowed = (EXPECTED[route] as readonly Principal[]).includes(principal)
        const denied =
          (res.statusCode === 401 || res.statusCode === 403) && DENIALS.includes(res.json().error?.code)
        // An allowed caller reaches the handler (its answer may still be a 4xx about the input).
        if (allowed === denied || res.statusCode >= 500)
          cells.push(`${route} as ${principal}: ${res.statusCode}`)
      }
    }
    expect(cells).toEqual([])
  })
})
