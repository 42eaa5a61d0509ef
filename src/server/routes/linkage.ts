import type { FastifyPluginAsync } from 'fastify'
import { decidePair, pairsToReview, viewPair } from '../../identity/index.js'
import type { Runtime } from '../../runtime/index.js'
import type { Session } from '../../security/index.js'

/**
 * The linkage review queue (core zone): the pairs the model was unsure of, one pair side by side
 * with both patients' identities, and the reviewer's final decision. The core zone serves the
 * agency's closed network only (the reviewers' terminals on site), since this is the one view that
 * shows personal data; it is for linkage reviewers alone, and every showing is audited.
 */
const REVIEWERS = { roles: ['linkage_reviewer'] } as const

const pairParams = {
  type: 'object',
  required: ['a', 'b'],
  additionalProperties: false,
  properties: { a: { type: 'integer', minimum: 1 }, b: { type: 'integer', minimum: 1 } },
} as const

const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 } },
} as const

export const linkageRoutes: FastifyPluginAsync<{ runtime: Runtime }> = async (app, { runtime }) => {
  const context = (session: Session) => ({
    db: runtime.db.kysely,
    keyring: runtime.keyring,
    actor: `account:${session.account.username}`,
  })

  app.get(
    '/link/pairs',
    {
      config: { access: REVIEWERS },
      schema: {
        tags: ['linkage'],
        summary: 'Pairs waiting for review, strongest first (refs, weights, per-field agreement; no names)',
        querystring: listQuery,
      },
    },
    async (request) => {
      const { limit } = request.query as { limit: number }
      return { pairs: await pairsToReview(runtime.db.kysely, limit) }
    },
  )

  app.get(
    '/link/pairs/:a/:b',
    {
      config: { access: REVIEWERS },
      schema: {
        tags: ['linkage'],
        summary: "A pair side by side with both patients' identities (audited)",
        params: pairParams,
      },
    },
    async (request) => {
      const { a, b } = request.params as { a: number; b: number }
      return { pair: await viewPair(context(request.session as Session), { a, b }) }
    },
  )

  for (const decision of ['accept', 'reject'] as const)
    app.post(
      `/link/pairs/:a/:b/${decision}`,
      {
        config: { access: REVIEWERS },
        schema: {
          tags: ['linkage'],
          summary: `${decision === 'accept' ? 'Accept' : 'Reject'} a pair: final, and binding on every later run`,
          params: pairParams,
        },
      },
      async (request) => {
        const { a, b } = request.params as { a: number; b: number }
        await decidePair(context(request.session as Session), {
          a,
          b,
          decision: decision === 'accept' ? 'accepted' : 'rejected',
        })
        return {
          a: Math.min(a, b),
          b: Math.max(a, b),
          state: decision === 'accept' ? 'accepted' : 'rejected',
        }
      },
    )
}
