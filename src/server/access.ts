import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify'
import { TokumeiError } from '../model/index.js'
import type { Runtime } from '../runtime/index.js'
import { AGENCY_ROLES, type AgencyRole, type Session } from '../security/index.js'
import { requestSession } from './routes/auth.js'

/**
 * Who may call a route, declared on the route itself (`config: { access }`) and enforced here for
 * every request. A route without a declaration stops the server from starting, so no route can be
 * added and forgotten. The authorization matrix test checks every route of the OpenAPI document
 * against every role.
 *
 * - `public`: anyone (probes, sign-in, the API description).
 * - `institution`: an institution's API key (the gateway's own hook checks it).
 * - `{ roles }`: a staff session holding one of the roles (`'any'`: any signed-in agency account);
 *   state-changing methods also need the session's CSRF token.
 */
export type Access = 'public' | 'institution' | { readonly roles: readonly AgencyRole[] | 'any' }

declare module 'fastify' {
  interface FastifyContextConfig {
    access?: Access
  }
  interface FastifyRequest {
    session?: Session
  }
}

/** Routes the API documentation plugins add on their own. */
const DOCUMENTATION = /^\/(docs|openapi\.json)(\/|$)/

export function accessOf(route: Pick<RouteOptions, 'url' | 'config'>): Access | undefined {
  const declared = (route.config as { access?: Access } | undefined)?.access
  if (declared) return declared
  return DOCUMENTATION.test(route.url) ? 'public' : undefined
}

/** Registers the declaration check (at route registration) and the enforcement (per request). */
export function enforceAccess(app: FastifyInstance, runtime: Runtime): void {
  app.addHook('onRoute', (route) => {
    if (!accessOf(route))
      throw new Error(`Route ${String(route.method)} ${route.url} declares no access (config.access).`)
  })
  // onRequest: a caller without the right is turned away before its body is even read.
  app.addHook('onRequest', async (request: FastifyRequest) => {
    const access = request.routeOptions.config.access ?? 'public'
    if (access === 'public' || access === 'institution') return
    const session = await requestSession(runtime, request)
    const allowed = access.roles === 'any' ? AGENCY_ROLES : access.roles
    if (!session.account.roles.some((role) => allowed.includes(role))) {
      await runtime.audit({
        actor: `account:${session.account.username}`,
        action: 'access.denied',
        target: request.routeOptions.url ?? null,
        outcome: 'denied',
        detail: { method: request.method, roles: session.account.roles.join(',') },
      })
      throw new TokumeiError(`This needs one of the roles ${allowed.join(', ')}.`, {
        code: 'auth.forbidden',
        kind: 'forbidden',
      })
    }
    request.session = session
  })
}
