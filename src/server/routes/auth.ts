import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { authContext, type Runtime } from '../../runtime/index.js'
import { authenticateSession, type Session, setUpAccount, signIn, signOut } from '../../security/index.js'

/**
 * Sign-in for the agency's staff (portal zone): password and TOTP code give a session cookie
 * (HttpOnly, Secure, SameSite=Strict) and a CSRF token that the page sends back in `x-csrf-token` with
 * every state-changing request. Bodies are strict: unknown fields are refused, nothing is logged.
 */
export const SESSION_COOKIE = 'tokumei_session'
export const CSRF_HEADER = 'x-csrf-token'

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

/** The session of a request: the cookie, and for a state-changing method the CSRF header too. */
export async function requestSession(runtime: Runtime, request: FastifyRequest): Promise<Session> {
  const header = request.headers[CSRF_HEADER]
  return authenticateSession(authContext(runtime), request.cookies[SESSION_COOKIE], {
    requireCsrf: !SAFE_METHODS.has(request.method),
    csrf: typeof header === 'string' ? header : undefined,
  })
}

const credentials = {
  type: 'object',
  required: ['username', 'password', 'code'],
  additionalProperties: false,
  properties: {
    username: { type: 'string', minLength: 1, maxLength: 64 },
    password: { type: 'string', minLength: 1, maxLength: 1024 },
    code: { type: 'string', minLength: 1, maxLength: 16 },
  },
} as const

const setup = {
  type: 'object',
  required: ['username', 'code', 'password'],
  additionalProperties: false,
  properties: {
    username: { type: 'string', minLength: 1, maxLength: 64 },
    code: { type: 'string', minLength: 1, maxLength: 64 },
    password: { type: 'string', minLength: 1, maxLength: 1024 },
  },
} as const

const accountView = (session: Session) => ({
  username: session.account.username,
  roles: session.account.roles,
  expiresAt: session.expiresAt.toISOString(),
})

function setSessionCookie(reply: FastifyReply, value: string, expires: Date): void {
  reply.setCookie(SESSION_COOKIE, value, {
    httpOnly: true,
    secure: true,
    sameSite: 'strict',
    path: '/',
    expires,
  })
}

export const authRoutes: FastifyPluginAsync<{ runtime: Runtime }> = async (app, { runtime }) => {
  // Sign-in and setup attempts per client address: enough for people, too few for guessing.
  const ATTEMPTS = { max: runtime.config.auth.signInsPerMinute, timeWindow: '1 minute' }
  app.post(
    '/login',
    {
      config: { access: 'public', rateLimit: ATTEMPTS },
      schema: { tags: ['auth'], summary: 'Sign in with password and TOTP code', body: credentials },
    },
    async (request, reply) => {
      const body = request.body as { username: string; password: string; code: string }
      const { token, csrf, session } = await signIn(authContext(runtime), { ...body, source: request.ip })
      setSessionCookie(reply, token, session.expiresAt)
      return { account: accountView(session), csrf }
    },
  )

  app.post(
    '/logout',
    {
      config: { access: { roles: 'any' } },
      schema: { tags: ['auth'], summary: 'End the session (needs the CSRF header)' },
    },
    async (request, reply) => {
      await signOut(authContext(runtime), request.session as Session)
      setSessionCookie(reply, '', new Date(0))
      return { ok: true }
    },
  )

  app.get(
    '/session',
    { config: { access: { roles: 'any' } }, schema: { tags: ['auth'], summary: 'Who is signed in' } },
    async (request) => ({ account: accountView(request.session as Session) }),
  )

  app.post(
    '/setup',
    {
      config: { access: 'public', rateLimit: ATTEMPTS },
      schema: {
        tags: ['auth'],
        summary: 'Set the password and get the TOTP secret with a one-time code',
        body: setup,
      },
    },
    async (request) => {
      const body = request.body as { username: string; code: string; password: string }
      return setUpAccount(authContext(runtime), body)
    },
  )
}
